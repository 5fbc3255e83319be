package api_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// A response is taken only for what omni knows of the customer: a
// campaign they have a journey in or are offered, an offer of theirs.
// Anything else is refused before it is stored, so no counter moves.
func TestResponsesForeignToTheCustomerAreRefused(t *testing.T) {
	c, _ := start(t)
	c.must(200, "POST", "/v1/customers", `[{"id": "ada", "email": "ada@example.com"}, {"id": "bob", "email": "bob@example.com"}]`)
	c.must(201, "POST", "/v1/campaigns", clickWait)
	c.must(201, "POST", "/v1/campaigns/news/enroll", `{"customer_id": "ada"}`)
	eventually(t, "ada's email", func() bool { return journeyStep(c, "ada", "news") == "wait" })
	c.must(201, "POST", "/v1/responses", `{"event_id": "ada-open", "customer_id": "ada", "campaign_id": "news", "channel": "email", "type": "opened"}`)
	stats := func() string {
		out, _ := json.Marshal(c.must(200, "GET", "/v1/campaigns/news/stats", nil))
		return string(out)
	}
	before := stats()

	// Bob was never enrolled in news: his click, however well formed, is not taken.
	out := c.must(422, "POST", "/v1/responses", `{"event_id": "bob-click", "customer_id": "bob", "campaign_id": "news", "channel": "email", "type": "clicked"}`)
	if errorCode(out) != "not_in_campaign" || !strings.Contains(errorMessage(out), `"bob"`) || !strings.Contains(errorMessage(out), "nothing was stored") {
		t.Fatalf("bob's click: %v", out)
	}
	// Nor his rejection of an offer nobody made him.
	problemAt(t, c.must(422, "POST", "/v1/responses", `{"event_id": "bob-no", "customer_id": "bob", "offer_id": "NEWS", "channel": "contact_center", "type": "rejected"}`), "not_offered", "-")
	// Nor, for Ada, an offer of another campaign under news.
	problemAt(t, c.must(422, "POST", "/v1/responses", `{"event_id": "ada-no", "customer_id": "ada", "campaign_id": "news", "offer_id": "OTHER", "channel": "contact_center", "type": "rejected"}`), "not_offered", "-")

	if after := stats(); after != before {
		t.Fatalf("refused responses moved the counters:\nbefore %s\nafter  %s", before, after)
	}
	bob := c.must(200, "GET", "/v1/customers/bob", nil)
	if len(bob["responses"].([]any)) != 0 || len(bob["suppressions"].([]any)) != 0 {
		t.Fatalf("bob's view %v", bob)
	}
	// Without a campaign or an offer, a response is the customer's own
	// (consent, their journeys): taken.
	c.must(201, "POST", "/v1/responses", `{"event_id": "bob-stop", "customer_id": "bob", "channel": "email", "type": "unsubscribed"}`)

	// Ada's own offer, named: taken, and taken again as the duplicate it is
	// once her rejection has taken the offer off her list.
	reject := `{"event_id": "ada-no-news", "customer_id": "ada", "offer_id": "NEWS", "channel": "contact_center", "type": "rejected"}`
	c.must(201, "POST", "/v1/responses", reject)
	if dup := c.must(200, "POST", "/v1/responses", reject); dup["duplicate"] != true {
		t.Fatalf("the rejection again: %v", dup)
	}
}
