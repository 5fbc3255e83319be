package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/omni-orchestrator/omni/internal/testenv"
)

// While PostgreSQL is cut away, the API answers 503 with Retry-After (no
// 500s) and changes nothing; journeys whose activities run meanwhile retry
// them, and once the database is back everything carries on: the click
// posted again counts, the delayed email goes out once, no journey fails.
func TestAPostgreSQLOutageAnswers503AndLosesNothing(t *testing.T) {
	env := testenv.StartWith(t, testenv.Options{DatabaseProxy: true})
	c := serve(t, env, nil)
	c.must(200, "POST", "/v1/customers", `[{"id": "ada", "email": "ada@example.com", "push_token": "tok-ada"},
		{"id": "bob", "email": "bob@example.com"}]`)
	c.must(201, "POST", "/v1/campaigns", `{"id": "outage", "start_at": "email-1", "steps": {
	  "email-1": {"send": {"channel": "email", "template": {"subject": "Hi", "body": "Hi"}}, "next": "wait-1"},
	  "wait-1":  {"wait": {"for": ["clicked"], "timeout": "1h"}, "on": {"clicked": "push-1"}, "next": "done"},
	  "push-1":  {"send": {"channel": "push", "template": {"title": "Thanks", "body": "for the click"}}, "next": "done"},
	  "done":    {"exit": {}}}}`)
	c.must(201, "POST", "/v1/campaigns", `{"id": "later", "start_at": "pause", "steps": {
	  "pause": {"delay": {"for": "2s"}, "next": "mail"},
	  "mail":  {"send": {"channel": "email", "template": {"subject": "Later", "body": "Later"}}, "next": "done"},
	  "done":  {"exit": {}}}}`)
	c.must(201, "POST", "/v1/campaigns/outage/enroll", `{"customer_id": "ada"}`)
	eventually(t, "ada's journey to wait for her click", func() bool { return journeyStep(c, "ada", "outage") == "wait-1" })
	c.must(201, "POST", "/v1/campaigns/later/enroll", `{"customer_id": "bob"}`) // its email goes out during the outage

	env.Database.Cut()
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/v1/customers/ada", ""},
		{"POST", "/v1/responses", `{"event_id": "click-1", "customer_id": "ada", "campaign_id": "outage", "channel": "email", "type": "clicked"}`},
		{"POST", "/v1/campaigns/outage/enroll", `{"customer_id": "bob"}`},
		{"GET", "/v1/campaigns/outage/stats", ""},
	} {
		req, _ := http.NewRequest(r.method, c.base+r.path, strings.NewReader(r.body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+c.key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s during the outage: %d, Retry-After %q; want 503 with Retry-After", r.method, r.path, res.StatusCode, res.Header.Get("Retry-After"))
		}
	}
	time.Sleep(5 * time.Second) // bob's delay ends; his send retries against the cut database
	env.Database.Restore()

	c.must(201, "POST", "/v1/responses", `{"event_id": "click-1", "customer_id": "ada", "campaign_id": "outage", "channel": "email", "type": "clicked"}`)
	eventually(t, "both journeys to complete", func() bool {
		return journeyStatus(c, "ada", "outage") == "completed" && journeyStatus(c, "bob", "later") == "completed"
	})
	for _, id := range []string{"ada", "bob"} {
		ms := messages(c.must(200, "GET", "/v1/customers/"+id, nil))
		for _, m := range ms {
			if m["status"] != "sent" {
				t.Errorf("%s's message %v", id, m)
			}
		}
		if want := map[string]int{"ada": 2, "bob": 1}[id]; len(ms) != want {
			t.Errorf("%s got %d messages, want %d", id, len(ms), want)
		}
	}
	if n := len(c.must(200, "GET", "/v1/customers/bob", nil)["journeys"].([]any)); n != 1 {
		t.Errorf("bob is in %d journeys: the enrolment refused during the outage changed something", n)
	}
}
