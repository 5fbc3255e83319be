package api_test

import (
	"encoding/json"
	"fmt"
	"slices"
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

// A customer who signs up after a launch, or whom a launch could not reach
// yet, is offered what its audience is offered, by every channel, until a
// journey takes over the offer.
func TestOffersOfCampaignsTheCustomerIsEligibleFor(t *testing.T) {
	c, _ := start(t)
	c.must(200, "POST", "/v1/customers", `{"id": "ada", "email": "ada@example.com", "attributes": {"tier": "gold"}}`)
	vip := `{"id": "%s", "offer_id": "%s", "start_at": "mail", "steps": {
		"mail": {"send": {"channel": "email", "template": {"subject": "For you", "body": "Hi"}}, "next": "wait"},
		"wait": {"wait": {"for": ["converted"], "timeout": "1h"}, "next": "done"}, "done": {"exit": {}}}}`
	c.must(201, "POST", "/v1/campaigns", fmt.Sprintf(vip, "vip", "VIP-20"))
	c.must(201, "POST", "/v1/campaigns", fmt.Sprintf(vip, "welcome", "WELCOME-5"))
	c.must(201, "POST", "/v1/campaigns", fmt.Sprintf(vip, "paused", "PAUSED"))
	c.must(202, "POST", "/v1/campaigns/vip/launch", `{"audience": {"all": true, "filter": {"attribute": "tier", "equals": "gold"}}}`)
	c.must(202, "POST", "/v1/campaigns/welcome/launch", `{"audience": {"customer_ids": ["ada", "bea", "cy"]}}`)
	c.must(202, "POST", "/v1/campaigns/paused/launch", `{"audience": {"all": true}}`)
	c.must(202, "POST", "/v1/campaigns/paused/pause", nil)
	for _, id := range []string{"vip", "welcome", "paused"} {
		eventually(t, id+"'s launch to finish", func() bool {
			return c.must(200, "GET", "/v1/campaigns/"+id, nil)["launches"].([]any)[0].(map[string]any)["status"] == "finished"
		})
	}

	// Bea signs up afterwards, gold and listed for the welcome; Cy is silver.
	c.must(200, "POST", "/v1/customers", `[{"id": "bea", "email": "bea@example.com", "attributes": {"tier": "gold"}},
		{"id": "cy", "email": "cy@example.com", "attributes": {"tier": "silver"}}]`)
	shop := c.must(200, "GET", "/v1/customers/bea/offers?channel=shop", nil)
	if ids := offerIDs(shop); len(ids) != 2 || ids[0] != "WELCOME-5" || ids[1] != "VIP-20" {
		t.Fatalf("bea's offers %v, want the latest launch's first, none of the paused campaign", ids)
	}
	for _, o := range shop["offers"].([]any) {
		if o := o.(map[string]any); o["source"] != "eligible" || o["journey_id"] != nil {
			t.Fatalf("offer %v, want eligible without a journey", o)
		}
	}
	app := c.must(200, "GET", "/v1/customers/bea/offers?channel=app", nil)
	a, _ := json.Marshal(app["offers"])
	b, _ := json.Marshal(shop["offers"])
	if string(a) != string(b) {
		t.Fatalf("the app and the shop differ:\n%s\n%s", a, b)
	}
	if ids := offerIDs(c.must(200, "GET", "/v1/customers/cy/offers", nil)); len(ids) != 1 || ids[0] != "WELCOME-5" {
		t.Fatalf("cy's offers %v, want only the welcome (not gold)", ids)
	}
	// Ada was enrolled by the launches: her offers come from her journeys,
	// the paused campaign's too (she was told about it before the pause).
	ada := c.must(200, "GET", "/v1/customers/ada/offers", nil)
	if ids := offerIDs(ada); len(ids) != 3 || !slices.Contains(ids, "VIP-20") || !slices.Contains(ids, "WELCOME-5") || !slices.Contains(ids, "PAUSED") {
		t.Fatalf("ada's offers %v", ids)
	}
	for _, o := range ada["offers"].([]any) {
		if o.(map[string]any)["source"] != "journey" {
			t.Fatalf("ada's offer %v, want it from her journey", o)
		}
	}

	// Bea says no to the welcome at the contact centre; then joins the VIP campaign.
	c.must(201, "POST", "/v1/responses", `{"event_id": "cc-bea", "customer_id": "bea", "offer_id": "WELCOME-5", "channel": "contact_center", "type": "rejected"}`)
	c.must(201, "POST", "/v1/campaigns/vip/enroll", `{"customer_id": "bea"}`)
	eventually(t, "bea's vip journey", func() bool {
		offers := c.must(200, "GET", "/v1/customers/bea/offers", nil)["offers"].([]any)
		return len(offers) == 1 && offers[0].(map[string]any)["source"] == "journey"
	})
	// Once the journey is over, its offer is over: no longer eligible either.
	c.must(201, "POST", "/v1/responses", `{"event_id": "shop-bea", "customer_id": "bea", "campaign_id": "vip", "channel": "shop", "type": "converted"}`)
	eventually(t, "bea's vip journey to end", func() bool {
		return len(c.must(200, "GET", "/v1/customers/bea/offers", nil)["offers"].([]any)) == 0
	})
	// And once every VIP journey is over, the campaign is: Dan, gold and
	// new, is not offered it.
	c.must(200, "POST", "/v1/customers", `{"id": "dan", "attributes": {"tier": "gold"}}`)
	if ids := offerIDs(c.must(200, "GET", "/v1/customers/dan/offers", nil)); len(ids) != 1 || ids[0] != "VIP-20" {
		t.Fatalf("dan's offers %v while ada's VIP journey runs", ids)
	}
	c.must(201, "POST", "/v1/responses", `{"event_id": "shop-ada", "customer_id": "ada", "campaign_id": "vip", "channel": "shop", "type": "converted"}`)
	eventually(t, "the last VIP journey to end", func() bool {
		return len(c.must(200, "GET", "/v1/customers/dan/offers", nil)["offers"].([]any)) == 0
	})
}
