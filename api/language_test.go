package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/omni-orchestrator/omni/campaign"
)

// everyStep uses every step kind and rule. Quiet hours are set to a window
// that starts two hours from now, so they are checked but hold nothing.
func everyStep() string {
	from := time.Now().UTC().Add(2 * time.Hour)
	return fmt.Sprintf(`{
  "id": "every-step",
  "offer_id": "SPRING-24",
  "start_at": "tier",
  "rules": {"exit_on": ["rejected", "unsubscribed"], "goal": "converted", "quiet_hours": {"from": %q, "to": %q}},
  "steps": {
    "tier":    {"branch": [{"when": {"attribute": "tier", "equals": "gold"}, "next": "ab"}], "else": "reach"},
    "ab":      {"experiment": {"variants": [{"name": "A", "weight": 1, "next": "email-1"}, {"name": "B", "weight": 1, "next": "sms-b"}]}},
    "email-1": {"send": {"channel": "email", "template": {"subject": "Hi {{first_name}}", "body": "<p>Your code: {{data.code}}</p>"}}, "next": "wait-1"},
    "wait-1":  {"wait": {"for": ["clicked", "converted"], "timeout": "3s"}, "on": {"clicked": "pause", "converted": "done", "timeout": "reach"}},
    "pause":   {"delay": {"for": "1s"}, "next": "check"},
    "check":   {"branch": [{"when": {"responded": "clicked"}, "next": "push-1"}], "else": "done"},
    "push-1":  {"send": {"channel": "push", "template": {"title": "{{first_name}}, still there?", "body": "Ends soon"}}, "next": "done"},
    "sms-b":   {"send": {"channel": "sms", "template": {"body": "B: 20%% off"}}, "next": "done"},
    "reach":   {"send": {"channels": ["push", "sms", "email"], "template": {"subject": "Last chance", "title": "Last chance", "body": "Last chance, {{first_name}}"}}, "next": "done"},
    "done":    {"exit": {"reason": "finished"}}
  }
}`, from.Format("15:04"), from.Add(time.Hour).Format("15:04"))
}

// customerIn returns a customer id that the experiment sends to variant.
func customerIn(t *testing.T, def, variant, prefix string) string {
	d, ps := campaign.Parse([]byte(def))
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	for i := range 100 {
		id := fmt.Sprintf("%s-%d", prefix, i)
		if d.Steps["ab"].Experiment.Assign("every-step", "ab", id).Name == variant {
			return id
		}
	}
	t.Fatalf("no customer for variant %s", variant)
	return ""
}

func TestEveryStepKindRunsEndToEnd(t *testing.T) {
	c, _ := start(t)
	def := everyStep()
	clicker, rejecter, variantB := customerIn(t, def, "A", "gold"), customerIn(t, def, "A", "rej"), customerIn(t, def, "B", "gold")
	c.must(200, "POST", "/v1/customers", fmt.Sprintf(`[
		{"id": %q, "email": "a@example.com", "push_token": "tok-a", "attributes": {"first_name": "Ada", "tier": "gold"}},
		{"id": %q, "email": "r@example.com", "attributes": {"first_name": "Rex", "tier": "gold"}},
		{"id": %q, "email": "b@example.com", "phone": "+4915100000009", "attributes": {"first_name": "Bea", "tier": "gold"}},
		{"id": "silver", "email": "s@example.com", "phone": "+4915100000002", "attributes": {"first_name": "Sil", "tier": "silver"}}
	]`, clicker, rejecter, variantB))
	problemAt(t, c.must(400, "POST", "/v1/campaigns?dry_run=true", strings.Replace(def, `"weight": 1`, `"weight": -1`, 1)),
		"invalid_campaign", "steps.ab.experiment.variants[0].weight")
	c.must(201, "POST", "/v1/campaigns", def)

	// Preview: what the clicker would get, rendered, without sending.
	preview := c.must(200, "POST", "/v1/campaigns/every-step/preview", map[string]any{"customer_id": clicker, "data": map[string]any{"code": "<X1>"}})
	byStep := map[string]map[string]any{}
	for _, m := range preview["messages"].([]any) {
		byStep[m.(map[string]any)["step"].(string)] = m.(map[string]any)
	}
	if m := byStep["email-1"]; m["body"] != "<p>Your code: &lt;X1&gt;</p>" || m["to"] != "a@example.com" {
		t.Fatalf("preview email-1 = %v", m)
	}
	if m := byStep["reach"]; m["channel"] != "push" || m["subject"] != "Last chance" {
		t.Fatalf("preview reach = %v", m)
	}
	if n := len(messages(c.must(200, "GET", "/v1/customers/"+clicker, nil))); n != 0 {
		t.Fatalf("the preview sent %d messages", n)
	}

	for _, id := range []string{clicker, rejecter, variantB, "silver"} {
		c.must(201, "POST", "/v1/campaigns/every-step/enroll", map[string]any{"customer_id": id, "data": map[string]any{"code": "SPRING-" + id}})
	}
	waitFor := func(id, step string) map[string]any {
		var view map[string]any
		eventually(t, id+" at "+step, func() bool {
			view = c.must(200, "GET", "/v1/customers/"+id, nil)
			return journey(view)["current_step"] == step
		})
		return view
	}
	post := func(id, event, typ string) {
		c.must(201, "POST", "/v1/responses", map[string]any{"event_id": event, "customer_id": id, "campaign_id": "every-step", "channel": "email", "type": typ})
	}

	// Variant A clicks, waits out the delay, gets the push, converts.
	waitFor(clicker, "wait-1")
	post(clicker, "click-1", "clicked")
	waitFor(clicker, "pause")
	post(clicker, "buy-1", "converted")
	view := waitFor(clicker, "done")
	j := journey(view)
	if j["status"] != "completed" || j["variant"] != "A" || j["exit_reason"] != "finished" || j["converted_at"] == nil {
		t.Fatalf("clicker's journey = %v", j)
	}
	ms := messages(view)
	if len(ms) != 2 || ms[0]["channel"] != "push" || ms[0]["subject"] != "Ada, still there?" || ms[1]["body"] != "<p>Your code: SPRING-"+clicker+"</p>" {
		t.Fatalf("clicker's messages = %v", ms)
	}

	// An unsubscribe (in exit_on) ends the journey wherever it is.
	waitFor(rejecter, "wait-1")
	post(rejecter, "unsub-1", "unsubscribed")
	var rview map[string]any
	eventually(t, "the unsubscriber's journey to exit", func() bool {
		rview = c.must(200, "GET", "/v1/customers/"+rejecter, nil)
		return journey(rview)["status"] == "exited"
	})
	if j := journey(rview); j["exit_reason"] != "unsubscribed" || j["current_step"] != "wait-1" {
		t.Fatalf("unsubscriber's journey = %v", j)
	}
	if consent := rview["customer"].(map[string]any)["consent"].(map[string]any); consent["email"] != false || consent["sms"] != true {
		t.Fatalf("unsubscribing by email left consent %v", consent)
	}

	// Variant B gets the SMS; silver falls back from push to SMS.
	for id, body := range map[string]string{variantB: "B: 20% off", "silver": "Last chance, Sil"} {
		view := waitFor(id, "done")
		ms := messages(view)
		if len(ms) != 1 || ms[0]["channel"] != "sms" || ms[0]["body"] != body {
			t.Fatalf("%s's messages = %v", id, ms)
		}
	}

	// A new version: running and finished journeys keep theirs, new
	// enrolments take it.
	v2 := strings.Replace(def, "Last chance, {{first_name}}", "v2: last chance", 1)
	if out := c.must(201, "POST", "/v1/campaigns", v2); out["version"] != float64(2) {
		t.Fatalf("v2 = %v", out)
	}
	c.must(200, "POST", "/v1/customers", `{"id": "late", "phone": "+4915100000003", "attributes": {"tier": "silver"}}`)
	if e := c.must(201, "POST", "/v1/campaigns/every-step/enroll", `{"customer_id": "late"}`); e["version"] != float64(2) {
		t.Fatalf("late enrolment = %v", e)
	}
	late := waitFor("late", "done")
	if ms := messages(late); len(ms) != 1 || ms[0]["body"] != "v2: last chance" {
		t.Fatalf("late messages = %v", ms)
	}
	if j := journey(c.must(200, "GET", "/v1/customers/silver", nil)); j["version"] != float64(1) {
		t.Fatalf("silver's journey = %v", j)
	}
	if v1 := c.must(200, "GET", "/v1/campaigns/every-step?version=1", nil); v1["version"] != float64(1) {
		t.Fatalf("version 1 = %v", v1)
	}
}
