package api_test

import (
	"testing"
)

// controls returns the campaign view's latest control.
func latestControl(view map[string]any) map[string]any {
	cs := view["controls"].([]any)
	if len(cs) == 0 {
		return nil
	}
	return cs[0].(map[string]any)
}

func TestPauseResumeAndCancelACampaign(t *testing.T) {
	c, env := start(t)
	c.must(200, "POST", "/v1/customers", `[{"id": "ada", "email": "ada@example.com"}, {"id": "bob", "email": "bob@example.com"}, {"id": "cy", "email": "cy@example.com"}]`)
	c.must(201, "POST", "/v1/campaigns", `{"id": "later", "start_at": "wait", "steps": {
		"wait": {"delay": {"for": "2s"}, "next": "mail"},
		"mail": {"send": {"channel": "email", "template": {"subject": "Hi", "body": "Hi"}}, "next": "done"},
		"done": {"exit": {}}}}`)
	c.must(202, "POST", "/v1/campaigns/later/launch", `{"audience": {"all": true}}`)
	eventually(t, "three journeys", func() bool {
		return c.must(200, "GET", "/v1/campaigns/later", nil)["journeys"].(map[string]any)["active"] == float64(3)
	})

	ctl := c.must(202, "POST", "/v1/campaigns/later/pause", nil)
	if ctl["action"] != "pause" || ctl["status"] != "running" {
		t.Fatalf("pause: %v", ctl)
	}
	var view map[string]any
	eventually(t, "the pause to reach every journey", func() bool {
		view = c.must(200, "GET", "/v1/campaigns/later", nil)
		l := latestControl(view)
		return l["status"] == "finished" && l["journeys"].(float64)+l["already_finished"].(float64) == 3
	})
	if view["status"] != "paused" {
		t.Fatalf("campaign status %v", view["status"])
	}
	// Past the delay, every journey holds before its send.
	eventually(t, "journeys held before the send", func() bool {
		steps, err := env.Store.JourneySteps(t.Context(), "later")
		return err == nil && steps["mail"] == 3
	})
	for _, id := range []string{"ada", "bob", "cy"} {
		if ms := messages(c.must(200, "GET", "/v1/customers/"+id, nil)); len(ms) != 0 {
			t.Fatalf("%s got %d messages while paused", id, len(ms))
		}
	}
	problemAt(t, c.must(409, "POST", "/v1/campaigns/later/pause", nil), "wrong_status", "-")
	// Enrolled while paused: starts paused.
	c.must(200, "POST", "/v1/customers", `{"id": "eve", "email": "eve@example.com"}`)
	c.must(201, "POST", "/v1/campaigns/later/enroll", `{"customer_id": "eve"}`)
	eventually(t, "eve held before the send", func() bool {
		steps, err := env.Store.JourneySteps(t.Context(), "later")
		return err == nil && steps["mail"] == 4
	})

	c.must(202, "POST", "/v1/campaigns/later/resume", nil)
	eventually(t, "resumed journeys to send and finish", func() bool {
		return c.must(200, "GET", "/v1/campaigns/later", nil)["journeys"].(map[string]any)["completed"] == float64(4)
	})
	for _, id := range []string{"ada", "bob", "cy", "eve"} {
		if ms := messages(c.must(200, "GET", "/v1/customers/"+id, nil)); len(ms) != 1 {
			t.Fatalf("%s got %d messages", id, len(ms))
		}
	}

	c.must(201, "POST", "/v1/campaigns", `{"id": "long", "start_at": "wait", "steps": {
		"wait": {"delay": {"for": "1h"}, "next": "done"},
		"done": {"exit": {}}}}`)
	c.must(202, "POST", "/v1/campaigns/long/launch", `{"audience": {"customer_ids": ["ada", "bob"]}}`)
	eventually(t, "two waiting journeys", func() bool {
		return c.must(200, "GET", "/v1/campaigns/long", nil)["journeys"].(map[string]any)["active"] == float64(2)
	})
	c.must(202, "POST", "/v1/campaigns/long/cancel", nil)
	eventually(t, "cancelled journeys", func() bool {
		view = c.must(200, "GET", "/v1/campaigns/long", nil)
		return view["journeys"].(map[string]any)["cancelled"] == float64(2)
	})
	if view["status"] != "cancelled" || journey(c.must(200, "GET", "/v1/customers/bob", nil))["exit_reason"] != "cancelled" {
		t.Fatalf("campaign %v", view)
	}
	problemAt(t, c.must(409, "POST", "/v1/campaigns/long/enroll", `{"customer_id": "cy"}`), "campaign_cancelled", "-")
	problemAt(t, c.must(409, "POST", "/v1/campaigns/long/launch", `{"audience": {"all": true}}`), "campaign_cancelled", "-")
	problemAt(t, c.must(409, "POST", "/v1/campaigns/long/resume", nil), "wrong_status", "-")
	c.must(404, "POST", "/v1/campaigns/nope/cancel", nil)
}
