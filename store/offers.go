package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Offer is an offer a customer should see now, with what the journey last
// said about it.
type Offer struct {
	OfferID    string `json:"offer_id" db:"offer_id"`
	CampaignID string `json:"campaign_id" db:"campaign_id"`
	JourneyID  string `json:"journey_id" db:"journey_id"`
	// The last message the journey sent about it, if any.
	Channel string     `json:"channel,omitempty" db:"channel"`
	Subject string     `json:"subject,omitempty" db:"subject"`
	Body    string     `json:"body,omitempty" db:"body"`
	SentAt  *time.Time `json:"sent_at,omitempty" db:"sent_at"`
	// Coupon is the customer's unredeemed, unexpired code for the offer.
	Coupon string `json:"coupon,omitempty" db:"coupon"`
}

// CustomerOffers returns the offers of the campaigns the customer's active
// journeys run, leaving out offers the customer rejected (suppressed) and
// those of cancelled campaigns. Priority: offers the customer was messaged
// about, most recent message first; then the others, newest journey first.
// An offer in several journeys appears once, as its highest-priority
// journey has it.
func (s *Store) CustomerOffers(ctx context.Context, customerID string) ([]Offer, error) {
	rows, _ := s.pool.Query(ctx, `
WITH candidates AS (
	SELECT c.offer_id, j.campaign_id, j.workflow_id AS journey_id, j.started_at,
		coalesce(m.channel, '') AS channel, coalesce(m.subject, '') AS subject, coalesce(m.body, '') AS body, m.sent_at
	FROM journeys j
	JOIN campaigns c ON c.id = j.campaign_id AND c.version = j.version
	LEFT JOIN LATERAL (
		SELECT channel, subject, body, sent_at FROM messages
		WHERE journey_id = j.workflow_id AND status = 'sent' ORDER BY sent_at DESC LIMIT 1) m ON true
	WHERE j.customer_id = $1 AND j.status = 'active' AND c.offer_id IS NOT NULL
		AND (SELECT status FROM campaigns WHERE id = j.campaign_id ORDER BY version DESC LIMIT 1) <> 'cancelled'
		AND NOT EXISTS (SELECT 1 FROM suppressions WHERE customer_id = $1 AND offer_id = c.offer_id AND until > now())
), ranked AS (
	SELECT DISTINCT ON (offer_id) * FROM candidates
	ORDER BY offer_id, sent_at DESC NULLS LAST, started_at DESC
)
SELECT r.offer_id, r.campaign_id, r.journey_id, r.channel, r.subject, r.body, r.sent_at,
	coalesce((SELECT code FROM coupons WHERE customer_id = $1 AND offer_id = r.offer_id
		AND redeemed_at IS NULL AND expires_at > now() ORDER BY created_at DESC LIMIT 1), '') AS coupon
FROM ranked r
ORDER BY r.sent_at DESC NULLS LAST, r.started_at DESC`, customerID)
	return pgx.CollectRows(rows, pgx.RowToStructByName[Offer])
}
