package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omni-orchestrator/omni/campaign"
)

// Campaign statuses, which controls (journey.Pause, Resume, Cancel) move
// between.
const (
	CampaignActive    = "active"
	CampaignPaused    = "paused"
	CampaignCancelled = "cancelled"
)

// Campaign is one stored version of a campaign definition.
type Campaign struct {
	ID         string              `json:"id"`
	Version    int                 `json:"version"`
	Status     string              `json:"status"`
	Definition campaign.Definition `json:"definition"`
	CreatedAt  time.Time           `json:"created_at"`
}

const campaignColumns = `id, version, status, definition, created_at`

func scanCampaign(row pgx.Row) (Campaign, error) {
	var c Campaign
	var def []byte
	err := row.Scan(&c.ID, &c.Version, &c.Status, &def, &c.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, ErrNotFound
	}
	if err != nil {
		return c, err
	}
	return c, json.Unmarshal(def, &c.Definition)
}

// CreateCampaign stores def as the campaign's next version (1 for a new
// one); a paused or cancelled campaign stays so.
func (s *Store) CreateCampaign(ctx context.Context, def *campaign.Definition) (Campaign, error) {
	doc, err := json.Marshal(def)
	if err != nil {
		return Campaign{}, err
	}
	name := def.Name
	if name == "" {
		name = def.ID
	}
	var c Campaign
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockCampaign(ctx, tx, def.ID); err != nil {
			return err
		}
		c, err = scanCampaign(tx.QueryRow(ctx, `
INSERT INTO campaigns (id, version, name, offer_id, definition, status, trigger_event, listens, trigger_segment)
SELECT $1, coalesce(max(version), 0) + 1, $2, nullif($3, ''), $4,
	coalesce((SELECT status FROM campaigns WHERE id = $1 ORDER BY version DESC LIMIT 1), 'active'), nullif($5, ''), $6, nullif($7, '')
FROM campaigns WHERE id = $1
RETURNING `+campaignColumns, def.ID, name, def.OfferID, doc, triggerEvent(def), def.Listens(), triggerSegment(def)))
		return err
	})
	return c, err
}

func triggerEvent(def *campaign.Definition) string {
	if def.Trigger == nil {
		return ""
	}
	return def.Trigger.Event
}

func triggerSegment(def *campaign.Definition) string {
	if def.Trigger == nil {
		return ""
	}
	return def.Trigger.Segment
}

// TriggeredBy returns the latest versions of the active campaigns that an
// event of one of the names triggers.
func (s *Store) TriggeredBy(ctx context.Context, names []string) ([]Campaign, error) {
	return s.triggered(ctx, "trigger_event", names)
}

// triggered returns the latest versions of the active campaigns whose
// trigger column (trigger_event, trigger_segment) is one of values.
func (s *Store) triggered(ctx context.Context, column string, values []string) ([]Campaign, error) {
	rows, err := s.db.Query(ctx, `SELECT `+campaignColumns+` FROM (
	SELECT DISTINCT ON (id) * FROM campaigns WHERE id IN (SELECT id FROM campaigns WHERE `+column+` = ANY($1))
	ORDER BY id, version DESC) c
WHERE c.status = 'active' AND c.`+column+` = ANY($1)`, values)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Campaign
	for rows.Next() {
		c, err := scanCampaign(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// lockCampaign serialises, per campaign, the transactions that number its
// versions and change its status: a new version copies the status.
func lockCampaign(ctx context.Context, tx pgx.Tx, id string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('campaign:' || $1))`, id)
	return err
}

// Campaign returns the latest version of a campaign, or ErrNotFound.
func (s *Store) Campaign(ctx context.Context, id string) (Campaign, error) {
	return scanCampaign(s.db.QueryRow(ctx, `SELECT `+campaignColumns+` FROM campaigns WHERE id = $1 ORDER BY version DESC LIMIT 1`, id))
}

// CampaignVersion returns one version of a campaign, or ErrNotFound.
func (s *Store) CampaignVersion(ctx context.Context, id string, version int) (Campaign, error) {
	return scanCampaign(s.db.QueryRow(ctx, `SELECT `+campaignColumns+` FROM campaigns WHERE id = $1 AND version = $2`, id, version))
}

// JourneyCounts counts a campaign's journeys by status.
func (s *Store) JourneyCounts(ctx context.Context, campaignID string) (map[string]int, error) {
	return s.countBy(ctx, `SELECT status, count(*) FROM journeys WHERE campaign_id = $1 GROUP BY status`, campaignID)
}

// countBy runs a query of (key, count) rows into a map.
func (s *Store) countBy(ctx context.Context, query string, args ...any) (map[string]int, error) {
	rows, _ := s.db.Query(ctx, query, args...)
	counts := map[string]int{}
	var key string
	var n int
	_, err := pgx.ForEachRow(rows, []any{&key, &n}, func() error {
		counts[key] = n
		return nil
	})
	return counts, err
}

// CampaignStatus returns the status of the campaign's latest version.
func (s *Store) CampaignStatus(ctx context.Context, campaignID string) (string, error) {
	var status string
	err := s.db.QueryRow(ctx, `SELECT status FROM campaigns WHERE id = $1 ORDER BY version DESC LIMIT 1`, campaignID).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ErrNotFound
	}
	return status, err
}
