package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omni-orchestrator/omni/store"
	"github.com/omni-orchestrator/omni/store/storetest"
)

func TestEventsAreStoredOnceAndPrunedPastTheirRetention(t *testing.T) {
	s, url := storetest.New(t)
	ctx := context.Background()
	if _, err := s.UpsertCustomers(ctx, []store.CustomerPatch{{ID: "c1"}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var events []store.Event
	for _, id := range []string{"old-1", "old-2", "old-3", "new"} {
		events = append(events, store.Event{EventID: id, CustomerID: "c1", Name: "viewed", OccurredAt: now})
	}
	events = append(events, store.Event{EventID: "stranger", CustomerID: "c2", Name: "viewed", OccurredAt: now},
		store.Event{EventID: "new", CustomerID: "c1", Name: "changed", OccurredAt: now})
	_, fresh, known, err := s.RecordEvents(ctx, events)
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{true, true, true, true, false, false}; !slices.Equal(fresh, want) {
		t.Fatalf("fresh = %v, want %v", fresh, want)
	}
	if want := []bool{true, true, true, true, false, true}; !slices.Equal(known, want) {
		t.Fatalf("known = %v, want %v", known, want)
	}
	db, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	if _, err := db.Exec(ctx, `UPDATE events SET received_at = now() - interval '2 days' WHERE event_id LIKE 'old-%'`); err != nil {
		t.Fatal(err)
	}
	var pruned []int
	for range 3 {
		n, err := s.PruneEvents(ctx, now.Add(-24*time.Hour), 2)
		if err != nil {
			t.Fatal(err)
		}
		pruned = append(pruned, n)
	}
	if want := []int{2, 1, 0}; !slices.Equal(pruned, want) {
		t.Fatalf("pruned %v a round, want %v", pruned, want)
	}
	left, err := s.CustomerEvents(ctx, "c1", 10)
	if err != nil || len(left) != 1 || left[0].EventID != "new" || left[0].Name != "viewed" {
		t.Fatalf("left %+v, %v", left, err)
	}
}
