package api_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
)

// cartCampaign is the abandoned cart: an event enters, one journey per
// cart; the order of the same cart ends the wait; else a reminder.
const cartCampaign = `{"id": "cart", "offer_id": "CART-10", "start_at": "email-1",
  "trigger": {"event": "cart_abandoned", "where": {"property": "cart_total", "gte": 20}},
  "entry":   {"key": "cart_id", "reentry": "after_exit"},
  "steps": {
    "email-1": {"send": {"channel": "email", "template": {"subject": "Still yours", "body": "{{event.cart_total}} EUR"}}, "next": "wait-1"},
    "wait-1":  {"wait": {"events": ["order_placed"], "match": ["cart_id"], "timeout": "4s"}, "on": {"order_placed": "done", "timeout": "push-1"}},
    "push-1":  {"send": {"channel": "push", "template": {"title": "Your cart", "body": "Ends tonight"}}, "next": "done"},
    "done":    {"exit": {}}}}`

func event(id, customer, name string, props map[string]any) map[string]any {
	return map[string]any{"event_id": id, "customer_id": customer, "name": name, "properties": props}
}

// journeysOf is a customer's journeys in a campaign, by workflow id.
func journeysOf(c *client, customer, campaign string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, j := range c.must(200, "GET", "/v1/customers/"+customer, nil)["journeys"].([]any) {
		if j := j.(map[string]any); j["campaign_id"] == campaign {
			out[j["workflow_id"].(string)] = j
		}
	}
	return out
}

// messagesOf are the steps of a journey's messages.
func messagesOf(c *client, customer, journeyID string) []string {
	var steps []string
	for _, m := range messages(c.must(200, "GET", "/v1/customers/"+customer, nil)) {
		if m["journey_id"] == journeyID {
			steps = append(steps, m["step"].(string))
		}
	}
	slices.Sort(steps)
	return steps
}

func TestAnAbandonedCartEntersOneJourneyPerCartAndItsOrderEndsIt(t *testing.T) {
	c, _ := start(t)
	c.must(200, "POST", "/v1/customers", `{"id": "ada", "email": "ada@example.com", "push_token": "tok-ada"}`)
	c.must(201, "POST", "/v1/campaigns", cartCampaign)

	first := c.must(201, "POST", "/v1/events", event("e1", "ada", "cart_abandoned", map[string]any{"cart_id": "A", "cart_total": 42}))
	if got := first["enrolled"]; fmt.Sprint(got) != "[journey:cart:ada]" {
		t.Fatalf("the cart event enrolled %v", got)
	}
	eventually(t, "the cart email", func() bool { return len(messages(c.must(200, "GET", "/v1/customers/ada", nil))) == 1 })
	if m := messages(c.must(200, "GET", "/v1/customers/ada", nil))[0]; m["body"] != "42 EUR" {
		t.Fatalf("the email does not show the cart's total: %v", m)
	}
	// The same event again, and the same cart again, enter nothing.
	if again := c.must(200, "POST", "/v1/events", event("e1", "ada", "cart_abandoned", map[string]any{"cart_id": "A", "cart_total": 42})); again["status"] != "duplicate" || again["enrolled"] != nil {
		t.Fatalf("the repeated event: %v", again)
	}
	if same := c.must(201, "POST", "/v1/events", event("e2", "ada", "cart_abandoned", map[string]any{"cart_id": "A", "cart_total": 44})); same["enrolled"] != nil {
		t.Fatalf("the same cart entered again: %v", same)
	}
	// A second cart is a second journey; a small one none.
	second := c.must(201, "POST", "/v1/events", event("e3", "ada", "cart_abandoned", map[string]any{"cart_id": "B", "cart_total": 30}))
	if fmt.Sprint(second["enrolled"]) != "[journey:cart#2:ada]" {
		t.Fatalf("the second cart enrolled %v", second["enrolled"])
	}
	if small := c.must(201, "POST", "/v1/events", event("e4", "ada", "cart_abandoned", map[string]any{"cart_id": "C", "cart_total": 5})); small["enrolled"] != nil {
		t.Fatalf("a cart below the trigger's condition entered: %v", small)
	}
	eventually(t, "both carts' emails", func() bool { return len(messages(c.must(200, "GET", "/v1/customers/ada", nil))) == 2 })
	// The order of cart B ends its journey before the reminder; cart A's
	// journey waits on, and gets its reminder.
	order := c.must(201, "POST", "/v1/events", event("o1", "ada", "order_placed", map[string]any{"cart_id": "B"}))
	if got := order["journeys"].([]any); len(got) != 2 {
		t.Fatalf("the order reached %v; both carts' journeys wait for orders", got)
	}
	eventually(t, "both journeys to end", func() bool {
		js := journeysOf(c, "ada", "cart")
		return len(js) == 2 && js["journey:cart:ada"]["status"] == "completed" && js["journey:cart#2:ada"]["status"] == "completed"
	})
	if got := messagesOf(c, "ada", "journey:cart#2:ada"); !slices.Equal(got, []string{"email-1"}) {
		t.Errorf("cart B's journey sent %v; its order came before the reminder", got)
	}
	if got := messagesOf(c, "ada", "journey:cart:ada"); !slices.Equal(got, []string{"email-1", "push-1"}) {
		t.Errorf("cart A's journey sent %v; an order of another cart must not end it", got)
	}
	// Cart A's journey is over: after_exit lets the same cart enter again.
	if again := c.must(201, "POST", "/v1/events", event("e5", "ada", "cart_abandoned", map[string]any{"cart_id": "A", "cart_total": 50})); fmt.Sprint(again["enrolled"]) != "[journey:cart#3:ada]" {
		t.Fatalf("cart A after its journey ended: %v", again)
	}
}

// A cart abandoned and ordered in one batch: the order reaches the
// journey the cart entered a moment before, and ends it.
func TestAnOrderInTheBatchOfItsCartEndsTheCartsJourney(t *testing.T) {
	c, _ := start(t)
	c.must(200, "POST", "/v1/customers", `{"id": "ada", "email": "ada@example.com", "push_token": "tok-ada"}`)
	c.must(201, "POST", "/v1/campaigns", cartCampaign)
	out := c.must(200, "POST", "/v1/events", []any{
		event("e1", "ada", "cart_abandoned", map[string]any{"cart_id": "A", "cart_total": 42}),
		event("o1", "ada", "order_placed", map[string]any{"cart_id": "A"}),
	})
	results := out["results"].([]any)
	if got := fmt.Sprint(results[1].(map[string]any)["journeys"]); got != "[journey:cart:ada]" {
		t.Fatalf("the order reached %s: %v", got, out)
	}
	eventually(t, "the journey to end", func() bool { return journeysOf(c, "ada", "cart")["journey:cart:ada"]["status"] == "completed" })
	if got := messagesOf(c, "ada", "journey:cart:ada"); !slices.Equal(got, []string{"email-1"}) {
		t.Errorf("the journey sent %v; its order came before the reminder", got)
	}
}

// A batch stores the good events and reports the bad ones, each in order.
func TestABatchOfEventsStoresTheGoodOnesAndReportsTheBadOnes(t *testing.T) {
	c, _ := start(t)
	c.must(200, "POST", "/v1/customers", `{"id": "ada", "email": "ada@example.com"}`)
	out := c.must(200, "POST", "/v1/events", []any{
		event("b1", "ada", "page_viewed", map[string]any{"page": "/shoes"}),
		event("b2", "nobody", "page_viewed", nil),
		event("", "ada", "page_viewed", nil),
		event("b3", "ada", "trailing space ", nil),
		event("b1", "ada", "page_viewed", nil),
		event("b4", "ada", "signed_up", nil),
	})
	var statuses []string
	for _, r := range out["results"].([]any) {
		statuses = append(statuses, r.(map[string]any)["status"].(string))
	}
	if want := []string{"accepted", "unknown_customer", "invalid", "invalid", "duplicate", "accepted"}; !slices.Equal(statuses, want) {
		t.Fatalf("statuses %v, want %v", statuses, want)
	}
	if out["accepted"] != float64(2) || out["duplicates"] != float64(1) || out["failed"] != float64(3) {
		t.Fatalf("counts %v", out)
	}
	bad := out["results"].([]any)[3].(map[string]any)
	if ps := fmt.Sprint(bad["problems"]); !strings.Contains(ps, "[3].name") {
		t.Fatalf("the bad name's problem: %v", ps)
	}
	view := c.must(200, "GET", "/v1/customers/ada", nil)
	var names []string
	for _, e := range view["events"].([]any) {
		names = append(names, e.(map[string]any)["name"].(string))
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"page_viewed", "signed_up"}) {
		t.Fatalf("the customer's events %v", names)
	}
	timeline := c.must(200, "GET", "/v1/customers/ada/timeline", nil)["events"].([]any)
	if n := len(timeline); n != 2 || timeline[0].(map[string]any)["kind"] != "event" {
		t.Fatalf("the timeline %v", timeline)
	}
	problemAt(t, c.must(400, "POST", "/v1/events", make([]any, 1001)), "invalid_request", "")
	problemAt(t, c.must(404, "POST", "/v1/events", event("b9", "nobody", "signed_up", nil)), "not_found", "-")
}

func TestReentryModes(t *testing.T) {
	c, _ := start(t)
	c.must(200, "POST", "/v1/customers", `{"id": "ada", "email": "ada@example.com"}`)
	campaign := func(id, entry string) string {
		return fmt.Sprintf(`{"id": %q, "start_at": "hello", "trigger": {"event": "visited"}, "entry": %s, "steps": {
		  "hello": {"send": {"channel": "email", "template": {"subject": "Hello", "body": "Hello"}}, "next": "pause"},
		  "pause": {"delay": {"for": "2s"}, "next": "done"},
		  "done":  {"exit": {}}}}`, id, entry)
	}
	c.must(201, "POST", "/v1/campaigns", campaign("never", `{"reentry": "never"}`))
	c.must(201, "POST", "/v1/campaigns", campaign("after", `{"reentry": "after_exit"}`))
	c.must(201, "POST", "/v1/campaigns", campaign("always", `{"reentry": "always", "max": 3}`))
	c.must(201, "POST", "/v1/campaigns", campaign("cool", `{"reentry": "always", "cooldown": "1h"}`))
	visit := func(n int) {
		c.must(201, "POST", "/v1/events", event(fmt.Sprintf("v%d", n), "ada", "visited", nil))
	}
	visit(1)
	visit(2) // while the first journeys run
	eventually(t, "the first journeys to end", func() bool {
		for _, id := range []string{"never", "after"} {
			for _, j := range journeysOf(c, "ada", id) {
				if j["status"] != "completed" {
					return false
				}
			}
		}
		return true
	})
	visit(3) // after they ended
	visit(4)
	count := func(id string) int { return len(journeysOf(c, "ada", id)) }
	if n := count("never"); n != 1 {
		t.Errorf("never: %d journeys, want 1", n)
	}
	if n := count("after"); n != 2 {
		t.Errorf("after_exit: %d journeys, want 2 (the second visit came while the first ran, the fourth while the second ran)", n)
	}
	if n := count("always"); n != 3 {
		t.Errorf("always with max 3: %d journeys, want 3", n)
	}
	if n := count("cool"); n != 1 {
		t.Errorf("always with a cooldown of an hour: %d journeys, want 1", n)
	}
}

// Whether a customer may enter is PostgreSQL's to say, not Temporal's: a
// relaunch after the finished journeys' workflows are gone from Temporal
// (its retention) enrolls nobody twice.
func TestARelaunchAfterTheJourneysWereDeletedFromTemporalEnrollsNobody(t *testing.T) {
	c, env := start(t)
	c.must(200, "POST", "/v1/customers", `[{"id": "ada", "email": "ada@example.com"}, {"id": "bob", "email": "bob@example.com"}]`)
	c.must(201, "POST", "/v1/campaigns", `{"id": "once", "start_at": "hi", "steps": {
	  "hi":   {"send": {"channel": "email", "template": {"subject": "Hi", "body": "Hi"}}, "next": "done"},
	  "done": {"exit": {}}}}`)
	c.must(202, "POST", "/v1/campaigns/once/launch", `{"audience": {"all": true}}`)
	eventually(t, "both journeys to end", func() bool {
		return journeyStatus(c, "ada", "once") == "completed" && journeyStatus(c, "bob", "once") == "completed"
	})
	ctx := context.Background()
	for _, id := range []string{"journey:once:ada", "journey:once:bob"} {
		if _, err := env.Temporal.WorkflowService().DeleteWorkflowExecution(ctx, &workflowservice.DeleteWorkflowExecutionRequest{
			Namespace: "default", WorkflowExecution: workflowExecution(id)}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the workflows to be gone", func() bool {
		_, err := env.Temporal.DescribeWorkflowExecution(ctx, "journey:once:ada", "")
		return err != nil
	})
	c.must(202, "POST", "/v1/campaigns/once/launch", `{"audience": {"all": true}}`)
	var launch map[string]any
	eventually(t, "the relaunch to finish", func() bool {
		launch = c.must(200, "GET", "/v1/campaigns/once", nil)["launches"].([]any)[0].(map[string]any)
		return launch["status"] == "finished"
	})
	if launch["enrolled"] != float64(0) || launch["already_enrolled"] != float64(2) {
		t.Fatalf("the relaunch: %v", launch)
	}
	time.Sleep(time.Second)
	if n := len(messages(c.must(200, "GET", "/v1/customers/ada", nil))); n != 1 {
		t.Fatalf("ada got %d emails", n)
	}
}

func workflowExecution(id string) *commonpb.WorkflowExecution {
	return &commonpb.WorkflowExecution{WorkflowId: id}
}
