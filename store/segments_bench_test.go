package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/store"
	"github.com/omni-orchestrator/omni/store/storetest"
)

// benchSegments are ten segments that all test order_placed, the event the
// benchmark records, so that every event re-evaluates all ten: windows,
// counts, lapses, never, with profile tests beside them.
var benchSegments = []string{
	`{"id": "s01", "where": {"performed": {"event": "order_placed", "within": "7d"}}}`,
	`{"id": "s02", "where": {"performed": {"event": "order_placed", "at_least": 3, "within": "30d"}}}`,
	`{"id": "s03", "where": {"performed": {"event": "order_placed", "last_before": "14d"}}}`,
	`{"id": "s04", "where": {"performed": {"event": "order_placed", "last_after": "2d"}}}`,
	`{"id": "s05", "where": {"performed": {"event": "order_placed", "never": true, "within": "30d"}}}`,
	`{"id": "s06", "where": {"all": [{"attribute": "tier", "equals": "gold"}, {"performed": {"event": "order_placed", "at_least": 2, "within": "30d"}}]}}`,
	`{"id": "s07", "where": {"any": [{"attribute": "spend", "gte": 400}, {"performed": {"event": "order_placed", "at_least": 5}}]}}`,
	`{"id": "s08", "where": {"all": [{"reachable": "email"}, {"consent": "email"}, {"performed": {"event": "order_placed", "last_before": "30d"}}]}}`,
	`{"id": "s09", "where": {"all": [{"attribute": "tier", "exists": true}, {"not": {"performed": {"event": "order_placed", "within": "1d"}}}]}}`,
	`{"id": "s10", "where": {"all": [{"performed": {"event": "order_placed", "within": "7d"}}, {"performed": {"event": "page_viewed", "within": "1d"}}]}}`,
}

// BenchmarkSegmentUpdate measures what keeping segments costs per event,
// on 100,000 customers with 300,000 events of history: recording an event
// alone (RecordEvents), against recording it and re-evaluating its
// customer in the ten segments that test it (RecordEvents +
// RefreshSegments, as POST /v1/events does), one event at a time and in
// batches of 1,000, in alternating rounds on one database. It reports p50
// and p99 per event and the ratio, and how long defining a segment (its
// membership over all customers) takes. Run it with -benchtime 1x (make
// bench does).
func BenchmarkSegmentUpdate(b *testing.B) {
	ctx := context.Background()
	st, url := storetest.New(b)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	const customers, history = 100_000, 300_000
	for _, q := range []string{
		`INSERT INTO customers (id, email, consent_email, attributes)
SELECT 'c' || lpad(i::text, 6, '0'), CASE WHEN i % 2 = 0 THEN 'c' || i || '@example.com' END, i % 5 <> 0,
	jsonb_build_object('tier', (ARRAY['gold', 'silver', 'bronze'])[i % 3 + 1], 'spend', i % 500)
FROM generate_series(1, ` + fmt.Sprint(customers) + `) i`,
		`INSERT INTO events (event_id, customer_id, name, occurred_at)
SELECT 'h' || i, 'c' || lpad((i % ` + fmt.Sprint(customers) + ` + 1)::text, 6, '0'), (ARRAY['order_placed', 'page_viewed', 'cart_abandoned'])[i % 3 + 1],
	now() - (i % (86400 * 60)) * interval '1 second'
FROM generate_series(1, ` + fmt.Sprint(history) + `) i`,
		`ANALYZE`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	began := time.Now()
	for _, doc := range benchSegments {
		def, ps := campaign.ParseSegment([]byte(doc))
		if len(ps) > 0 {
			b.Fatal(ps)
		}
		if _, _, err := st.DefineSegment(ctx, def); err != nil {
			b.Fatal(err)
		}
	}
	define := time.Since(began) / time.Duration(len(benchSegments))
	// A campaign triggered by one of them, so that transitions are recorded.
	trigger := &campaign.Definition{ID: "bench", StartAt: "done", Trigger: &campaign.Trigger{Segment: "s01"},
		Steps: map[string]campaign.Step{"done": {Exit: &campaign.Exit{}}}}
	if _, err := st.CreateCampaign(ctx, trigger); err != nil {
		b.Fatal(err)
	}

	n := 0
	events := func(k int) []store.Event {
		out := make([]store.Event, k)
		for i := range out {
			n++
			// Distinct customers in a batch, as many systems send them.
			c := (rand.IntN(customers/k)*k + i) % customers
			out[i] = store.Event{EventID: fmt.Sprintf("b%d", n), CustomerID: fmt.Sprintf("c%06d", c+1), Name: "order_placed", OccurredAt: time.Now()}
		}
		return out
	}
	record := func(batch []store.Event, segments bool) error {
		if _, _, _, err := st.RecordEvents(ctx, batch); err != nil {
			return err
		}
		if !segments {
			return nil
		}
		ids := make([]string, len(batch))
		for i, e := range batch {
			ids[i] = e.CustomerID
		}
		_, err := st.RefreshSegments(ctx, ids, store.Affects{Events: []string{"order_placed"}})
		return err
	}
	// per runs calls of batch events each, and answers the time per event
	// of each call.
	per := func(batch, calls int, segments bool) []time.Duration {
		out := make([]time.Duration, 0, calls)
		for range calls {
			evs := events(batch)
			t0 := time.Now()
			if err := record(evs, segments); err != nil {
				b.Fatal(err)
			}
			out = append(out, time.Since(t0)/time.Duration(batch))
		}
		return out
	}
	b.ResetTimer()
	for range b.N {
		for _, shape := range []struct {
			name         string
			batch, calls int
		}{{"one event a call", 1, 400}, {"1,000 events a call", 1000, 6}} {
			var plain, kept []time.Duration
			for range 3 {
				plain = append(plain, per(shape.batch, shape.calls, false)...)
				kept = append(kept, per(shape.batch, shape.calls, true)...)
			}
			p := func(d []time.Duration, q float64) time.Duration {
				s := slices.Sorted(slices.Values(d))
				return s[min(len(s)-1, int(q*float64(len(s))))]
			}
			mean := func(d []time.Duration) time.Duration {
				var sum time.Duration
				for _, x := range d {
					sum += x
				}
				return sum / time.Duration(len(d))
			}
			b.Logf("%s: per event without segments p50 %v p99 %v (%.0f events/s); with 10 segments p50 %v p99 %v (%.0f events/s); cost %.2fx",
				shape.name, p(plain, .5), p(plain, .99), float64(time.Second)/float64(mean(plain)),
				p(kept, .5), p(kept, .99), float64(time.Second)/float64(mean(kept)), float64(mean(kept))/float64(mean(plain)))
			tag := "single"
			if shape.batch > 1 {
				tag = "batch"
			}
			b.ReportMetric(float64(p(kept, .5).Microseconds()), tag+"-segments-p50-µs/event")
			b.ReportMetric(float64(p(plain, .5).Microseconds()), tag+"-plain-p50-µs/event")
			b.ReportMetric(float64(mean(kept))/float64(mean(plain)), tag+"-cost-x")
		}
	}
	b.StopTimer()
	b.Logf("defining a segment over %d customers and %d events: %v each (of %d)", customers, history, define.Round(time.Millisecond), len(benchSegments))
	b.ReportMetric(float64(define.Milliseconds()), "define-ms/segment")
}
