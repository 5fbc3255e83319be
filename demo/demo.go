// Package demo loads a handful of customers and a campaign, so that a first
// `make run` shows journeys running.
package demo

import (
	"context"
	"errors"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/enroll"
	"github.com/omni-orchestrator/omni/store"
)

// CampaignID is the demo campaign.
const CampaignID = "welcome-demo"

// definition: an email, a wait for a click (two minutes, so the demo ends
// while you watch), then a push to those who clicked or an SMS to the others.
const definition = `{
  "id": "welcome-demo",
  "name": "Welcome (demo)",
  "offer_id": "WELCOME-10",
  "start_at": "email-1",
  "steps": {
    "email-1": {"send": {"channel": "email", "template": {"subject": "Welcome, {{first_name}}!", "body": "<p>Hi {{first_name}}, here is 10% off your first order.</p>"}}, "next": "wait-1"},
    "wait-1":  {"wait": {"for": ["clicked", "converted"], "timeout": "2m"},
                "on": {"clicked": "push-1", "converted": "done", "timeout": "sms-1"}},
    "push-1":  {"send": {"channel": "push", "template": {"title": "Your 10% is waiting", "body": "{{first_name}}, your code is in your inbox."}}, "next": "done"},
    "sms-1":   {"send": {"channel": "sms", "template": {"body": "{{first_name}}, 10% off your first order ends soon."}}, "next": "done"},
    "done":    {"exit": {}}
  }
}`

func s(v string) *string { return &v }

// Customers are the demo's customers.
var Customers = []store.CustomerPatch{
	{ID: "ada", Email: s("ada@example.com"), PushToken: s("demo-token-ada"), Phone: s("+4915100000001"), Timezone: s("Europe/Berlin"), Attributes: map[string]any{"first_name": "Ada", "tier": "gold"}},
	{ID: "grace", Email: s("grace@example.com"), Phone: s("+4915100000002"), Timezone: s("America/New_York"), Attributes: map[string]any{"first_name": "Grace", "tier": "silver"}},
	{ID: "linus", Email: s("linus@example.com"), PushToken: s("demo-token-linus"), Timezone: s("Europe/Helsinki"), Attributes: map[string]any{"first_name": "Linus"}},
	{ID: "margaret", Phone: s("+4915100000004"), Attributes: map[string]any{"first_name": "Margaret"}},
	{ID: "alan", Email: s("alan@example.com"), Phone: s("+4915100000005"), Consent: &store.ConsentPatch{SMS: new(bool)}, Attributes: map[string]any{"first_name": "Alan"}},
}

// Load upserts the demo customers, creates the demo campaign unless it
// exists, and launches it to them. Running it again enrolls nobody twice.
func Load(ctx context.Context, e *enroll.Enroller) (store.Launch, error) {
	if _, err := e.Store.UpsertCustomers(ctx, Customers); err != nil {
		return store.Launch{}, err
	}
	c, err := e.Store.Campaign(ctx, CampaignID)
	if errors.Is(err, store.ErrNotFound) {
		def, problems := campaign.Parse([]byte(definition))
		if len(problems) > 0 {
			return store.Launch{}, problems
		}
		c, err = e.Store.CreateCampaign(ctx, def)
	}
	if err != nil {
		return store.Launch{}, err
	}
	ids := make([]string, len(Customers))
	for i, c := range Customers {
		ids[i] = c.ID
	}
	return e.StartLaunch(ctx, c, store.Audience{CustomerIDs: ids}, store.Delivery{})
}
