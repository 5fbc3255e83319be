package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/omni-orchestrator/omni/journey"
)

// ErrWrongStatus is a control the campaign's status does not allow.
var ErrWrongStatus = errors.New("the campaign's status does not allow this")

// Control is one pause, resume or cancel of a campaign, and how far it
// has reached through the campaign's journeys.
type Control struct {
	ID         string     `json:"id" db:"id"`
	CampaignID string     `json:"campaign_id" db:"campaign_id"`
	Action     string     `json:"action" db:"action"`
	Seq        int64      `json:"-" db:"seq"`
	Status     string     `json:"status" db:"status"`
	Journeys   int        `json:"journeys" db:"journeys"`
	Finished   int        `json:"already_finished" db:"finished"`
	CreatedAt  time.Time  `json:"created_at" db:"created_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty" db:"finished_at"`
	// RunID is the control workflow's run, once it is known to have started.
	RunID string `json:"run_id,omitempty" db:"run_id"`
}

const controlColumns = `id, campaign_id, action, seq, status, journeys, finished, created_at, finished_at, coalesce(run_id, '') AS run_id`

// StartedControl records that a control's workflow runs.
func (s *Store) StartedControl(ctx context.Context, id, runID string) error {
	_, err := s.db.Exec(ctx, `UPDATE campaign_controls SET run_id = $2 WHERE id = $1`, id, runID)
	return err
}

// UnstartedControls lists running controls created at least olderThan ago
// whose workflow is not known to have started.
func (s *Store) UnstartedControls(ctx context.Context, olderThan time.Duration) ([]Control, error) {
	rows, _ := s.db.Query(ctx, `SELECT `+controlColumns+` FROM campaign_controls
WHERE run_id IS NULL AND status = 'running' AND created_at < now() - make_interval(secs => $1) ORDER BY seq`, olderThan.Seconds())
	return pgx.CollectRows(rows, pgx.RowToStructByName[Control])
}

// controlFrom is the status each control needs the campaign in.
var controlFrom = map[string]struct{ from, to string }{
	journey.Pause:  {CampaignActive, CampaignPaused},
	journey.Resume: {CampaignPaused, CampaignActive},
	journey.Cancel: {"", CampaignCancelled},
}

// StartControl moves the campaign to the action's status and records the
// control that will carry it to the journeys. ErrNotFound for an unknown
// campaign, ErrWrongStatus when the status does not allow the action
// (pause an active campaign, resume a paused one, cancel any not cancelled).
func (s *Store) StartControl(ctx context.Context, campaignID, action string) (Control, error) {
	move, ok := controlFrom[action]
	if !ok {
		return Control{}, errors.New("unknown control " + action)
	}
	var c Control
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockCampaign(ctx, tx, campaignID); err != nil {
			return err
		}
		var status string
		err := tx.QueryRow(ctx, `SELECT status FROM campaigns WHERE id = $1 ORDER BY version DESC LIMIT 1`, campaignID).Scan(&status)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return ErrNotFound
		case err != nil:
			return err
		case status == CampaignCancelled || move.from != "" && status != move.from:
			return ErrWrongStatus
		}
		if _, err := tx.Exec(ctx, `UPDATE campaigns SET status = $2 WHERE id = $1`, campaignID, move.to); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `INSERT INTO campaign_controls (id, campaign_id, action, seq)
VALUES ($1, $2, $3, nextval('campaign_control_seq')) RETURNING `+controlColumns,
			"control:"+campaignID+":"+action+":"+uuid.NewString(), campaignID, action)
		c, err = collectOne(rows, pgx.RowToStructByName[Control])
		return err
	})
	return c, err
}

// UpdateControl records a control's progress; done marks it finished.
func (s *Store) UpdateControl(ctx context.Context, id string, journeys, finished int, done bool) error {
	_, err := s.db.Exec(ctx, `UPDATE campaign_controls SET journeys = $2, finished = $3,
	status = CASE WHEN $4 THEN 'finished' ELSE status END,
	finished_at = CASE WHEN $4 THEN now() ELSE finished_at END
WHERE id = $1`, id, journeys, finished, done)
	return err
}

// Controls lists a campaign's controls, newest first.
func (s *Store) Controls(ctx context.Context, campaignID string) ([]Control, error) {
	rows, _ := s.db.Query(ctx, `SELECT `+controlColumns+` FROM campaign_controls WHERE campaign_id = $1 ORDER BY seq DESC LIMIT 20`, campaignID)
	return pgx.CollectRows(rows, pgx.RowToStructByName[Control])
}

// LatestControl returns the campaign's latest control, or ErrNotFound.
func (s *Store) LatestControl(ctx context.Context, campaignID string) (Control, error) {
	rows, _ := s.db.Query(ctx, `SELECT `+controlColumns+` FROM campaign_controls WHERE campaign_id = $1 ORDER BY seq DESC LIMIT 1`, campaignID)
	return collectOne(rows, pgx.RowToStructByName[Control])
}
