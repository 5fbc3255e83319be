package store

import (
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omni-orchestrator/omni/campaign"
)

// Offer is an offer a customer should see now, with what the journey last
// said about it.
type Offer struct {
	OfferID    string `json:"offer_id" db:"offer_id"`
	CampaignID string `json:"campaign_id" db:"campaign_id"`
	// Source is "journey" for an offer of a campaign the customer is in,
	// "eligible" for one of a campaign whose audience includes the
	// customer, who is not in it yet (no journey, no message).
	Source    string `json:"source" db:"source"`
	JourneyID string `json:"journey_id,omitempty" db:"journey_id"`
	// The last message the journey sent about it, if any.
	Channel string     `json:"channel,omitempty" db:"channel"`
	Subject string     `json:"subject,omitempty" db:"subject"`
	Body    string     `json:"body,omitempty" db:"body"`
	SentAt  *time.Time `json:"sent_at,omitempty" db:"sent_at"`
	// Coupon is the customer's unredeemed, unexpired code for the offer.
	Coupon string `json:"coupon,omitempty" db:"coupon"`
}

// Sources of offers.
const (
	OfferFromJourney = "journey"
	OfferForEligible = "eligible"
)

// CustomerOffers returns the offers the customer should see now, highest
// priority first: (1) the offers of the customer's active journeys that
// messaged the customer, most recent message first; (2) those of active
// journeys that have not messaged yet, newest journey first; (3) the
// offers of live campaigns the customer is eligible for but not in yet
// (a launch's audience includes them: everybody, listed, or matched by
// its filter now), most recent launch first. Offers the customer rejected
// (suppressed) are left out, and so are those of cancelled campaigns. An
// offer several campaigns make appears once, where it ranks highest.
func (s *Store) CustomerOffers(ctx context.Context, c Customer) ([]Offer, error) {
	rows, _ := s.db.Query(ctx, `
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
SELECT r.offer_id, r.campaign_id, $2::text AS source, r.journey_id, r.channel, r.subject, r.body, r.sent_at, ''::text AS coupon
FROM ranked r
ORDER BY r.sent_at DESC NULLS LAST, r.started_at DESC`, c.ID, OfferFromJourney)
	offers, err := pgx.CollectRows(rows, pgx.RowToStructByName[Offer])
	if err != nil {
		return nil, err
	}
	eligible, err := s.eligibleOffers(ctx, c)
	if err != nil {
		return nil, err
	}
	for _, e := range eligible {
		if !slices.ContainsFunc(offers, func(o Offer) bool { return o.OfferID == e.OfferID }) {
			offers = append(offers, e)
		}
	}
	if err := s.openCoupons(ctx, c.ID, offers); err != nil {
		return nil, err
	}
	return offers, nil
}

// eligibleOffers are the offers of live campaigns (active, with journeys
// still running: campaigns have no end date, and one whose journeys are
// all over is over) with a launch whose audience includes the customer,
// who has no journey in them, most recent launch first. Listed audiences
// and segments (their members now) are matched in SQL; filters here, on
// the customer as stored now.
func (s *Store) eligibleOffers(ctx context.Context, c Customer) ([]Offer, error) {
	// Live campaigns first, so that only their launches' audiences (a
	// listed one can hold 100,000 ids) are read.
	rows, _ := s.db.Query(ctx, `
WITH live AS MATERIALIZED (
	SELECT c.id, c.offer_id FROM (SELECT DISTINCT ON (id) id, offer_id, status FROM campaigns ORDER BY id, version DESC) c
	WHERE c.status = 'active' AND c.offer_id IS NOT NULL
		AND EXISTS (SELECT 1 FROM journeys WHERE campaign_id = c.id AND status = 'active')
		AND NOT EXISTS (SELECT 1 FROM journeys WHERE customer_id = $1 AND campaign_id = c.id)
		AND NOT EXISTS (SELECT 1 FROM suppressions WHERE customer_id = $1 AND offer_id = c.offer_id AND until > now())
)
SELECT live.offer_id, live.id, l.audience->'filter'
FROM live JOIN launches l ON l.campaign_id = live.id
WHERE l.audience @> '{"all": true}' OR l.audience->'customer_ids' ? $1
	OR l.audience->>'segment' IN (SELECT segment_id FROM segment_members WHERE customer_id = $1 AND member)
ORDER BY l.created_at DESC`, c.ID)
	var offers []Offer
	var o Offer
	var filter *campaign.Condition
	_, err := pgx.ForEachRow(rows, []any{&o.OfferID, &o.CampaignID, &filter}, func() error {
		if filter == nil || filter.Eval(c.Facts(), nil) {
			if !slices.ContainsFunc(offers, func(e Offer) bool { return e.OfferID == o.OfferID }) {
				offers = append(offers, Offer{OfferID: o.OfferID, CampaignID: o.CampaignID, Source: OfferForEligible})
			}
		}
		filter = nil
		return nil
	})
	return offers, err
}

// openCoupons fills in each offer's coupon: the customer's newest
// unredeemed, unexpired code for it.
func (s *Store) openCoupons(ctx context.Context, customerID string, offers []Offer) error {
	if len(offers) == 0 {
		return nil
	}
	rows, _ := s.db.Query(ctx, `
SELECT DISTINCT ON (offer_id) offer_id, code FROM coupons
WHERE customer_id = $1 AND redeemed_at IS NULL AND expires_at > now()
ORDER BY offer_id, created_at DESC`, customerID)
	var offerID, code string
	_, err := pgx.ForEachRow(rows, []any{&offerID, &code}, func() error {
		for i := range offers {
			if offers[i].OfferID == offerID {
				offers[i].Coupon = code
			}
		}
		return nil
	})
	return err
}
