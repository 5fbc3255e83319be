package store_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/store"
	"github.com/omni-orchestrator/omni/store/storetest"
)

func defineSegment(t *testing.T, s *store.Store, doc string) {
	t.Helper()
	def, ps := campaign.ParseSegment([]byte(doc))
	if len(ps) > 0 {
		t.Fatalf("segment: %v", ps)
	}
	if _, _, err := s.DefineSegment(context.Background(), def); err != nil {
		t.Fatal(err)
	}
}

// members lists a segment's members.
func members(t *testing.T, s *store.Store, segment string) []string {
	t.Helper()
	ms, err := s.SegmentMembers(context.Background(), segment, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, m := range ms {
		out = append(out, m.CustomerID)
	}
	return out
}

func wantMembers(t *testing.T, s *store.Store, segment string, want ...string) {
	t.Helper()
	if got := members(t, s, segment); !slices.Equal(got, append([]string{}, want...)) {
		t.Errorf("%s has %v, want %v", segment, got, want)
	}
}

// record stores events and re-evaluates their customers' segments, as
// recording events does.
func record(t *testing.T, s *store.Store, events ...store.Event) []store.Transition {
	t.Helper()
	ctx := context.Background()
	var ids, names []string
	for i := range events {
		if events[i].OccurredAt.IsZero() {
			events[i].OccurredAt = time.Now()
		}
		ids, names = append(ids, events[i].CustomerID), append(names, events[i].Name)
	}
	if _, _, _, err := s.RecordEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	ts, err := s.RefreshSegments(ctx, ids, store.Affects{Events: names})
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func transitions(ts []store.Transition) []string {
	var out []string
	for _, tr := range ts {
		verb := "left"
		if tr.Entered {
			verb = "entered"
		}
		out = append(out, fmt.Sprintf("%s %s %s", tr.CustomerID, verb, tr.SegmentID))
	}
	slices.Sort(out)
	return out
}

// triggeredBy stores a campaign that entering (or leaving) the segment
// triggers, so that its transitions are recorded.
func triggeredBy(t *testing.T, s *store.Store, segment string) {
	t.Helper()
	def := &campaign.Definition{ID: "on-" + segment, StartAt: "done", Trigger: &campaign.Trigger{Segment: segment},
		Steps: map[string]campaign.Step{"done": {Exit: &campaign.Exit{}}}}
	if _, err := s.CreateCampaign(context.Background(), def); err != nil {
		t.Fatal(err)
	}
}

func TestSegmentMembershipIsComputedOnDefinitionAndFollowsEventsAndProfiles(t *testing.T) {
	s, _ := storetest.New(t)
	ctx := context.Background()
	if _, err := s.UpsertCustomers(ctx, []store.CustomerPatch{
		{ID: "ada", Email: ptr("ada@example.com"), Attributes: map[string]any{"tier": "gold", "spend": 120}},
		{ID: "bob", Attributes: map[string]any{"tier": "silver", "spend": 80}},
		{ID: "cy", Email: ptr("cy@example.com"), Attributes: map[string]any{"tier": "gold"}},
	}); err != nil {
		t.Fatal(err)
	}
	hour := time.Now().Add(-time.Hour)
	record(t, s,
		store.Event{EventID: "o1", CustomerID: "ada", Name: "order_placed", OccurredAt: hour},
		store.Event{EventID: "o2", CustomerID: "ada", Name: "order_placed", OccurredAt: hour.Add(-time.Hour)},
		store.Event{EventID: "o3", CustomerID: "bob", Name: "order_placed", OccurredAt: hour},
		store.Event{EventID: "o4", CustomerID: "cy", Name: "order_placed", OccurredAt: time.Now().Add(-30 * 24 * time.Hour)},
	)
	defineSegment(t, s, `{"id": "gold-buyers", "where": {"all": [
		{"attribute": "tier", "in": ["gold"]}, {"performed": {"event": "order_placed", "at_least": 2, "within": "7d"}}]}}`)
	defineSegment(t, s, `{"id": "lapsed", "where": {"performed": {"event": "order_placed", "last_before": "2w"}}}`)
	defineSegment(t, s, `{"id": "never-reviewed", "where": {"all": [{"reachable": "email"},
		{"performed": {"event": "review_written", "never": true}}]}}`)
	defineSegment(t, s, `{"id": "big", "where": {"any": [{"attribute": "spend", "gte": 100}, {"not": {"attribute": "spend", "exists": true}}]}}`)
	wantMembers(t, s, "gold-buyers", "ada")
	wantMembers(t, s, "lapsed", "cy")
	wantMembers(t, s, "never-reviewed", "ada", "cy")
	wantMembers(t, s, "big", "ada", "cy")
	triggeredBy(t, s, "gold-buyers")
	triggeredBy(t, s, "never-reviewed")

	// Bob turns gold: the profile change alone is not enough, his
	// second order is; Ada's review takes her out of never-reviewed.
	if _, err := s.UpsertCustomers(ctx, []store.CustomerPatch{{ID: "bob", Attributes: map[string]any{"tier": "gold"}}}); err != nil {
		t.Fatal(err)
	}
	if ts, err := s.RefreshSegments(ctx, []string{"bob"}, store.Affects{Fields: []string{"attributes.tier"}}); err != nil || len(ts) != 0 {
		t.Fatalf("bob's tier changed: %v, %v", ts, err)
	}
	ts := record(t, s,
		store.Event{EventID: "o5", CustomerID: "bob", Name: "order_placed"},
		store.Event{EventID: "r1", CustomerID: "ada", Name: "review_written"},
	)
	if got, want := transitions(ts), []string{"ada left never-reviewed", "bob entered gold-buyers"}; !slices.Equal(got, want) {
		t.Errorf("transitions %v, want %v", got, want)
	}
	wantMembers(t, s, "gold-buyers", "ada", "bob")
	wantMembers(t, s, "never-reviewed", "cy")
	// Re-evaluating again (an event posted twice) changes nothing.
	if ts := record(t, s, store.Event{EventID: "o5", CustomerID: "bob", Name: "order_placed"}); len(ts) != 0 {
		t.Errorf("a repeat recorded %v", transitions(ts))
	}
	// An unrelated event touches no segment.
	if ts := record(t, s, store.Event{EventID: "p1", CustomerID: "cy", Name: "page_viewed"}); len(ts) != 0 {
		t.Errorf("an unrelated event recorded %v", transitions(ts))
	}
	if n, err := s.SegmentSize(ctx, "gold-buyers"); err != nil || n != 2 {
		t.Errorf("size %d, %v", n, err)
	}
	got, err := s.CustomerSegments(ctx, "ada")
	if err != nil || len(got) != 2 || got[0].SegmentID != "big" || got[1].SegmentID != "gold-buyers" {
		t.Errorf("ada's segments: %+v, %v", got, err)
	}
	// Replacing a definition recomputes its members; who stays in keeps
	// their since.
	before, err := s.SegmentMembers(ctx, "gold-buyers", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	defineSegment(t, s, `{"id": "gold-buyers", "where": {"performed": {"event": "order_placed", "at_least": 1, "within": "7d"}}}`)
	wantMembers(t, s, "gold-buyers", "ada", "bob")
	if after, err := s.SegmentMembers(ctx, "gold-buyers", "", 10); err != nil || !after[0].Since.Equal(before[0].Since) {
		t.Errorf("ada's since %v, was %v (%v)", after, before, err)
	}
	defineSegment(t, s, `{"id": "gold-buyers", "where": {"performed": {"event": "order_placed", "at_least": 3}}}`)
	wantMembers(t, s, "gold-buyers")
}

// Time alone moves customers out of a window and into a lapse: the due
// standings are re-evaluated, and only those.
func TestSegmentWindowsEndByTime(t *testing.T) {
	s, _ := storetest.New(t)
	ctx := context.Background()
	if _, err := s.UpsertCustomers(ctx, []store.CustomerPatch{{ID: "ada"}, {ID: "bob"}}); err != nil {
		t.Fatal(err)
	}
	defineSegment(t, s, `{"id": "active", "where": {"performed": {"event": "app_opened", "within": "2s"}}}`)
	defineSegment(t, s, `{"id": "dormant", "where": {"performed": {"event": "app_opened", "last_before": "2s"}}}`)
	triggeredBy(t, s, "active")
	triggeredBy(t, s, "dormant")
	opened := time.Now()
	ts := record(t, s, store.Event{EventID: "a1", CustomerID: "ada", Name: "app_opened", OccurredAt: opened})
	if got := transitions(ts); !slices.Equal(got, []string{"ada entered active"}) {
		t.Fatalf("transitions %v", got)
	}
	if ts, n, err := s.RefreshDueSegments(ctx, 100); err != nil || n != 0 || len(ts) != 0 {
		t.Fatalf("nothing is due yet: %d, %v, %v", n, ts, err)
	}
	time.Sleep(time.Until(opened.Add(2*time.Second + 100*time.Millisecond)))
	ts, n, err := s.RefreshDueSegments(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := transitions(ts), []string{"ada entered dormant", "ada left active"}; n != 2 || !slices.Equal(got, want) {
		t.Errorf("due: %d standings, transitions %v, want %v", n, got, want)
	}
	wantMembers(t, s, "active")
	wantMembers(t, s, "dormant", "ada")
	if ts, n, err := s.RefreshDueSegments(ctx, 100); err != nil || n != 0 || len(ts) != 0 {
		t.Errorf("due again: %d, %v, %v", n, ts, err)
	}
}

// Changes of one customer at once record one transition.
func TestConcurrentRefreshesRecordOneTransition(t *testing.T) {
	s, _ := storetest.New(t)
	ctx := context.Background()
	if _, err := s.UpsertCustomers(ctx, []store.CustomerPatch{{ID: "ada"}}); err != nil {
		t.Fatal(err)
	}
	defineSegment(t, s, `{"id": "buyers", "where": {"performed": {"event": "order_placed"}}}`)
	triggeredBy(t, s, "buyers")
	if _, _, _, err := s.RecordEvents(ctx, []store.Event{{EventID: "o1", CustomerID: "ada", Name: "order_placed", OccurredAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var all []store.Transition
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			ts, err := s.RefreshSegments(ctx, []string{"ada"}, store.Affects{Events: []string{"order_placed"}})
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			all = append(all, ts...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if got := transitions(all); !slices.Equal(got, []string{"ada entered buyers"}) {
		t.Errorf("transitions %v", got)
	}
}

// A later event keeps the member in until its own window ends: the
// earlier end recorded is re-evaluated and moved on, not taken for the
// end.
func TestALaterEventKeepsTheMemberInUntilItsWindowEnds(t *testing.T) {
	s, _ := storetest.New(t)
	ctx := context.Background()
	if _, err := s.UpsertCustomers(ctx, []store.CustomerPatch{{ID: "ada"}}); err != nil {
		t.Fatal(err)
	}
	defineSegment(t, s, `{"id": "active", "where": {"performed": {"event": "app_opened", "within": "2s"}}}`)
	triggeredBy(t, s, "active")
	first := time.Now()
	record(t, s, store.Event{EventID: "a1", CustomerID: "ada", Name: "app_opened", OccurredAt: first})
	time.Sleep(time.Second)
	second := time.Now()
	if ts := record(t, s, store.Event{EventID: "a2", CustomerID: "ada", Name: "app_opened", OccurredAt: second}); len(ts) != 0 {
		t.Fatalf("a second event recorded %v", transitions(ts))
	}
	time.Sleep(time.Until(first.Add(2*time.Second + 100*time.Millisecond)))
	if ts, n, err := s.RefreshDueSegments(ctx, 100); err != nil || n != 1 || len(ts) != 0 {
		t.Fatalf("the first window's end: %d standings, %v, %v", n, transitions(ts), err)
	}
	wantMembers(t, s, "active", "ada")
	time.Sleep(time.Until(second.Add(2*time.Second + 100*time.Millisecond)))
	ts, n, err := s.RefreshDueSegments(ctx, 100)
	if err != nil || n != 1 || !slices.Equal(transitions(ts), []string{"ada left active"}) {
		t.Fatalf("the second window's end: %d standings, %v, %v", n, transitions(ts), err)
	}
}
