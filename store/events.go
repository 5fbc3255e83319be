package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Event is something a customer did, as the shop, the app or a pipeline
// reports it.
type Event struct {
	EventID    string         `json:"event_id" db:"event_id"`
	CustomerID string         `json:"customer_id" db:"customer_id"`
	Name       string         `json:"name" db:"name"`
	OccurredAt time.Time      `json:"occurred_at" db:"occurred_at"`
	ReceivedAt time.Time      `json:"received_at" db:"received_at"`
	Properties map[string]any `json:"properties,omitempty" db:"properties"`
	RoutedAt   *time.Time     `json:"routed_at,omitempty" db:"routed_at"`
}

const eventColumns = `event_id, customer_id, name, occurred_at, received_at, properties, routed_at`

// RecordEvents stores events once per event id, all in one statement, and
// returns each as stored: new says this call stored it; an event whose
// customer does not exist is not stored (its known is false). An event
// given with RoutedAt set is stored as routed, at the time of storing: the
// caller found nothing to route it to.
func (s *Store) RecordEvents(ctx context.Context, events []Event) (stored []Event, new, known []bool, err error) {
	ids, customers, names := make([]string, len(events)), make([]string, len(events)), make([]string, len(events))
	at, props := make([]time.Time, len(events)), make([]map[string]any, len(events))
	routed := make([]bool, len(events))
	for i, e := range events {
		ids[i], customers[i], names[i], at[i], props[i] = e.EventID, e.CustomerID, e.Name, e.OccurredAt, e.Properties
		routed[i] = e.RoutedAt != nil
		if props[i] == nil {
			props[i] = map[string]any{}
		}
	}
	rows, _ := s.db.Query(ctx, `SELECT id FROM customers WHERE id = ANY($1)`, customers)
	existing, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, nil, nil, err
	}
	exists := make(map[string]bool, len(existing))
	for _, id := range existing {
		exists[id] = true
	}
	rows, _ = s.db.Query(ctx, `
INSERT INTO events (event_id, customer_id, name, occurred_at, properties, routed_at)
SELECT event_id, customer_id, name, occurred_at, properties, CASE WHEN routed THEN now() END
FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::jsonb[], $7::bool[]) AS e(event_id, customer_id, name, occurred_at, properties, routed)
WHERE customer_id = ANY($6)
ON CONFLICT (event_id) DO NOTHING
RETURNING `+eventColumns, ids, customers, names, at, props, existing, routed)
	inserted, err := pgx.CollectRows(rows, pgx.RowToStructByName[Event])
	if err != nil {
		return nil, nil, nil, err
	}
	byID := make(map[string]Event, len(events))
	fresh := make(map[string]bool, len(inserted))
	for _, e := range inserted {
		byID[e.EventID], fresh[e.EventID] = e, true
	}
	var before []string
	for i, e := range events {
		if _, ok := byID[e.EventID]; !ok && exists[customers[i]] {
			before = append(before, e.EventID)
		}
	}
	if len(before) > 0 {
		rows, _ = s.db.Query(ctx, `SELECT `+eventColumns+` FROM events WHERE event_id = ANY($1)`, before)
		old, err := pgx.CollectRows(rows, pgx.RowToStructByName[Event])
		if err != nil {
			return nil, nil, nil, err
		}
		for _, e := range old {
			byID[e.EventID] = e
		}
	}
	stored, new, known = make([]Event, len(events)), make([]bool, len(events)), make([]bool, len(events))
	for i, e := range events {
		got, ok := byID[e.EventID]
		if !ok { // its customer is unknown (or another customer's event has its id)
			stored[i] = e
			continue
		}
		stored[i], known[i] = got, true
		// The first occurrence of an id in the batch is the new one.
		new[i], fresh[e.EventID] = fresh[e.EventID], false
	}
	return stored, new, known, nil
}

// MarkEventsRouted records that events entered their campaigns and reached
// their journeys.
func (s *Store) MarkEventsRouted(ctx context.Context, ids []string) error {
	_, err := s.db.Exec(ctx, `UPDATE events SET routed_at = now() WHERE event_id = ANY($1) AND routed_at IS NULL`, ids)
	return err
}

// Listeners finds the customers' active journeys whose campaign version
// waits for or exits on an event of one of names: by customer, then by
// event name, their workflow ids.
func (s *Store) Listeners(ctx context.Context, customers, names []string) (map[string]map[string][]string, error) {
	rows, _ := s.db.Query(ctx, `SELECT j.customer_id, j.workflow_id, c.listens FROM campaigns c
JOIN journeys j ON j.campaign_id = c.id AND j.version = c.version
WHERE c.listens && $2 AND j.customer_id = ANY($1) AND j.status = 'active' ORDER BY j.workflow_id`, customers, names)
	out := map[string]map[string][]string{}
	var customer, journey string
	var listens []string
	_, err := pgx.ForEachRow(rows, []any{&customer, &journey, &listens}, func() error {
		if out[customer] == nil {
			out[customer] = map[string][]string{}
		}
		for _, n := range listens {
			out[customer][n] = append(out[customer][n], journey)
		}
		return nil
	})
	return out, err
}

// CustomerEvents lists a customer's latest events, newest first.
func (s *Store) CustomerEvents(ctx context.Context, customerID string, limit int) ([]Event, error) {
	rows, _ := s.db.Query(ctx, `SELECT `+eventColumns+` FROM events WHERE customer_id = $1 ORDER BY occurred_at DESC LIMIT $2`, customerID, limit)
	return pgx.CollectRows(rows, pgx.RowToStructByName[Event])
}

// PruneEvents deletes up to limit events received before, oldest first,
// and reports how many it deleted.
func (s *Store) PruneEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM events WHERE event_id IN (
	SELECT event_id FROM events WHERE received_at < $1 ORDER BY received_at LIMIT $2)`, before, limit)
	return int(tag.RowsAffected()), err
}
