package store

import (
	"context"
	"crypto/rand"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// Coupon is a personal, single-use code for a campaign's offer.
type Coupon struct {
	Code            string     `json:"code" db:"code"`
	CustomerID      string     `json:"customer_id" db:"customer_id"`
	CampaignID      string     `json:"campaign_id" db:"campaign_id"`
	JourneyID       string     `json:"journey_id" db:"journey_id"`
	OfferID         string     `json:"offer_id" db:"offer_id"`
	CreatedAt       time.Time  `json:"created_at" db:"created_at"`
	ExpiresAt       time.Time  `json:"expires_at" db:"expires_at"`
	RedeemedAt      *time.Time `json:"redeemed_at,omitempty" db:"redeemed_at"`
	RedeemedChannel string     `json:"redeemed_channel,omitempty" db:"redeemed_channel"`
	OrderRef        string     `json:"order_ref,omitempty" db:"order_ref"`
}

const couponColumns = `code, customer_id, campaign_id, journey_id, offer_id, created_at, expires_at, redeemed_at,
	coalesce(redeemed_channel, '') AS redeemed_channel, coalesce(order_ref, '') AS order_ref`

// Why a coupon does not redeem.
var (
	ErrRedeemed = errors.New("the coupon was redeemed already")
	ErrExpired  = errors.New("the coupon has expired")
)

// codeAlphabet leaves out 0/O and 1/I, which people misread at a till.
const codeAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// IssueCoupon issues c under key, once: asked again with the same key it
// returns the coupon issued first. The code is prefix plus length random
// characters.
func (s *Store) IssueCoupon(ctx context.Context, key string, c Coupon, prefix string, length int) (Coupon, error) {
	for {
		code := make([]byte, length)
		random := make([]byte, length)
		if _, err := rand.Read(random); err != nil {
			return Coupon{}, err
		}
		for i, b := range random {
			code[i] = codeAlphabet[int(b)%len(codeAlphabet)]
		}
		rows, _ := s.db.Query(ctx, `
WITH issued AS (
	INSERT INTO coupons (code, idempotency_key, customer_id, campaign_id, journey_id, offer_id, expires_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING `+couponColumns+`)
SELECT * FROM issued UNION ALL SELECT `+couponColumns+` FROM coupons WHERE idempotency_key = $2`,
			prefix+string(code), key, c.CustomerID, c.CampaignID, c.JourneyID, c.OfferID, c.ExpiresAt)
		got, err := collectOne(rows, pgx.RowToStructByName[Coupon])
		if !errors.Is(err, ErrNotFound) {
			return got, err
		}
		// The random code was taken by another coupon: draw again.
	}
}

// RedeemCoupon redeems a code once, whatever the channel: of two
// concurrent redemptions one wins, the other gets ErrRedeemed.
func (s *Store) RedeemCoupon(ctx context.Context, code, channel, orderRef string) (Coupon, error) {
	rows, _ := s.db.Query(ctx, `UPDATE coupons SET redeemed_at = now(), redeemed_channel = $2, order_ref = nullif($3, '')
WHERE code = $1 AND redeemed_at IS NULL AND expires_at > now() RETURNING `+couponColumns, code, channel, orderRef)
	c, err := collectOne(rows, pgx.RowToStructByName[Coupon])
	if !errors.Is(err, ErrNotFound) {
		return c, err
	}
	rows, _ = s.db.Query(ctx, `SELECT `+couponColumns+` FROM coupons WHERE code = $1`, code)
	if c, err = collectOne(rows, pgx.RowToStructByName[Coupon]); err != nil {
		return c, err
	}
	if c.RedeemedAt != nil {
		return c, ErrRedeemed
	}
	return c, ErrExpired
}

// CustomerCoupons lists a customer's coupons, newest first.
func (s *Store) CustomerCoupons(ctx context.Context, customerID string) ([]Coupon, error) {
	rows, _ := s.db.Query(ctx, `SELECT `+couponColumns+` FROM coupons WHERE customer_id = $1 ORDER BY created_at DESC`, customerID)
	return pgx.CollectRows(rows, pgx.RowToStructByName[Coupon])
}
