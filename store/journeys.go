package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/journey"
)

// Journey is the read model of one customer's path through a campaign.
type Journey struct {
	WorkflowID  string     `json:"workflow_id" db:"workflow_id"`
	CampaignID  string     `json:"campaign_id" db:"campaign_id"`
	Version     int        `json:"version" db:"version"`
	CustomerID  string     `json:"customer_id" db:"customer_id"`
	Status      string     `json:"status" db:"status"`
	CurrentStep string     `json:"current_step" db:"current_step"`
	Variant     string     `json:"variant,omitempty" db:"variant"`
	ExitReason  string     `json:"exit_reason,omitempty" db:"exit_reason"`
	StartedAt   time.Time  `json:"started_at" db:"started_at"`
	ConvertedAt *time.Time `json:"converted_at,omitempty" db:"converted_at"`
	EndedAt     *time.Time `json:"ended_at,omitempty" db:"ended_at"`
	// Data is the enrolment's data, which its templates see.
	Data map[string]any `json:"data,omitempty" db:"data"`
	// LaunchID is the launch that enrolled the customer, if one did.
	LaunchID string `json:"launch_id,omitempty" db:"launch_id"`
	// RunID is the journey's workflow run, once it is known to have
	// started.
	RunID string `json:"run_id,omitempty" db:"run_id"`
	// Instance numbers the customer's journeys through the campaign, from
	// 1 (journey.InstanceID); EntryKey is the entry key's value that names
	// it, Event the event that entered it.
	Instance int            `json:"instance" db:"instance"`
	EntryKey string         `json:"entry_key,omitempty" db:"entry_key"`
	Event    *journey.Event `json:"event,omitempty" db:"event"`
}

const journeyColumns = `workflow_id, campaign_id, version, customer_id, status, current_step,
	coalesce(variant, '') AS variant, coalesce(exit_reason, '') AS exit_reason, started_at, converted_at, ended_at,
	data, coalesce(launch_id, '') AS launch_id, coalesce(run_id, '') AS run_id, instance, coalesce(entry_key, '') AS entry_key, event`

// Entrance is a customer asking to enter a campaign version: for a
// launch, by an event, or by a call.
type Entrance struct {
	CampaignID string
	Version    int
	CustomerID string
	StartAt    string
	Rule       campaign.Entry
	// Key is the value of the rule's key in the event: it names the
	// journey.
	Key      string
	Data     map[string]any
	Event    *journey.Event
	LaunchID string
}

// Why an entrance is refused.
const (
	RefusedCooldown   = "cooldown"    // the customer entered less than entry.cooldown ago
	RefusedMaxEntries = "max_entries" // the customer entered entry.max times
)

// Enter decides, under a lock of the customer in the campaign, whether the
// customer enters again, by the entry rule and the journeys they had: it
// records the new journey and returns it with created; or it returns the
// journey they are in (created false, refused ""), or why they may not
// enter (refused). The same entrance asked again (by the launch or the
// event that made it) finds its journey, as ours. PostgreSQL decides, not
// Temporal: the rows stay when the workflows are long gone.
func (s *Store) Enter(ctx context.Context, e Entrance) (j Journey, created, ours bool, refused string, err error) {
	if e.Rule.Reentry == "" {
		e.Rule.Reentry = campaign.ReenterNever
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		j, created, ours, refused = Journey{}, false, false, ""
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('entry:' || $1 || ':' || $2))`, e.CampaignID, e.CustomerID); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `SELECT `+journeyColumns+`, coalesce(entry_event_id, '') AS entry_event_id FROM journeys
WHERE campaign_id = $1 AND customer_id = $2 ORDER BY instance`, e.CampaignID, e.CustomerID)
		type entered struct {
			Journey
			EntryEventID string `db:"entry_event_id"`
		}
		had, err := pgx.CollectRows(rows, pgx.RowToStructByName[entered])
		if err != nil {
			return err
		}
		last := 0
		var same []Journey // the journeys of the entrance's key (all of them without a key)
		for _, h := range had {
			if e.LaunchID != "" && h.LaunchID == e.LaunchID || e.Event != nil && h.EntryEventID == e.Event.EventID {
				j, ours = h.Journey, true
				return nil
			}
			if h.EntryKey == e.Key {
				same = append(same, h.Journey)
			}
			last = max(last, h.Instance)
		}
		if n := len(same); n > 0 {
			switch latest := same[n-1]; {
			case e.Rule.Reentry == campaign.ReenterNever,
				e.Rule.Reentry == campaign.ReenterAfterExit && latest.Status == journey.Active:
				j = latest
				return nil
			}
		}
		if n := len(had); n > 0 {
			if cd := e.Rule.CooldownDuration(); cd > 0 && time.Since(had[n-1].StartedAt) < cd {
				refused = RefusedCooldown
				return nil
			}
			if e.Rule.Max > 0 && n >= e.Rule.Max {
				refused = RefusedMaxEntries
				return nil
			}
		}
		var eventID string
		if e.Event != nil {
			eventID = e.Event.EventID
		}
		rows, _ = tx.Query(ctx, `
INSERT INTO journeys (workflow_id, campaign_id, version, customer_id, current_step, data, launch_id, instance, entry_key, entry_event_id, event)
VALUES ($1, $2, $3, $4, $5, $6, nullif($7, ''), $8, nullif($9, ''), nullif($10, ''), $11)
RETURNING `+journeyColumns,
			journey.InstanceID(e.CampaignID, e.CustomerID, last+1), e.CampaignID, e.Version, e.CustomerID, e.StartAt,
			e.Data, e.LaunchID, last+1, e.Key, eventID, e.Event)
		if j, err = collectOne(rows, pgx.RowToStructByName[Journey]); err == nil {
			created, ours = true, true
		}
		return err
	})
	return j, created, ours, refused, err
}

// StartedJourney records that a journey's workflow runs.
func (s *Store) StartedJourney(ctx context.Context, workflowID, runID string) error {
	_, err := s.db.Exec(ctx, `UPDATE journeys SET run_id = $2 WHERE workflow_id = $1`, workflowID, runID)
	return err
}

// UnstartedJourneys lists active journeys written at least olderThan ago
// whose workflow is not known to have started, oldest first.
func (s *Store) UnstartedJourneys(ctx context.Context, olderThan time.Duration, limit int) ([]Journey, error) {
	rows, _ := s.db.Query(ctx, `SELECT `+journeyColumns+` FROM journeys
WHERE run_id IS NULL AND status = 'active' AND started_at < now() - make_interval(secs => $1)
ORDER BY started_at LIMIT $2`, olderThan.Seconds(), limit)
	return pgx.CollectRows(rows, pgx.RowToStructByName[Journey])
}

// FinishJourney records how a journey ended.
func (s *Store) FinishJourney(ctx context.Context, workflowID, status string, p journey.Progress, reason string) error {
	_, err := s.db.Exec(ctx, `
UPDATE journeys SET status = $2, current_step = $3, variant = coalesce(nullif($4, ''), variant),
	exit_reason = nullif($5, ''), ended_at = coalesce(ended_at, now())
WHERE workflow_id = $1`, workflowID, status, p.Step, p.Variant, reason)
	return err
}

// RecordProgress records where an active journey is.
func (s *Store) RecordProgress(ctx context.Context, workflowID string, p journey.Progress) error {
	_, err := s.db.Exec(ctx, updateProgress, workflowID, p.Step, p.Variant, p.Status, p.Reason)
	return err
}

const updateProgress = `UPDATE journeys SET current_step = $2, variant = coalesce(nullif($3, ''), variant),
	status = coalesce(nullif($4, ''), status),
	exit_reason = CASE WHEN $4 = '' THEN exit_reason ELSE nullif($5, '') END,
	ended_at = CASE WHEN $4 = '' THEN ended_at ELSE now() END
WHERE workflow_id = $1 AND status = 'active'`

// markConverted marks the customer's active journeys whose campaign
// version has typ as its rules.goal converted, once.
func markConverted(ctx context.Context, tx pgx.Tx, customerID, campaignID, typ string, at time.Time) error {
	_, err := tx.Exec(ctx, `
UPDATE journeys j SET converted_at = $4
FROM campaigns c
WHERE j.customer_id = $1 AND j.status = 'active' AND j.converted_at IS NULL
	AND ($2 = '' OR j.campaign_id = $2)
	AND c.id = j.campaign_id AND c.version = j.version AND c.definition->'rules'->>'goal' = $3`,
		customerID, campaignID, typ, at)
	return err
}

// CustomerJourneys lists a customer's journeys, newest first.
func (s *Store) CustomerJourneys(ctx context.Context, customerID string) ([]Journey, error) {
	rows, _ := s.db.Query(ctx, `SELECT `+journeyColumns+` FROM journeys WHERE customer_id = $1 ORDER BY started_at DESC`, customerID)
	return pgx.CollectRows(rows, pgx.RowToStructByName[Journey])
}

// JourneySteps counts a campaign's active journeys by current step.
func (s *Store) JourneySteps(ctx context.Context, campaignID string) (map[string]int, error) {
	return s.countBy(ctx, `SELECT current_step, count(*) FROM journeys WHERE campaign_id = $1 AND status = 'active' GROUP BY current_step`, campaignID)
}

// CampaignJourneys calls fn with each of a campaign's journeys, in
// workflow id order, reading them as they stream from the database.
func (s *Store) CampaignJourneys(ctx context.Context, campaignID string, fn func(Journey) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		// An export streams a million rows for as long as its reader
		// takes; the default statement timeout is for everything else.
		if _, err := tx.Exec(ctx, `SET LOCAL statement_timeout = '15min'`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+journeyColumns+` FROM journeys WHERE campaign_id = $1 ORDER BY workflow_id`, campaignID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			j, err := pgx.RowToStructByName[Journey](rows)
			if err != nil {
				return err
			}
			if err := fn(j); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// Journey returns one journey, or ErrNotFound.
func (s *Store) Journey(ctx context.Context, workflowID string) (Journey, error) {
	rows, _ := s.db.Query(ctx, `SELECT `+journeyColumns+` FROM journeys WHERE workflow_id = $1`, workflowID)
	return collectOne(rows, pgx.RowToStructByName[Journey])
}

// ActiveJourneyIDs lists the workflow IDs of a customer's active journeys,
// optionally only those of one campaign.
func (s *Store) ActiveJourneyIDs(ctx context.Context, customerID, campaignID string) ([]string, error) {
	rows, _ := s.db.Query(ctx, `
SELECT workflow_id FROM journeys
WHERE customer_id = $1 AND status = 'active' AND ($2 = '' OR campaign_id = $2)
ORDER BY workflow_id`, customerID, campaignID)
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func collectOne[T any](rows pgx.Rows, fn pgx.RowToFunc[T]) (T, error) {
	v, err := pgx.CollectExactlyOneRow(rows, fn)
	if err == pgx.ErrNoRows {
		return v, ErrNotFound
	}
	return v, err
}

// ActiveJourneysAfter pages through a campaign's active journeys by
// workflow id.
func (s *Store) ActiveJourneysAfter(ctx context.Context, campaignID, after string, limit int) ([]string, error) {
	rows, _ := s.db.Query(ctx, `SELECT workflow_id FROM journeys WHERE campaign_id = $1 AND status = 'active' AND workflow_id > $2
ORDER BY workflow_id LIMIT $3`, campaignID, after, limit)
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// JourneyOffer is a campaign a customer has a journey in (in any status)
// and the offer of the journey's version, if it makes one.
type JourneyOffer struct {
	CampaignID string `db:"campaign_id"`
	OfferID    string `db:"offer_id"`
}

// JourneyOffers lists the campaigns the customer has journeys in, with
// their offers.
func (s *Store) JourneyOffers(ctx context.Context, customerID string) ([]JourneyOffer, error) {
	rows, _ := s.db.Query(ctx, `
SELECT j.campaign_id, coalesce(c.offer_id, '') AS offer_id FROM journeys j
JOIN campaigns c ON c.id = j.campaign_id AND c.version = j.version
WHERE j.customer_id = $1`, customerID)
	return pgx.CollectRows(rows, pgx.RowToStructByName[JourneyOffer])
}
