package api_test

import (
	"net/url"
	"slices"
	"testing"
	"time"
)

func TestCustomerTimelinePagesThroughEverythingNewestFirst(t *testing.T) {
	c, _ := start(t)
	c.must(200, "POST", "/v1/customers", `{"id": "ada", "email": "ada@example.com"}`)
	c.must(201, "POST", "/v1/campaigns", `{"id": "tl", "start_at": "mail", "steps": {
		"mail": {"send": {"channel": "email", "template": {"subject": "Hi", "body": "Hi"}}, "next": "wait"},
		"wait": {"wait": {"for": ["clicked"], "timeout": "1h"}, "next": "done"},
		"done": {"exit": {"reason": "clicked"}}}}`)
	c.must(201, "POST", "/v1/campaigns/tl/enroll", `{"customer_id": "ada"}`)
	eventually(t, "the email", func() bool { return len(messages(c.must(200, "GET", "/v1/customers/ada", nil))) == 1 })
	c.must(201, "POST", "/v1/responses", `{"event_id": "tl-click", "customer_id": "ada", "campaign_id": "tl", "channel": "email", "type": "clicked"}`)
	eventually(t, "the journey to end", func() bool {
		return journey(c.must(200, "GET", "/v1/customers/ada", nil))["status"] == "completed"
	})

	var events []map[string]any
	path := "/v1/customers/ada/timeline?limit=3"
	for pages := 0; path != ""; pages++ {
		if pages > 3 {
			t.Fatal("the timeline does not end")
		}
		page := c.must(200, "GET", path, nil)
		for _, e := range page["events"].([]any) {
			events = append(events, e.(map[string]any))
		}
		path = ""
		if next, ok := page["next"].(string); ok {
			path = "/v1/customers/ada/timeline?limit=3&after=" + url.QueryEscape(next)
		}
	}
	var kinds []string
	var last time.Time
	for i, e := range events {
		kinds = append(kinds, e["kind"].(string)+":"+e["what"].(string))
		at, err := time.Parse(time.RFC3339Nano, e["at"].(string))
		if err != nil || i > 0 && at.After(last) {
			t.Fatalf("event %d at %v after %v: not newest first", i, e["at"], last)
		}
		last = at
	}
	want := []string{"journey_ended:completed", "response:clicked", "message:sent", "journey_started:started"}
	if !slices.Equal(kinds, want) {
		t.Fatalf("timeline %v, want %v", kinds, want)
	}
	if events[0]["detail"] != "clicked" || events[2]["channel"] != "email" || events[2]["step"] != "mail" {
		t.Fatalf("events %v", events)
	}

	problemAt(t, c.must(400, "GET", "/v1/customers/ada/timeline?after=nope", nil), "invalid_request", "after")
	problemAt(t, c.must(400, "GET", "/v1/customers/ada/timeline?limit=0", nil), "invalid_request", "limit")
	c.must(404, "GET", "/v1/customers/nobody/timeline", nil)
}
