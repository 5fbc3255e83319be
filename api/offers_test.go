package api_test

import (
	"encoding/json"
	"testing"
)

func offerIDs(out map[string]any) []string {
	var ids []string
	for _, o := range out["offers"].([]any) {
		ids = append(ids, o.(map[string]any)["offer_id"].(string))
	}
	return ids
}

func TestEveryChannelGetsTheSameOffers(t *testing.T) {
	c, _ := start(t)
	c.must(200, "POST", "/v1/customers", `{"id": "ada", "email": "ada@example.com"}`)
	c.must(201, "POST", "/v1/campaigns", `{"id": "shoes", "offer_id": "SHOES-10", "start_at": "mail", "steps": {
		"mail": {"send": {"channel": "email", "template": {"subject": "Shoes", "body": "10% off shoes"}}, "next": "wait"},
		"wait": {"wait": {"for": ["converted"], "timeout": "1h"}, "next": "done"}, "done": {"exit": {}}}}`)
	c.must(201, "POST", "/v1/campaigns", `{"id": "bags", "offer_id": "BAGS-5", "start_at": "code", "steps": {
		"code": {"coupon": {"prefix": "BAG-"}, "next": "mail"},
		"mail": {"send": {"channel": "email", "template": {"subject": "Bags", "body": "Code {{coupon}}"}}, "next": "wait"},
		"wait": {"wait": {"for": ["converted"], "timeout": "1h"}, "next": "done"}, "done": {"exit": {}}}}`)
	c.must(201, "POST", "/v1/campaigns", `{"id": "hats", "offer_id": "HATS", "start_at": "later", "steps": {
		"later": {"delay": {"for": "1h"}, "next": "done"}, "done": {"exit": {}}}}`)
	for i, id := range []string{"shoes", "bags", "hats"} {
		c.must(201, "POST", "/v1/campaigns/"+id+"/enroll", `{"customer_id": "ada"}`)
		if id != "hats" {
			eventually(t, id+"'s email", func() bool { return len(messages(c.must(200, "GET", "/v1/customers/ada", nil))) == i+1 })
		}
	}
	eventually(t, "three active journeys", func() bool {
		return len(c.must(200, "GET", "/v1/customers/ada/offers", nil)["offers"].([]any)) == 3
	})

	app := c.must(200, "GET", "/v1/customers/ada/offers?channel=app", nil)
	centre := c.must(200, "GET", "/v1/customers/ada/offers?channel=contact_center", nil)
	a, _ := json.Marshal(app["offers"])
	b, _ := json.Marshal(centre["offers"])
	if string(a) != string(b) {
		t.Fatalf("the app and the contact centre differ:\n%s\n%s", a, b)
	}
	if ids := offerIDs(app); len(ids) != 3 || ids[0] != "BAGS-5" || ids[1] != "SHOES-10" || ids[2] != "HATS" {
		t.Fatalf("offers %v, want the latest messaged first", ids)
	}
	bags := app["offers"].([]any)[0].(map[string]any)
	code, _ := bags["coupon"].(string)
	if code == "" || bags["body"] != "Code "+code || bags["subject"] != "Bags" || bags["channel"] != "email" {
		t.Fatalf("bags offer %v", bags)
	}

	// The contact centre hears a no to shoes: no channel offers them any more.
	c.must(201, "POST", "/v1/responses", `{"event_id": "cc-1", "customer_id": "ada", "offer_id": "SHOES-10", "channel": "contact_center", "type": "rejected"}`)
	c.must(201, "POST", "/v1/responses", `{"event_id": "app-1", "customer_id": "ada", "campaign_id": "bags", "offer_id": "BAGS-5", "channel": "app", "type": "offer_viewed"}`)
	if ids := offerIDs(c.must(200, "GET", "/v1/customers/ada/offers?channel=shop", nil)); len(ids) != 2 || ids[0] != "BAGS-5" || ids[1] != "HATS" {
		t.Fatalf("after the rejection: %v", ids)
	}
	if ids := offerIDs(map[string]any{"offers": c.must(200, "GET", "/v1/customers/ada", nil)["offers"]}); len(ids) != 2 {
		t.Fatalf("customer view offers %v", ids)
	}
	problemAt(t, c.must(400, "GET", "/v1/customers/ada/offers?channel=Call%20Centre", nil), "invalid_request", "channel")
	c.must(404, "GET", "/v1/customers/nobody/offers", nil)
}
