package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Suppression keeps an offer away from a customer who rejected it.
type Suppression struct {
	CustomerID string    `json:"customer_id" db:"customer_id"`
	OfferID    string    `json:"offer_id" db:"offer_id"`
	Until      time.Time `json:"until" db:"until"`
	Reason     string    `json:"reason" db:"reason"`
	EventID    string    `json:"event_id,omitempty" db:"event_id"`
	CreatedAt  time.Time `json:"created_at" db:"created_at"`
}

// suppress writes a suppression in tx, extending one that exists. It locks
// the customer first, as sends do, so a send recorded after the suppression
// commits sees it.
func suppress(ctx context.Context, tx pgx.Tx, s Suppression) error {
	if err := lockCustomer(ctx, tx, s.CustomerID); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `
INSERT INTO suppressions (customer_id, offer_id, until, reason, event_id) VALUES ($1, $2, $3, $4, nullif($5, ''))
ON CONFLICT (customer_id, offer_id) DO UPDATE SET until = greatest(suppressions.until, excluded.until),
	reason = excluded.reason, event_id = excluded.event_id`,
		s.CustomerID, s.OfferID, s.Until, s.Reason, s.EventID)
	return err
}

// lockCustomer serialises the writes that must see each other per customer:
// sends (frequency cap, suppression check) and suppressions.
func lockCustomer(ctx context.Context, tx pgx.Tx, customerID string) error {
	_, err := tx.Exec(ctx, `SELECT 1 FROM customers WHERE id = $1 FOR UPDATE`, customerID)
	return err
}

// Suppressed reports whether the customer has an active suppression of the offer.
func (s *Store) Suppressed(ctx context.Context, customerID, offerID string) (bool, error) {
	var found bool
	err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM suppressions WHERE customer_id = $1 AND offer_id = $2 AND until > now())`,
		customerID, offerID).Scan(&found)
	return found, err
}

// CustomerSuppressions lists the customer's active suppressions.
func (s *Store) CustomerSuppressions(ctx context.Context, customerID string) ([]Suppression, error) {
	rows, _ := s.db.Query(ctx, `
SELECT customer_id, offer_id, until, reason, coalesce(event_id, '') AS event_id, created_at
FROM suppressions WHERE customer_id = $1 AND until > now() ORDER BY until DESC`, customerID)
	return pgx.CollectRows(rows, pgx.RowToStructByName[Suppression])
}
