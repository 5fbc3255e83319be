package api_test

import "testing"

// The contact centre opens the customer mid-conversation: everything the
// channels did and heard is in one answer.
func TestCustomerViewAfterAMultiChannelJourney(t *testing.T) {
	c, _ := start(t)
	c.must(200, "POST", "/v1/customers", `{"id": "ada", "email": "ada@example.com", "push_token": "tok-ada", "phone": "+4915100000001",
		"consent": {"sms": false}, "attributes": {"first_name": "Ada", "tier": "gold"}}`)
	// Another offer of hers, which she will say no to at the contact centre.
	c.must(201, "POST", "/v1/campaigns", `{"id": "other", "offer_id": "OTHER", "start_at": "later", "steps": {
		"later": {"delay": {"for": "1h"}, "next": "done"}, "done": {"exit": {}}}}`)
	c.must(201, "POST", "/v1/campaigns/other/enroll", `{"customer_id": "ada"}`)
	c.must(201, "POST", "/v1/campaigns", `{"id": "spring", "offer_id": "SPRING", "start_at": "code", "steps": {
		"code":  {"coupon": {"prefix": "SP-"}, "next": "mail"},
		"mail":  {"send": {"channel": "email", "template": {"subject": "Spring", "body": "Code {{coupon}}"}}, "next": "wait"},
		"wait":  {"wait": {"for": ["clicked"], "timeout": "1h"}, "on": {"clicked": "push", "timeout": "done"}},
		"push":  {"send": {"channel": "push", "template": {"title": "Spring", "body": "Ends soon"}}, "next": "done"},
		"done":  {"exit": {"reason": "done"}}}}`)
	c.must(201, "POST", "/v1/campaigns/spring/enroll", `{"customer_id": "ada"}`)
	eventually(t, "the email", func() bool { return len(messages(c.must(200, "GET", "/v1/customers/ada", nil))) == 1 })
	c.must(201, "POST", "/v1/responses", `{"event_id": "v-open", "customer_id": "ada", "campaign_id": "spring", "channel": "email", "type": "opened"}`)
	c.must(201, "POST", "/v1/responses", `{"event_id": "v-click", "customer_id": "ada", "campaign_id": "spring", "channel": "email", "type": "clicked"}`)
	c.must(201, "POST", "/v1/responses", `{"event_id": "v-no", "customer_id": "ada", "offer_id": "OTHER", "channel": "contact_center", "type": "rejected"}`)
	var view map[string]any
	eventually(t, "the journey to end with the push sent", func() bool {
		view = c.must(200, "GET", "/v1/customers/ada", nil)
		ms := messages(view)
		return journey(view)["status"] == "completed" && len(ms) == 2 && ms[0]["status"] == "sent"
	})

	if cu := view["customer"].(map[string]any); cu["id"] != "ada" || cu["attributes"].(map[string]any)["tier"] != "gold" ||
		cu["consent"].(map[string]any)["sms"] != false || cu["consent"].(map[string]any)["email"] != true {
		t.Errorf("profile %v", cu)
	}
	addresses := map[string]map[string]any{}
	for _, a := range view["addresses"].([]any) {
		a := a.(map[string]any)
		addresses[a["channel"].(string)] = a
	}
	if a := addresses["email"]; a["address"] != "ada@example.com" || a["consent"] != true || a["last_status"] != "sent" || a["last_at"] == nil {
		t.Errorf("email address %v", a)
	}
	if a := addresses["push"]; a["address"] != "tok-ada" || a["last_status"] != "sent" {
		t.Errorf("push address %v", a)
	}
	if a := addresses["sms"]; a["address"] != "+4915100000001" || a["consent"] != false || a["last_status"] != nil {
		t.Errorf("sms address %v", a)
	}
	j := journey(view)
	if j["campaign_id"] != "spring" || j["version"] != float64(1) || j["current_step"] != "done" || j["exit_reason"] != "done" ||
		j["started_at"] == nil || j["ended_at"] == nil {
		t.Errorf("journey %v", j)
	}
	ms := messages(view)
	if len(ms) != 2 || ms[0]["channel"] != "push" || ms[1]["channel"] != "email" || ms[1]["step"] != "mail" ||
		ms[1]["status"] != "sent" || ms[1]["provider_message_id"] == nil || ms[1]["sent_at"] == nil {
		t.Fatalf("messages, newest first: %v", ms)
	}
	var types []string
	for _, r := range view["responses"].([]any) {
		types = append(types, r.(map[string]any)["type"].(string))
	}
	if len(types) != 3 {
		t.Errorf("responses %v", types)
	}
	sup := view["suppressions"].([]any)
	if len(sup) != 1 || sup[0].(map[string]any)["offer_id"] != "OTHER" {
		t.Errorf("suppressions %v", sup)
	}
	coupons := view["coupons"].([]any)
	if len(coupons) != 1 || ms[1]["body"] != "Code "+coupons[0].(map[string]any)["code"].(string) {
		t.Errorf("coupons %v, email %v", coupons, ms[1]["body"])
	}
	// The journey is over, and with it the offer.
	if offers := view["offers"].([]any); len(offers) != 0 {
		t.Errorf("offers %v", offers)
	}
}
