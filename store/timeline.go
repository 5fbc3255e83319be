package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// TimelineEntry is one entry of a customer's timeline: a journey started
// or ended, a message recorded, a response received, an event.
type TimelineEntry struct {
	At         time.Time `json:"at" db:"at"`
	Kind       string    `json:"kind" db:"kind"` // journey_started, journey_ended, message, response, event
	Ref        string    `json:"ref" db:"ref"`   // the journey's workflow id, the message id, the response's or the event's event id
	CampaignID string    `json:"campaign_id,omitempty" db:"campaign_id"`
	Channel    string    `json:"channel,omitempty" db:"channel"`
	Step       string    `json:"step,omitempty" db:"step"`
	// What happened: the journey's status, the message's status, the
	// response's type, the event's name; Detail: an exit or skip reason,
	// an offer.
	What   string `json:"what" db:"what"`
	Detail string `json:"detail,omitempty" db:"detail"`
}

// Position is where a timeline page ends; the next page starts after it.
type Position struct {
	At   time.Time
	Kind string
	Ref  string
}

// Timeline returns a customer's timeline entries, newest first, after pos (from the
// newest when pos is zero). Each source is read through its customer index.
func (s *Store) Timeline(ctx context.Context, customerID string, pos Position, limit int) ([]TimelineEntry, error) {
	if pos.At.IsZero() {
		pos = Position{At: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}
	}
	rows, _ := s.db.Query(ctx, `
SELECT at, kind, ref, campaign_id, channel, step, what, detail FROM (
	SELECT started_at AS at, 'journey_started' AS kind, workflow_id AS ref, campaign_id, '' AS channel,
		'' AS step, 'started' AS what, 'version ' || version AS detail
	FROM journeys WHERE customer_id = $1
	UNION ALL
	SELECT ended_at, 'journey_ended', workflow_id, campaign_id, '', current_step, status, coalesce(exit_reason, '')
	FROM journeys WHERE customer_id = $1 AND ended_at IS NOT NULL
	UNION ALL
	SELECT created_at, 'message', id::text, campaign_id, channel, step, status, coalesce(reason, '')
	FROM messages WHERE customer_id = $1
	UNION ALL
	SELECT occurred_at, 'response', event_id, coalesce(campaign_id, ''), channel, '', type, coalesce(offer_id, '')
	FROM responses WHERE customer_id = $1
	UNION ALL
	SELECT occurred_at, 'event', event_id, '', '', '', name, ''
	FROM events WHERE customer_id = $1
) e
WHERE (at, kind, ref) < ($2, $3, $4)
ORDER BY at DESC, kind DESC, ref DESC
LIMIT $5`, customerID, pos.At, pos.Kind, pos.Ref, limit)
	return pgx.CollectRows(rows, pgx.RowToStructByName[TimelineEntry])
}
