package api_test

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func offerCampaign(id, offer, rules, steps string) string {
	return fmt.Sprintf(`{"id": %q, "offer_id": %q, "start_at": "first", "rules": {%s}, "steps": {%s, "done": {"exit": {}}}}`, id, offer, rules, steps)
}

func TestARejectedOfferIsSuppressedInEveryCampaignUntilItExpires(t *testing.T) {
	c, _ := start(t)
	c.must(200, "POST", "/v1/customers", `[{"id": "ada", "email": "ada@example.com"}, {"id": "bob", "email": "bob@example.com"}]`)
	// Campaign A waits for a click; B, for the same shoe, holds on a delay.
	c.must(201, "POST", "/v1/campaigns", offerCampaign("shoe-a", "SHOE-1", `"suppress_rejected_for": "3s"`,
		`"first": {"send": {"channel": "email", "template": {"subject": "Shoes", "body": "A"}}, "next": "wait"},
		 "wait": {"wait": {"for": ["clicked"], "timeout": "1h"}, "next": "done"}`))
	c.must(201, "POST", "/v1/campaigns", offerCampaign("shoe-b", "SHOE-1", ``,
		`"first": {"delay": {"for": "1h"}, "next": "mail"},
		 "mail": {"send": {"channel": "email", "template": {"subject": "Shoes again", "body": "B"}}, "next": "done"}`))
	c.must(201, "POST", "/v1/campaigns", offerCampaign("hats", "HAT-1", ``,
		`"first": {"delay": {"for": "1h"}, "next": "done"}`))
	for _, id := range []string{"shoe-a", "shoe-b", "hats"} {
		c.must(201, "POST", "/v1/campaigns/"+id+"/enroll", `{"customer_id": "ada"}`)
	}
	eventually(t, "ada's shoe email", func() bool { return len(messages(c.must(200, "GET", "/v1/customers/ada", nil))) == 1 })

	res := c.must(201, "POST", "/v1/responses", `{"event_id": "rej-1", "customer_id": "ada", "campaign_id": "shoe-a", "channel": "email", "type": "rejected"}`)
	if res["response"].(map[string]any)["offer_id"] != "SHOE-1" || len(res["journeys"].([]any)) != 3 {
		t.Fatalf("rejection = %v", res)
	}
	var view map[string]any
	statuses := func() map[string]string {
		out := map[string]string{}
		for _, j := range view["journeys"].([]any) {
			j := j.(map[string]any)
			out[j["campaign_id"].(string)] = j["status"].(string) + " " + fmt.Sprint(j["exit_reason"])
		}
		return out
	}
	eventually(t, "both shoe journeys to end suppressed", func() bool {
		view = c.must(200, "GET", "/v1/customers/ada", nil)
		s := statuses()
		return s["shoe-a"] == "suppressed rejected offer SHOE-1" && s["shoe-b"] == "suppressed rejected offer SHOE-1"
	})
	if s := statuses(); s["hats"] != "active <nil>" {
		t.Fatalf("the hat journey was touched: %v", s)
	}
	if n := len(messages(view)); n != 1 {
		t.Fatalf("ada got %d messages; the delayed shoe email must not go out", n)
	}
	if sup := view["suppressions"].([]any); len(sup) != 1 || sup[0].(map[string]any)["offer_id"] != "SHOE-1" {
		t.Fatalf("suppressions = %v", sup)
	}

	// A third shoe campaign launched now skips ada, not bob.
	c.must(201, "POST", "/v1/campaigns", offerCampaign("shoe-c", "SHOE-1", ``,
		`"first": {"send": {"channel": "email", "template": {"subject": "Shoes!", "body": "C"}}, "next": "done"}`))
	c.must(202, "POST", "/v1/campaigns/shoe-c/launch", `{"audience": {"all": true}}`)
	var launch map[string]any
	eventually(t, "the shoe-c launch to finish", func() bool {
		launch = c.must(200, "GET", "/v1/campaigns/shoe-c", nil)["launches"].([]any)[0].(map[string]any)
		return launch["status"] == "finished"
	})
	if launch["enrolled"] != float64(1) || launch["skipped_reasons"].(map[string]any)["suppressed"] != float64(1) {
		t.Fatalf("launch = %v", launch)
	}
	problemAt(t, c.must(409, "POST", "/v1/campaigns/shoe-c/enroll", `{"customer_id": "ada"}`), "suppressed", "-")

	// After shoe-a's three-second window, ada can be offered shoes again.
	time.Sleep(3 * time.Second)
	c.must(201, "POST", "/v1/campaigns/shoe-c/enroll", `{"customer_id": "ada"}`)
	eventually(t, "ada's shoe-c email", func() bool {
		for _, m := range messages(c.must(200, "GET", "/v1/customers/ada", nil)) {
			if m["campaign_id"] == "shoe-c" && m["status"] == "sent" {
				return true
			}
		}
		return false
	})
}

func TestFrequencyCapHoldsForJourneysSendingAtOnce(t *testing.T) {
	c, _ := start(t)
	c.must(200, "POST", "/v1/customers", `{"id": "ada", "email": "ada@example.com"}`)
	const campaigns, max = 12, 3
	for i := range campaigns {
		c.must(201, "POST", "/v1/campaigns", offerCampaign(fmt.Sprintf("promo-%d", i), fmt.Sprintf("P%d", i),
			fmt.Sprintf(`"frequency_cap": {"max": %d, "per": "24h"}`, max),
			`"first": {"send": {"channel": "email", "template": {"subject": "Deal", "body": "Deal"}}, "next": "done"}`))
	}
	var wg sync.WaitGroup
	for i := range campaigns {
		wg.Go(func() {
			c.must(201, "POST", fmt.Sprintf("/v1/campaigns/promo-%d/enroll", i), `{"customer_id": "ada"}`)
		})
	}
	wg.Wait()
	var view map[string]any
	eventually(t, "every journey to finish", func() bool {
		view = c.must(200, "GET", "/v1/customers/ada", nil)
		for _, j := range view["journeys"].([]any) {
			if j.(map[string]any)["status"] != "completed" {
				return false
			}
		}
		return len(view["journeys"].([]any)) == campaigns
	})
	counts := map[string]int{}
	for _, m := range messages(view) {
		counts[m["status"].(string)+" "+fmt.Sprint(m["reason"])]++
	}
	if counts["sent <nil>"] != max || counts["skipped frequency_capped"] != campaigns-max {
		t.Fatalf("messages by status: %v", counts)
	}
}

// A click the API acknowledged while no worker ran, before the wait's
// timeout, answers the wait when a worker comes back after the timeout:
// the journey's next workflow task brings the click and the timer together.
func TestAClickAcknowledgedBeforeTheTimeoutCountsAfterAWorkerRestart(t *testing.T) {
	c, env := start(t)
	c.must(200, "POST", "/v1/customers", `{"id": "ada", "email": "ada@example.com", "push_token": "tok-ada"}`)
	c.must(201, "POST", "/v1/campaigns", `{"id": "restart", "start_at": "email-1", "steps": {
	  "email-1": {"send": {"channel": "email", "template": {"subject": "Hi", "body": "Hi"}}, "next": "wait-1"},
	  "wait-1":  {"wait": {"for": ["clicked"], "timeout": "3s"}, "on": {"clicked": "push-1", "timeout": "done"}},
	  "push-1":  {"send": {"channel": "push", "template": {"title": "Thanks", "body": "for the click"}}, "next": "done"},
	  "done":    {"exit": {}}}}`)
	c.must(201, "POST", "/v1/campaigns/restart/enroll", `{"customer_id": "ada"}`)
	eventually(t, "the journey to wait for the click", func() bool {
		return journeyStep(c, "ada", "restart") == "wait-1"
	})
	restart := env.StopWorkers()
	res := c.must(201, "POST", "/v1/responses", `{"event_id": "click-1", "customer_id": "ada", "campaign_id": "restart", "channel": "email", "type": "clicked"}`)
	if len(res["journeys"].([]any)) != 1 {
		t.Fatalf("the click reached %v", res["journeys"])
	}
	time.Sleep(4 * time.Second) // the wait's timer fires while no worker runs
	restart()
	eventually(t, "the journey to end", func() bool { return journeyStatus(c, "ada", "restart") == "completed" })
	var push bool
	for _, m := range messages(c.must(200, "GET", "/v1/customers/ada", nil)) {
		push = push || m["step"] == "push-1"
	}
	if !push {
		t.Fatal("the journey took the timeout branch: the acknowledged click was ignored")
	}
}

func journeyStep(c *client, customer, campaign string) string {
	return journeyField(c, customer, campaign, "current_step")
}
func journeyStatus(c *client, customer, campaign string) string {
	return journeyField(c, customer, campaign, "status")
}

func journeyField(c *client, customer, campaign, field string) string {
	for _, j := range c.must(200, "GET", "/v1/customers/"+customer, nil)["journeys"].([]any) {
		if j := j.(map[string]any); j["campaign_id"] == campaign {
			return fmt.Sprint(j[field])
		}
	}
	return ""
}
