package api_test

import (
	"encoding/base64"
	"fmt"
	"testing"
)

// signupCampaign welcomes who signs up on the web, by the event's plan.
const signupCampaign = `{"id": "signup", "offer_id": "WELCOME", "start_at": "email-1",
  "trigger": {"event": "Signed Up", "where": {"property": "plan", "equals": "pro"}},
  "steps": {
    "email-1": {"send": {"channel": "email", "template": {"subject": "Welcome", "body": "{{firstName}} on {{event.plan}}"}}, "next": "done"},
    "done":    {"exit": {}}}}`

// segmentBatch is what Segment's HTTP API, or a RudderStack webhook, sends:
// the track comes before the identify that creates its customer, and calls
// omni does not act on ride along.
const segmentBatch = `{"batch": [
  {"type": "track", "messageId": "m-2", "userId": "grace", "event": "Signed Up", "properties": {"plan": "pro"},
   "timestamp": "2026-12-04T10:00:01Z", "context": {"ip": "203.0.113.9"}, "integrations": {}},
  {"type": "identify", "messageId": "m-1", "userId": "grace", "anonymousId": "a-1",
   "traits": {"email": "grace@example.com", "phone": "+49 151 2345-678", "firstName": "Grace", "plan": "pro"},
   "context": {"timezone": "Europe/Berlin", "locale": "de-DE"}, "timestamp": "2026-12-04T10:00:00Z"},
  {"type": "page", "messageId": "m-3", "userId": "grace", "name": "Pricing"},
  {"type": "track", "messageId": "m-4", "anonymousId": "a-2", "event": "Signed Up"},
  {"type": "track", "messageId": "m-5", "userId": "nobody", "event": "Signed Up"},
  {"type": "track", "messageId": "m-6", "userId": "grace", "event": "  "},
  {"type": "launch", "messageId": "m-7", "userId": "grace"}
], "sentAt": "2026-12-04T10:00:02Z"}`

func TestASegmentBatchIdentifiesTracksAndTriggers(t *testing.T) {
	c, _ := start(t)
	c.must(201, "POST", "/v1/campaigns", signupCampaign)

	out := c.must(200, "POST", "/v1/segment", segmentBatch)
	var statuses []string
	for _, r := range out["results"].([]any) {
		statuses = append(statuses, r.(map[string]any)["status"].(string))
	}
	if got := fmt.Sprint(statuses); got != "[accepted accepted ignored ignored unknown_customer invalid invalid]" {
		t.Fatalf("statuses %s: %v", got, out)
	}
	if out["accepted"] != 2.0 || out["ignored"] != 2.0 || out["failed"] != 3.0 {
		t.Fatalf("tally: %v", out)
	}
	results := out["results"].([]any)
	if fmt.Sprint(results[0].(map[string]any)["enrolled"]) != "[journey:signup:grace]" {
		t.Fatalf("the track did not trigger the campaign: %v", results[0])
	}
	for i, path := range map[int]string{5: "batch[5].event", 6: "batch[6].type"} {
		problems, _ := results[i].(map[string]any)["problems"].([]any)
		if len(problems) != 1 || problems[0].(map[string]any)["path"] != path {
			t.Fatalf("call %d: no problem at %s: %v", i, path, problems)
		}
	}

	view := c.must(200, "GET", "/v1/customers/grace", nil)
	cust := view["customer"].(map[string]any)
	if cust["email"] != "grace@example.com" || cust["phone"] != "+491512345678" || cust["timezone"] != "Europe/Berlin" ||
		cust["locale"] != "de-DE" || cust["attributes"].(map[string]any)["firstName"] != "Grace" {
		t.Fatalf("identify did not become the customer: %v", cust)
	}
	if evs := view["events"].([]any); len(evs) != 1 || evs[0].(map[string]any)["event_id"] != "m-2" ||
		evs[0].(map[string]any)["occurred_at"] != "2026-12-04T10:00:01Z" {
		t.Fatalf("the track is not the customer's event: %v", evs)
	}
	eventually(t, "the welcome email", func() bool { return len(messages(c.must(200, "GET", "/v1/customers/grace", nil))) == 1 })
	if m := messages(c.must(200, "GET", "/v1/customers/grace", nil))[0]; m["body"] != "Grace on pro" {
		t.Fatalf("the email does not show the traits and the event: %v", m)
	}

	// Segment retries: the same batch again changes nothing.
	again := c.must(200, "POST", "/v1/segment", segmentBatch)
	if r := again["results"].([]any)[0].(map[string]any); r["status"] != "duplicate" || r["enrolled"] != nil {
		t.Fatalf("the retried track: %v", r)
	}
}

func TestASegmentCallAnswersWithItsOwnStatus(t *testing.T) {
	c, _ := start(t)
	c.must(200, "POST", "/v1/segment", `{"type": "identify", "userId": 42, "traits": {"email": "n@example.com"}}`)
	if got := c.must(200, "GET", "/v1/customers/42", nil)["customer"].(map[string]any)["email"]; got != "n@example.com" {
		t.Fatalf("a numeric userId: %v", got)
	}
	c.must(201, "POST", "/v1/segment", `{"type": "track", "messageId": "t-1", "userId": "42", "event": "Order Completed"}`)
	c.must(200, "POST", "/v1/segment", `{"type": "track", "messageId": "t-1", "userId": "42", "event": "Order Completed"}`)
	c.must(404, "POST", "/v1/segment", `{"type": "track", "messageId": "t-2", "userId": "43", "event": "Order Completed"}`)
	c.must(200, "POST", "/v1/segment", `{"type": "screen", "userId": "42", "name": "Home"}`)
	problemAt(t, c.must(400, "POST", "/v1/segment", `{"type": "identify", "userId": "42", "traits": {"email": "not an address"}}`), "invalid_call", "traits.email")
	problemAt(t, c.must(400, "POST", "/v1/segment", `{"type": "track", "userId": "42", "event": "x"}`), "invalid_call", "messageId")
	c.must(400, "POST", "/v1/segment", `{"batch": {}}`)

	// Segment's and RudderStack's tools send the write key as Basic
	// credentials' user name; an identify needs customers:write as well.
	agent := c.must(201, "POST", "/v1/keys", `{"name": "contact centre", "role": "agent"}`)["key"].(string)
	basic := map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(agent+":"))}
	anonymous := c.as("")
	if status, out := anonymous.doWith("POST", "/v1/segment", `{"type": "track", "messageId": "t-3", "userId": "42", "event": "Order Completed"}`, "application/json", basic); status != 201 {
		t.Fatalf("a track with Basic credentials: %d %v", status, out)
	}
	if status, out := anonymous.doWith("POST", "/v1/segment", `{"type": "identify", "userId": "42", "traits": {"plan": "pro"}}`, "application/json", basic); status != 403 {
		t.Fatalf("an identify from a key without customers:write: %d %v", status, out)
	}
	wrong := map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("omni_nope_nope:"))}
	if status, _ := anonymous.doWith("POST", "/v1/segment", `{"type": "screen", "userId": "42"}`, "application/json", wrong); status != 401 {
		t.Fatalf("an unknown key as Basic credentials: %d", status)
	}
}
