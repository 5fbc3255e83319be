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
	RoutedAt   *time.Time     `json:"routed_at,omitempty" db:"routed_at"`
}

const responseColumns = `event_id, customer_id, coalesce(campaign_id, '') AS campaign_id,
	coalesce(offer_id, '') AS offer_id, channel, type, occurred_at, received_at, data, routed_at`

// ResponseEffects are what a response changes besides being stored.
type ResponseEffects struct {
	// Suppress keeps a rejected offer away from the customer.
	Suppress *Suppression
	// OptOut and OptIn turn the customer's consent off or on for channels.
	OptOut []string
	OptIn  []string
}

// RecordResponse stores r once per event ID and, the first time only,
// applies its effects and marks the customer's journeys converted where r
// is their campaign's goal, all in one transaction. For a repeated event ID
// it returns the response stored first and duplicate=true.
func (s *Store) RecordResponse(ctx context.Context, r Response, fx ResponseEffects) (stored Response, duplicate bool, err error) {
	if r.Data == nil {
		r.Data = map[string]any{}
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		duplicate = false
		rows, _ := tx.Query(ctx, `
INSERT INTO responses (event_id, customer_id, campaign_id, offer_id, channel, type, occurred_at, data)
VALUES ($1, $2, nullif($3, ''), nullif($4, ''), $5, $6, $7, $8)
ON CONFLICT (event_id) DO NOTHING
RETURNING `+responseColumns, r.EventID, r.CustomerID, r.CampaignID, r.OfferID, r.Channel, r.Type, r.OccurredAt, r.Data)
		stored, err = collectOne(rows, pgx.RowToStructByName[Response])
		if err == ErrNotFound {
			duplicate = true
			rows, _ = tx.Query(ctx, `SELECT `+responseColumns+` FROM responses WHERE event_id = $1`, r.EventID)
			stored, err = collectOne(rows, pgx.RowToStructByName[Response])
			return err
		}
		if err != nil {
			return err
		}
		if fx.Suppress != nil {
			if err := suppress(ctx, tx, *fx.Suppress); err != nil {
				return err
			}
		}
		if err := setConsent(ctx, tx, r.CustomerID, fx.OptOut, false); err != nil {
			return err
		}
		if err := setConsent(ctx, tx, r.CustomerID, fx.OptIn, true); err != nil {
			return err
		}
		return markConverted(ctx, tx, r.CustomerID, r.CampaignID, r.Type, r.OccurredAt)
	})
	return stored, duplicate, err
}

func setConsent(ctx context.Context, tx pgx.Tx, customerID string, channels []string, on bool) error {
	if len(channels) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `
UPDATE customers SET
	consent_email = CASE WHEN 'email' = ANY($2) THEN $3 ELSE consent_email END,
	consent_sms = CASE WHEN 'sms' = ANY($2) THEN $3 ELSE consent_sms END,
	consent_push = CASE WHEN 'push' = ANY($2) THEN $3 ELSE consent_push END,
	updated_at = now()
WHERE id = $1`, customerID, channels, on)
	return err
}

// MarkRouted records that a response reached its journeys.
func (s *Store) MarkRouted(ctx context.Context, eventID string) error {
	_, err := s.db.Exec(ctx, `UPDATE responses SET routed_at = now() WHERE event_id = $1`, eventID)
	return err
}

// CustomerResponses lists a customer's latest responses, newest first.
func (s *Store) CustomerResponses(ctx context.Context, customerID string, limit int) ([]Response, error) {
	rows, _ := s.db.Query(ctx, `SELECT `+responseColumns+` FROM responses WHERE customer_id = $1 ORDER BY occurred_at DESC LIMIT $2`, customerID, limit)
	return pgx.CollectRows(rows, pgx.RowToStructByName[Response])
}

// Orphan events are kept for inspection, not for ever: they can hold
// addresses and message text, and anybody able to send a provider's
// webhook could otherwise fill the table.
const (
	MaxOrphansPerProvider = 10_000
	OrphanRetention       = 30 * 24 * time.Hour
)

// RecordOrphan keeps a provider event that names nothing we know, once per
// event id; it reports false for a repeated one. Each insert prunes the
// provider's orphans older than OrphanRetention and beyond the newest
// MaxOrphansPerProvider, so the table stays bounded without a job to run.
func (s *Store) RecordOrphan(ctx context.Context, provider, eventID string, payload any) (bool, error) {
	tag, err := s.db.Exec(ctx, `INSERT INTO webhook_orphans (provider, event_id, payload) VALUES ($1, $2, $3)
ON CONFLICT (provider, event_id) DO NOTHING`, provider, eventID, payload)
	if err != nil || tag.RowsAffected() == 0 {
		return false, err
	}
	_, err = s.db.Exec(ctx, `DELETE FROM webhook_orphans WHERE provider = $1 AND (received_at < now() - $2::interval
	OR ctid IN (SELECT ctid FROM webhook_orphans WHERE provider = $1 ORDER BY received_at DESC OFFSET $3))`,
		provider, OrphanRetention, MaxOrphansPerProvider)
	return true, err
}

// ResponseStored reports whether a response with this event ID is stored.
func (s *Store) ResponseStored(ctx context.Context, eventID string) (bool, error) {
	var stored bool
	err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM responses WHERE event_id = $1)`, eventID).Scan(&stored)
	return stored, err
}
