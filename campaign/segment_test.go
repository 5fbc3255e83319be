package campaign_test

import (
	"slices"
	"testing"
	"time"

	"github.com/omni-orchestrator/omni/campaign"
)

func TestSegmentsParseWithTheirBehaviourAndInputs(t *testing.T) {
	s, ps := campaign.ParseSegment([]byte(`{"id": "lapsed", "name": "Lapsed gold", "where": {"all": [
		{"attribute": "address.city", "equals": "Berlin"}, {"consent": "email"}, {"reachable": "push"},
		{"performed": {"event": "order_placed", "at_least": 2}},
		{"performed": {"event": "order_placed", "last_before": "2w"}},
		{"not": {"performed": {"event": "refund", "never": true, "within": "36h"}}}]}}`))
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	want := []campaign.Behaviour{
		{Event: "order_placed", Count: 2, Holds: campaign.HoldsRecent},
		{Event: "order_placed", Count: 1, Window: 14 * 24 * time.Hour, Holds: campaign.HoldsLapsed},
		{Event: "refund", Count: 1, Window: 36 * time.Hour, Holds: campaign.HoldsNotRecent},
	}
	if got := s.Where.Behaviours(); !slices.Equal(got, want) {
		t.Errorf("behaviours %+v, want %+v", got, want)
	}
	events, fields := s.Where.SegmentInputs()
	if !slices.Equal(events, []string{"order_placed", "refund"}) || !slices.Equal(fields, []string{"attributes.address", "consent.email", "push_token"}) {
		t.Errorf("inputs %v %v", events, fields)
	}
}

func TestBadSegmentsReportEveryProblemAtItsPath(t *testing.T) {
	_, ps := campaign.ParseSegment([]byte(`{"id": "", "where": {"any": [
		{"performed": {"event": "x", "within": "7 days"}},
		{"performed": {"event": "x", "last_after": "1d", "at_least": 2}},
		{"performed": {"event": "x", "within": "0s"}},
		{"performed": {"event": "x", "last_before": "5000w"}},
		{"responded": "clicked"},
		{"performed": {"event": "x"}, "attribute": "tier", "equals": 1},
		{"any": []}]}}`))
	var paths []string
	for _, p := range ps {
		paths = append(paths, p.Path)
	}
	for _, want := range []string{"id", "where.any[0].performed.within", "where.any[1].performed", "where.any[2].performed.within",
		"where.any[3].performed.last_before", "where.any[4].responded", "where.any[5]", "where.any[6].any"} {
		if !slices.Contains(paths, want) {
			t.Errorf("no problem at %s: %v", want, ps)
		}
	}
	// performed belongs to segments: a branch refuses it.
	if _, ps := campaign.Parse([]byte(`{"id": "c", "start_at": "b", "steps": {
		"b": {"branch": [{"when": {"performed": {"event": "x"}}, "next": "done"}], "else": "done"}, "done": {"exit": {}}}}`)); len(ps) == 0 {
		t.Error("a branch took a performed test")
	}
}
