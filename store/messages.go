package store

import (
	"context"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omni-orchestrator/omni/journey"
)

// Message is one message a journey sent, or decided not to send.
type Message struct {
	ID                string         `json:"id" db:"id"`
	IdempotencyKey    string         `json:"-" db:"idempotency_key"`
	JourneyID         string         `json:"journey_id" db:"journey_id"`
	CampaignID        string         `json:"campaign_id" db:"campaign_id"`
	CustomerID        string         `json:"customer_id" db:"customer_id"`
	Step              string         `json:"step" db:"step"`
	Channel           string         `json:"channel" db:"channel"`
	Provider          string         `json:"provider,omitempty" db:"provider"`
	ProviderMessageID string         `json:"provider_message_id,omitempty" db:"provider_message_id"`
	Recipient         string         `json:"recipient,omitempty" db:"recipient"`
	Subject           string         `json:"subject,omitempty" db:"subject"`
	Body              string         `json:"body,omitempty" db:"body"`
	TemplateID        string         `json:"template_id,omitempty" db:"template_id"`
	TemplateData      map[string]any `json:"template_data,omitempty" db:"template_data"`
	Link              string         `json:"link,omitempty" db:"link"`
	Status            string         `json:"status" db:"status"`
	Reason            string         `json:"reason,omitempty" db:"reason"`
	CreatedAt         time.Time      `json:"created_at" db:"created_at"`
	SentAt            *time.Time     `json:"sent_at,omitempty" db:"sent_at"`
	// AttemptedAt is when the provider was last called for the pending
	// message without a definite answer (see MarkAttempted).
	AttemptedAt *time.Time `json:"attempted_at,omitempty" db:"attempted_at"`
}

const messageColumns = `id::text AS id, idempotency_key, journey_id, campaign_id, customer_id, step, channel,
	coalesce(provider, '') AS provider, coalesce(provider_message_id, '') AS provider_message_id,
	coalesce(recipient, '') AS recipient, coalesce(subject, '') AS subject, coalesce(body, '') AS body,
	coalesce(template_id, '') AS template_id, template_data, coalesce(link, '') AS link, status, coalesce(reason, '') AS reason, created_at, sent_at,
	attempted_at`

// SendChecks are what a message must pass when it is recorded for sending.
type SendChecks struct {
	// OfferID is refused while the customer has an active suppression of it.
	OfferID string
	// At most CapMax messages (any campaign) to the customer in the rolling
	// window CapPer; CapMax 0 means no cap.
	CapMax int
	CapPer time.Duration
}

// RecordMessage stores m under its idempotency key, unless a message with
// that key exists already; either way it returns the stored message, and
// whether this call stored it (and records the journey's progress if it is
// no longer pending). A pending m with AttemptedAt set is stored as
// attempted now: its provider is called right after. A
// pending message must pass the checks first: the customer's row is locked
// while they run, so two sends to one customer cannot both pass the
// frequency cap, and a suppression committed before cannot be missed. A
// message that is not pending also records the journey's progress, in the
// same transaction.
func (s *Store) RecordMessage(ctx context.Context, m Message, p journey.Progress, checks SendChecks) (Message, bool, error) {
	var stored Message
	var created bool
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		created = false
		rows, _ := tx.Query(ctx, `SELECT `+messageColumns+` FROM messages WHERE idempotency_key = $1`, m.IdempotencyKey)
		var err error
		if stored, err = collectOne(rows, pgx.RowToStructByName[Message]); err != ErrNotFound {
			// Recorded by an earlier attempt. One no longer pending may have
			// been marked sent by the provider's webhook, without progress.
			if err == nil && stored.Status != journey.MessagePending {
				err = recordProgress(ctx, tx, stored.JourneyID, p)
			}
			return err
		}
		// Checked anew on every attempt: a deadlocked one runs again.
		status, reason := m.Status, m.Reason
		if status == journey.MessagePending && (checks.OfferID != "" || checks.CapMax > 0) {
			if reason, err = refusal(ctx, tx, m.CustomerID, checks); err != nil {
				return err
			}
			if reason != "" {
				status = journey.MessageSkipped
			}
		}
		rows, _ = tx.Query(ctx, `
INSERT INTO messages (idempotency_key, journey_id, campaign_id, customer_id, step, channel, provider,
	recipient, subject, body, status, reason, template_id, template_data, link, attempted_at)
VALUES ($1, $2, $3, $4, $5, $6, nullif($7, ''), nullif($8, ''), nullif($9, ''), nullif($10, ''), $11, nullif($12, ''),
	nullif($13, ''), $14, nullif($15, ''), CASE WHEN $16 AND $11 = 'pending' THEN now() END)
RETURNING `+messageColumns,
			m.IdempotencyKey, m.JourneyID, m.CampaignID, m.CustomerID, m.Step, m.Channel, m.Provider,
			m.Recipient, m.Subject, m.Body, status, reason, m.TemplateID, m.TemplateData, m.Link, m.AttemptedAt != nil)
		if stored, err = collectOne(rows, pgx.RowToStructByName[Message]); err != nil {
			return err
		}
		created = true
		if stored.Status == journey.MessagePending {
			return nil
		}
		return recordProgress(ctx, tx, m.JourneyID, p)
	})
	return stored, created, err
}

// MarkAttempted marks a pending message as about to reach its provider.
func (s *Store) MarkAttempted(ctx context.Context, id string) error {
	_, err := s.db.Exec(ctx, `UPDATE messages SET attempted_at = now() WHERE id = $1 AND status = 'pending'`, id)
	return err
}

// ClearAttempt records that the provider answered it does not have the
// message (it refused it, or asked us to come back later).
func (s *Store) ClearAttempt(ctx context.Context, id string) error {
	_, err := s.db.Exec(ctx, `UPDATE messages SET attempted_at = NULL WHERE id = $1 AND status = 'pending'`, id)
	return err
}

// refusal is why the checks refuse a send now ("" when they pass).
func refusal(ctx context.Context, tx pgx.Tx, customerID string, checks SendChecks) (string, error) {
	if err := lockCustomer(ctx, tx, customerID); err != nil {
		return "", err
	}
	var suppressed bool
	var recent int
	err := tx.QueryRow(ctx, `
SELECT EXISTS (SELECT 1 FROM suppressions WHERE customer_id = $1 AND offer_id = $2 AND until > now()),
	CASE WHEN $3 > 0 THEN (SELECT count(*) FROM messages WHERE customer_id = $1
		AND status IN ('pending', 'sent') AND created_at > now() - make_interval(secs => $4)) ELSE 0 END`,
		customerID, checks.OfferID, checks.CapMax, checks.CapPer.Seconds()).Scan(&suppressed, &recent)
	switch {
	case err != nil:
		return "", err
	case suppressed:
		return journey.ReasonSuppressed, nil
	case checks.CapMax > 0 && recent >= checks.CapMax:
		return journey.ReasonFrequencyCapped, nil
	}
	return "", nil
}

// MarkSent records the provider's acceptance of a pending message and the
// journey's progress, in one transaction.
func (s *Store) MarkSent(ctx context.Context, id, providerMessageID string, p journey.Progress) (Message, error) {
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

// MarkFailed records that the provider refused a pending message for
// good, and the journey's progress, in one transaction.
func (s *Store) MarkFailed(ctx context.Context, id, reason string, p journey.Progress) (Message, error) {
	var stored Message
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `UPDATE messages SET status = 'failed', reason = $2 WHERE id = $1
RETURNING `+messageColumns, id, reason)
		var err error
		if stored, err = collectOne(rows, pgx.RowToStructByName[Message]); err != nil {
			return err
		}
		return recordProgress(ctx, tx, stored.JourneyID, p)
	})
	return stored, err
}

// GiveUp marks the pending messages of a send (its key, and the keys of
// its fallback rounds) failed with reason, once the send stops retrying.
func (s *Store) GiveUp(ctx context.Context, key, reason string) error {
	_, err := s.db.Exec(ctx, `UPDATE messages SET status = 'failed', reason = $2
WHERE status = 'pending' AND (idempotency_key = $1 OR starts_with(idempotency_key, $1 || '/'))`, key, reason)
	return err
}

// MarkAccepted records that the provider has a pending message, as its
// webhook tells us: a send retried after the provider accepted the
// message but before we recorded it then finds it sent.
func (s *Store) MarkAccepted(ctx context.Context, id, providerMessageID string) error {
	_, err := s.db.Exec(ctx, `UPDATE messages SET status = 'sent', sent_at = now(),
	provider_message_id = coalesce(provider_message_id, nullif($2, '')) WHERE id = $1 AND status = 'pending'`, id, providerMessageID)
	return err
}

func recordProgress(ctx context.Context, tx pgx.Tx, journeyID string, p journey.Progress) error {
	if p.Step == "" {
		return nil
	}
	_, err := tx.Exec(ctx, updateProgress, journeyID, p.Step, p.Variant, p.Status, p.Reason)
	return err
}

// CustomerMessages lists a customer's latest messages, newest first.
func (s *Store) CustomerMessages(ctx context.Context, customerID string, limit int) ([]Message, error) {
	rows, _ := s.db.Query(ctx, `SELECT `+messageColumns+` FROM messages WHERE customer_id = $1 ORDER BY created_at DESC LIMIT $2`, customerID, limit)
	return pgx.CollectRows(rows, pgx.RowToStructByName[Message])
}

// MessageByID returns one message, or ErrNotFound.
func (s *Store) MessageByID(ctx context.Context, id string) (Message, error) {
	if !isUUID(id) {
		return Message{}, ErrNotFound
	}
	rows, _ := s.db.Query(ctx, `SELECT `+messageColumns+` FROM messages WHERE id = $1::uuid`, id)
	return collectOne(rows, pgx.RowToStructByName[Message])
}

// MessageByProviderID returns the message a provider knows by id, or ErrNotFound.
func (s *Store) MessageByProviderID(ctx context.Context, providerMessageID string) (Message, error) {
	rows, _ := s.db.Query(ctx, `SELECT `+messageColumns+` FROM messages WHERE provider_message_id = $1 LIMIT 1`, providerMessageID)
	return collectOne(rows, pgx.RowToStructByName[Message])
}

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func isUUID(s string) bool { return uuidPattern.MatchString(s) }
