package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Response is a customer's reaction reported by a channel system.
type Response struct {
	EventID    string         `json:"event_id" db:"event_id"`
	CustomerID string         `json:"customer_id" db:"customer_id"`
	CampaignID string         `json:"campaign_id,omitempty" db:"campaign_id"`
	OfferID    string         `json:"offer_id,omitempty" db:"offer_id"`
	Channel    string         `json:"channel" db:"channel"`
	Type       string         `json:"type" db:"type"`
	OccurredAt time.Time      `json:"occurred_at" db:"occurred_at"`
	ReceivedAt time.Time      `json:"received_at" db:"received_at"`
	Data       map[string]any `json:"data,omitempty" db:"data"`
}

const responseColumns = `event_id, customer_id, coalesce(campaign_id, '') AS campaign_id,
	coalesce(offer_id, '') AS offer_id, channel, type, occurred_at, received_at, data`

// InsertResponse stores r once per event ID. For a repeated event ID it
// returns the response stored first and duplicate=true.
func (s *Store) InsertResponse(ctx context.Context, r Response) (stored Response, duplicate bool, err error) {
	if r.Data == nil {
		r.Data = map[string]any{}
	}
	rows, _ := s.pool.Query(ctx, `
INSERT INTO responses (event_id, customer_id, campaign_id, offer_id, channel, type, occurred_at, data)
VALUES ($1, $2, nullif($3, ''), nullif($4, ''), $5, $6, $7, $8)
ON CONFLICT (event_id) DO NOTHING
RETURNING `+responseColumns, r.EventID, r.CustomerID, r.CampaignID, r.OfferID, r.Channel, r.Type, r.OccurredAt, r.Data)
	stored, err = collectOne(rows, pgx.RowToStructByName[Response])
	if err != ErrNotFound {
		return stored, false, err
	}
	rows, _ = s.pool.Query(ctx, `SELECT `+responseColumns+` FROM responses WHERE event_id = $1`, r.EventID)
	stored, err = collectOne(rows, pgx.RowToStructByName[Response])
	return stored, true, err
}

// CustomerResponses lists a customer's latest responses, newest first.
func (s *Store) CustomerResponses(ctx context.Context, customerID string, limit int) ([]Response, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+responseColumns+` FROM responses WHERE customer_id = $1 ORDER BY occurred_at DESC LIMIT $2`, customerID, limit)
	return pgx.CollectRows(rows, pgx.RowToStructByName[Response])
}
