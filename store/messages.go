package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Message statuses.
const (
	MessagePending = "pending" // recorded, provider not yet known to have accepted it
	MessageSent    = "sent"
	MessageSkipped = "skipped"
	MessageFailed  = "failed"
)

// Message is one message a journey sent, or decided not to send.
type Message struct {
	ID                string     `json:"id" db:"id"`
	IdempotencyKey    string     `json:"-" db:"idempotency_key"`
	JourneyID         string     `json:"journey_id" db:"journey_id"`
	CampaignID        string     `json:"campaign_id" db:"campaign_id"`
	CustomerID        string     `json:"customer_id" db:"customer_id"`
	Step              string     `json:"step" db:"step"`
	Channel           string     `json:"channel" db:"channel"`
	Provider          string     `json:"provider,omitempty" db:"provider"`
	ProviderMessageID string     `json:"provider_message_id,omitempty" db:"provider_message_id"`
	Recipient         string     `json:"recipient,omitempty" db:"recipient"`
	Subject           string     `json:"subject,omitempty" db:"subject"`
	Body              string     `json:"body,omitempty" db:"body"`
	Status            string     `json:"status" db:"status"`
	Reason            string     `json:"reason,omitempty" db:"reason"`
	CreatedAt         time.Time  `json:"created_at" db:"created_at"`
	SentAt            *time.Time `json:"sent_at,omitempty" db:"sent_at"`
}

const messageColumns = `id::text AS id, idempotency_key, journey_id, campaign_id, customer_id, step, channel,
	coalesce(provider, '') AS provider, coalesce(provider_message_id, '') AS provider_message_id,
	coalesce(recipient, '') AS recipient, coalesce(subject, '') AS subject, coalesce(body, '') AS body,
	status, coalesce(reason, '') AS reason, created_at, sent_at`

// RecordMessage stores m under its idempotency key, unless a message with
// that key exists already; either way it returns the stored message. With a
// status other than pending it also records the journey's progress, in the
// same transaction.
func (s *Store) RecordMessage(ctx context.Context, m Message, p Progress) (Message, error) {
	var stored Message
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `
INSERT INTO messages (idempotency_key, journey_id, campaign_id, customer_id, step, channel, provider,
	recipient, subject, body, status, reason)
VALUES ($1, $2, $3, $4, $5, $6, nullif($7, ''), nullif($8, ''), nullif($9, ''), nullif($10, ''), $11, nullif($12, ''))
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING `+messageColumns,
			m.IdempotencyKey, m.JourneyID, m.CampaignID, m.CustomerID, m.Step, m.Channel, m.Provider,
			m.Recipient, m.Subject, m.Body, m.Status, m.Reason)
		var err error
		stored, err = collectOne(rows, pgx.RowToStructByName[Message])
		if err == ErrNotFound {
			rows, _ := tx.Query(ctx, `SELECT `+messageColumns+` FROM messages WHERE idempotency_key = $1`, m.IdempotencyKey)
			stored, err = collectOne(rows, pgx.RowToStructByName[Message])
			return err
		}
		if err != nil || stored.Status == MessagePending {
			return err
		}
		return recordProgress(ctx, tx, m.JourneyID, p)
	})
	return stored, err
}

// MarkSent records the provider's acceptance of a pending message and the
// journey's progress, in one transaction.
func (s *Store) MarkSent(ctx context.Context, id, providerMessageID string, p Progress) (Message, error) {
	var stored Message
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `
UPDATE messages SET status = 'sent', provider_message_id = $2, sent_at = now()
WHERE id = $1 RETURNING `+messageColumns, id, providerMessageID)
		var err error
		if stored, err = collectOne(rows, pgx.RowToStructByName[Message]); err != nil {
			return err
		}
		return recordProgress(ctx, tx, stored.JourneyID, p)
	})
	return stored, err
}

func recordProgress(ctx context.Context, tx pgx.Tx, journeyID string, p Progress) error {
	if p.Step == "" {
		return nil
	}
	_, err := tx.Exec(ctx, updateProgress, journeyID, p.Step, p.Variant)
	return err
}

// CustomerMessages lists a customer's latest messages, newest first.
func (s *Store) CustomerMessages(ctx context.Context, customerID string, limit int) ([]Message, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+messageColumns+` FROM messages WHERE customer_id = $1 ORDER BY created_at DESC LIMIT $2`, customerID, limit)
	return pgx.CollectRows(rows, pgx.RowToStructByName[Message])
}

// JourneyMessages lists a journey's messages in the order they were recorded.
func (s *Store) JourneyMessages(ctx context.Context, journeyID string) ([]Message, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+messageColumns+` FROM messages WHERE journey_id = $1 ORDER BY created_at`, journeyID)
	return pgx.CollectRows(rows, pgx.RowToStructByName[Message])
}
