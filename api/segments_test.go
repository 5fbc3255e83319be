package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// segmentCampaign is a campaign that entering (or leaving, on) the segment
// triggers: one email naming the segment.
func segmentCampaign(id, segment, on string) string {
	return fmt.Sprintf(`{"id": %q, "start_at": "email-1", "trigger": {"segment": %q, "on": %q},
  "steps": {
    "email-1": {"send": {"channel": "email", "template": {"subject": "Hi", "body": "{{event.segment}}: %s"}}, "next": "done"},
    "done":    {"exit": {}}}}`, id, segment, on, on)
}

// segmentMembers lists a segment's members through the API, all pages.
func segmentMembers(c *client, segment string) []string {
	out := []string{}
	for after := ""; ; {
		page := c.must(200, "GET", "/v1/segments/"+segment+"/customers?limit=2&after="+url.QueryEscape(after), nil)
		for _, m := range page["customers"].([]any) {
			out = append(out, m.(map[string]any)["customer_id"].(string))
		}
		next, _ := page["next"].(string)
		if next == "" {
			return out
		}
		after = next
	}
}

func TestASegmentTriggerFiresWhenAnEventMakesACustomerQualify(t *testing.T) {
	c, _ := start(t)
	c.must(200, "POST", "/v1/customers", `[{"id": "ada", "email": "ada@example.com", "attributes": {"tier": "gold"}},
		{"id": "bob", "email": "bob@example.com", "attributes": {"tier": "silver"}}]`)
	seg := c.must(201, "POST", "/v1/segments", `{"id": "vip", "name": "Gold buyers", "where": {"all": [
		{"attribute": "tier", "equals": "gold"},
		{"performed": {"event": "order_placed", "at_least": 2, "within": "7d"}}]}}`)
	if seg["size"] != 0.0 || seg["name"] != "Gold buyers" {
		t.Fatalf("the new segment: %v", seg)
	}
	c.must(201, "POST", "/v1/campaigns", segmentCampaign("vip-welcome", "vip", "enter"))

	c.must(201, "POST", "/v1/events", event("o1", "ada", "order_placed", nil))
	if js := journeysOf(c, "ada", "vip-welcome"); len(js) != 0 {
		t.Fatalf("one order entered the segment: %v", js)
	}
	c.must(201, "POST", "/v1/events", event("o2", "ada", "order_placed", nil))
	if js := journeysOf(c, "ada", "vip-welcome"); js["journey:vip-welcome:ada"] == nil {
		t.Fatalf("the second order did not trigger the campaign at once: %v", js)
	}
	eventually(t, "the segment's email", func() bool { return len(messagesOf(c, "ada", "journey:vip-welcome:ada")) == 1 })
	if m := messages(c.must(200, "GET", "/v1/customers/ada", nil))[0]; m["body"] != "vip: enter" {
		t.Errorf("the email: %v", m["body"])
	}
	// Bob's orders do not make a silver customer a member; his upgrade does.
	c.must(200, "POST", "/v1/events", []any{event("o3", "bob", "order_placed", nil), event("o4", "bob", "order_placed", nil)})
	if got := segmentMembers(c, "vip"); !slices.Equal(got, []string{"ada"}) {
		t.Fatalf("members %v", got)
	}
	c.must(200, "POST", "/v1/customers", `{"id": "bob", "attributes": {"tier": "gold"}}`)
	if js := journeysOf(c, "bob", "vip-welcome"); len(js) != 1 {
		t.Fatalf("bob's upgrade did not trigger the campaign: %v", js)
	}
	if got := segmentMembers(c, "vip"); !slices.Equal(got, []string{"ada", "bob"}) {
		t.Fatalf("members %v", got)
	}
	if got := c.must(200, "GET", "/v1/segments/vip", nil); got["size"] != 2.0 || got["definition"] == nil {
		t.Errorf("the segment: %v", got)
	}
	view := c.must(200, "GET", "/v1/customers/bob", nil)
	if segs := view["segments"].([]any); len(segs) != 1 || segs[0].(map[string]any)["segment_id"] != "vip" {
		t.Errorf("bob's view shows segments %v", segs)
	}
	// Another event that keeps Ada in enters nothing again.
	c.must(201, "POST", "/v1/events", event("o5", "ada", "order_placed", nil))
	if js := journeysOf(c, "ada", "vip-welcome"); len(js) != 1 {
		t.Errorf("ada entered again: %v", js)
	}
}

// The documented bound: OMNI_SEGMENT_INTERVAL plus the evaluation. Here
// the runner runs every half second.
const segmentInterval = 500 * time.Millisecond

func TestACustomerLeavesATimeWindowSegmentWithinTheBound(t *testing.T) {
	c, env := start(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go env.Enroller.RunSegments(ctx, segmentInterval, 30*time.Second, slog.New(slog.NewTextHandler(io.Discard, nil)))

	c.must(200, "POST", "/v1/customers", `{"id": "ada", "email": "ada@example.com"}`)
	c.must(201, "POST", "/v1/segments", `{"id": "browsing", "where": {"performed": {"event": "page_viewed", "within": "3s"}}}`)
	c.must(201, "POST", "/v1/campaigns", segmentCampaign("come-back", "browsing", "leave"))
	viewed := time.Now()
	c.must(201, "POST", "/v1/events", map[string]any{"event_id": "v1", "customer_id": "ada", "name": "page_viewed",
		"occurred_at": viewed.UTC().Format(time.RFC3339Nano)})
	if got := segmentMembers(c, "browsing"); !slices.Equal(got, []string{"ada"}) {
		t.Fatalf("members %v", got)
	}
	for len(segmentMembers(c, "browsing")) > 0 {
		if time.Since(viewed) > 3*time.Second+segmentInterval+time.Second {
			t.Fatalf("ada is still a member %v after her last view", time.Since(viewed))
		}
		time.Sleep(50 * time.Millisecond)
	}
	left := time.Since(viewed)
	if left < 3*time.Second {
		t.Fatalf("ada left after %v, before the window ended", left)
	}
	t.Logf("left %v after the window ended (bound: %v + the evaluation)", left-3*time.Second, segmentInterval)
	if js := journeysOf(c, "ada", "come-back"); js["journey:come-back:ada"] == nil {
		t.Fatalf("leaving did not trigger the campaign: %v", js)
	}
	eventually(t, "the leaving email", func() bool { return len(messagesOf(c, "ada", "journey:come-back:ada")) == 1 })
}

func TestALaunchToASegmentEnrollsItsMembers(t *testing.T) {
	c, _ := start(t)
	c.must(200, "POST", "/v1/customers", `[{"id": "ada", "email": "ada@example.com"}, {"id": "bob", "email": "bob@example.com"},
		{"id": "cy", "email": "cy@example.com"}]`)
	c.must(200, "POST", "/v1/events", []any{event("s1", "ada", "signed_up", nil), event("s2", "cy", "signed_up", nil)})
	c.must(201, "POST", "/v1/segments", `{"id": "signed-up", "where": {"performed": {"event": "signed_up"}}}`)
	c.must(201, "POST", "/v1/campaigns", welcome)
	const id = "welcome"

	status, out := c.do("POST", "/v1/campaigns/"+id+"/launch", `{"audience": {"segment": "nope"}}`)
	if status != 400 || !strings.Contains(fmt.Sprint(out), "audience.segment") {
		t.Fatalf("a launch to an unknown segment: %d %v", status, out)
	}
	if status, out := c.do("POST", "/v1/campaigns/"+id+"/launch", `{"audience": {"segment": "signed-up", "all": true}}`); status != 400 {
		t.Fatalf("a launch to a segment and everybody: %d %v", status, out)
	}
	c.must(202, "POST", "/v1/campaigns/"+id+"/launch", `{"audience": {"segment": "signed-up"}}`)
	eventually(t, "the launch to finish", func() bool {
		ls := c.must(200, "GET", "/v1/campaigns/"+id, nil)["launches"].([]any)
		return len(ls) == 1 && ls[0].(map[string]any)["status"] == "finished"
	})
	l := c.must(200, "GET", "/v1/campaigns/"+id, nil)["launches"].([]any)[0].(map[string]any)
	if l["enrolled"] != 2.0 || l["audience_size"] != 2.0 {
		t.Errorf("the launch: %v", l)
	}
	for customer, want := range map[string]int{"ada": 1, "bob": 0, "cy": 1} {
		if js := journeysOf(c, customer, id); len(js) != want {
			t.Errorf("%s has %d journeys, want %d", customer, len(js), want)
		}
	}
}

func TestBadSegmentsAnswer400WithThePaths(t *testing.T) {
	c, _ := start(t)
	out := c.must(400, "POST", "/v1/segments", `{"id": "bad id", "where": {"all": [
		{"performed": {"event": "order_placed", "within": "7x"}},
		{"performed": {"event": "", "last_before": "2w", "never": true}},
		{"property": "cart_total", "gt": 1},
		{"attribute": "tier"}]}}`)
	var paths []string
	for _, p := range out["error"].(map[string]any)["problems"].([]any) {
		paths = append(paths, p.(map[string]any)["path"].(string))
	}
	for _, want := range []string{"id", "where.all[0].performed.within", "where.all[1].performed.event", "where.all[1].performed",
		"where.all[2].property", "where.all[3]"} {
		if !slices.Contains(paths, want) {
			t.Errorf("no problem at %s: %v", want, paths)
		}
	}
	c.must(404, "GET", "/v1/segments/nope", nil)
	c.must(404, "GET", "/v1/segments/nope/customers", nil)
	c.must(400, "GET", "/v1/segments/nope/customers?limit=0", nil)
	status, body := c.do("POST", "/v1/campaigns", segmentCampaign("orphan", "nope", "enter"))
	if status != 400 || !strings.Contains(fmt.Sprint(body), "trigger.segment") {
		t.Errorf("a campaign triggered by an unknown segment: %d %v", status, body)
	}
}
