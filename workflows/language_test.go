package workflows_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"

	"github.com/omni-orchestrator/omni/activities"
	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/channels/sandbox"
	"github.com/omni-orchestrator/omni/journey"
	"github.com/omni-orchestrator/omni/store"
	"github.com/omni-orchestrator/omni/store/storetest"
	"github.com/omni-orchestrator/omni/workflows"
)

// journeyRun runs one Journey in the time-skipping environment with the
// real activities, on a fresh database with sandbox channels.
type journeyRun struct {
	t     *testing.T
	env   *testsuite.TestWorkflowEnvironment
	store *store.Store
	c     store.Campaign
	// delivers records, for each Deliver or Send started, the test clock's time.
	delivers []time.Time
}

func s(v string) *string { return &v }

func newRun(t *testing.T, st *store.Store, definition string, customer store.CustomerPatch) *journeyRun {
	t.Helper()
	ctx := context.Background()
	if st == nil {
		st, _ = storetest.New(t)
	}
	if _, err := st.UpsertCustomers(ctx, []store.CustomerPatch{customer}); err != nil {
		t.Fatal(err)
	}
	def, ps := campaign.Parse([]byte(definition))
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	c, err := st.Campaign(ctx, def.ID)
	if err == store.ErrNotFound {
		c, err = st.CreateCampaign(ctx, def)
	}
	if err != nil {
		t.Fatal(err)
	}
	id := journey.ID(c.ID, customer.ID)
	if _, _, _, _, err := st.Enter(ctx, store.Entrance{CampaignID: c.ID, Version: c.Version, CustomerID: customer.ID, StartAt: def.StartAt}); err != nil {
		t.Fatal(err)
	}
	var suite testsuite.WorkflowTestSuite
	r := &journeyRun{t: t, env: suite.NewTestWorkflowEnvironment(), store: st, c: c}
	r.env.RegisterActivity(&activities.Activities{Store: st, Senders: sandbox.All(slog.New(slog.NewTextHandler(io.Discard, nil)))})
	r.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: id})
	r.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		if info.ActivityType.Name == "Send" || info.ActivityType.Name == "Deliver" {
			r.delivers = append(r.delivers, r.env.Now())
		}
	})
	return r
}

func (r *journeyRun) respond(after time.Duration, eventID, typ string) {
	r.env.RegisterDelayedCallback(func() {
		r.env.SignalWorkflow(journey.ResponseSignal, journey.Response{EventID: eventID, Type: typ, Channel: "email"})
	}, after)
}

func (r *journeyRun) run(customerID, timezone string) workflows.JourneyResult {
	r.t.Helper()
	r.env.ExecuteWorkflow(workflows.Journey, workflows.JourneyInput{
		CampaignID: r.c.ID, Version: r.c.Version, CustomerID: customerID, Definition: r.c.Definition,
		Timezone: timezone, Data: map[string]any{"code": "SPRING-7"},
	})
	if !r.env.IsWorkflowCompleted() {
		r.t.Fatal("journey did not complete")
	}
	var res workflows.JourneyResult
	if err := r.env.GetWorkflowResult(&res); err != nil {
		r.t.Fatalf("journey failed: %v", err)
	}
	return res
}

func (r *journeyRun) messages(customerID string) []store.Message {
	r.t.Helper()
	return storetest.JourneyMessages(r.t, r.store, journey.ID(r.c.ID, customerID))
}

func (r *journeyRun) journey(customerID string) store.Journey {
	r.t.Helper()
	j, err := r.store.Journey(context.Background(), journey.ID(r.c.ID, customerID))
	if err != nil {
		r.t.Fatal(err)
	}
	return j
}

const reach = `{
  "id": "reach",
  "start_at": "email-1",
  "steps": {
    "email-1": {"send": {"channel": "email", "template": {"subject": "Hi {{first_name}}", "body": "Code {{data.code}}"}}, "next": "wait-1"},
    "wait-1":  {"wait": {"for": ["clicked"], "timeout": "48h"}, "on": {"timeout": "reach-1"}, "next": "done"},
    "reach-1": {"send": {"channels": ["push", "sms", "email"], "template": {"subject": "Last chance", "title": "Last chance", "body": "{{first_name}}, 20% off"}}, "next": "done"},
    "done":    {"exit": {}}
  }
}`

func TestWaitTimesOutIntoFallbackSMSWhenThePushTokenIsMissing(t *testing.T) {
	r := newRun(t, nil, reach, store.CustomerPatch{ID: "c1", Email: s("c1@example.com"), Phone: s("+4915100000001"),
		Attributes: map[string]any{"first_name": "Jana"}})
	res := r.run("c1", "")
	if want := []string{"email-1", "wait-1", "reach-1", "done"}; !slices.Equal(res.Steps, want) {
		t.Fatalf("steps = %v, want %v", res.Steps, want)
	}
	ms := r.messages("c1")
	if len(ms) != 2 || ms[0].Body != "Code SPRING-7" || ms[1].Channel != "sms" || ms[1].Body != "Jana, 20% off" || ms[1].Status != "sent" {
		t.Fatalf("messages = %+v", ms)
	}
	if waited := r.delivers[1].Sub(r.delivers[0]); waited < 48*time.Hour {
		t.Errorf("the fallback went out %v after the email, before the 48h timeout", waited)
	}
	if j := r.journey("c1"); j.Status != "completed" || j.CurrentStep != "done" {
		t.Fatalf("journey = %+v", j)
	}
}

const delayed = `{
  "id": "delayed",
  "start_at": "email-1",
  "rules": {"exit_on": ["rejected", "unsubscribed"], "goal": "converted"},
  "steps": {
    "email-1": {"send": {"channel": "email", "template": {"subject": "Hi", "body": "Offer"}}, "next": "later"},
    "later":   {"delay": {"for": "24h"}, "next": "push-1"},
    "push-1":  {"send": {"channel": "push", "template": {"body": "Reminder"}}, "next": "done"},
    "done":    {"exit": {}}
  }
}`

func TestExitOnFiresWhileADelayIsPending(t *testing.T) {
	r := newRun(t, nil, delayed, store.CustomerPatch{ID: "c1", Email: s("c1@example.com"), PushToken: s("tok")})
	r.respond(time.Hour, "e1", "converted")
	r.respond(2*time.Hour, "e2", "rejected")
	start := r.env.Now()
	var atDelay store.Journey
	r.env.RegisterDelayedCallback(func() { atDelay = r.journey("c1") }, 90*time.Minute)
	res := r.run("c1", "")
	if res.Status != "exited" || res.Reason != "rejected" || !res.Converted {
		t.Fatalf("result = %+v", res)
	}
	if ended := r.env.Now().Sub(start); ended > 3*time.Hour {
		t.Errorf("journey ended %v in, not when the rejection arrived", ended)
	}
	if atDelay.CurrentStep != "later" {
		t.Errorf("during the delay the read model showed %q", atDelay.CurrentStep)
	}
	if ms := r.messages("c1"); len(ms) != 1 {
		t.Fatalf("sent %d messages; the reminder must not go out", len(ms))
	}
	if j := r.journey("c1"); j.Status != "exited" || j.ExitReason != "rejected" || j.CurrentStep != "later" || j.EndedAt == nil {
		t.Fatalf("journey = %+v", j)
	}
}

func TestDelaysAndWaitsInDaysAndWeeks(t *testing.T) {
	def := strings.NewReplacer(`"for": "24h"`, `"for": "1w2d"`, `"push-1":  {"send"`, `"wait-1":  {"wait": {"for": ["clicked"], "timeout": "1.5d"}, "next": "push-1"},
    "push-1":  {"send"`, `"next": "push-1"}`, `"next": "wait-1"}`).Replace(delayed)
	r := newRun(t, nil, def, store.CustomerPatch{ID: "c1", Email: s("c1@example.com"), PushToken: s("tok")})
	start := r.env.Now()
	res := r.run("c1", "")
	if want := []string{"email-1", "later", "wait-1", "push-1", "done"}; !slices.Equal(res.Steps, want) {
		t.Fatalf("steps = %v, want %v", res.Steps, want)
	}
	if len(r.delivers) != 2 {
		t.Fatalf("%d sends", len(r.delivers))
	}
	if got, want := r.delivers[1].Sub(start), (9*24+36)*time.Hour; got < want || got > want+time.Minute {
		t.Errorf("the reminder went out %v in, want 1w2d + 1.5d = %v", got, want)
	}
}

const quiet = `{
  "id": "quiet",
  "start_at": "sms-1",
  "rules": {"quiet_hours": {"from": "21:00", "to": "08:00"}},
  "steps": {
    "sms-1":   {"send": {"channel": "sms", "template": {"body": "Good morning"}}, "next": "morning"},
    "morning": {"delay": {"until_local": "09:30"}, "next": "done"},
    "done":    {"exit": {}}
  }
}`

func TestQuietHoursMoveASendTo8InTheCustomersTimeZone(t *testing.T) {
	r := newRun(t, nil, quiet, store.CustomerPatch{ID: "c1", Phone: s("+4915100000001"), Timezone: s("Europe/Berlin")})
	berlin, _ := time.LoadLocation("Europe/Berlin")
	r.env.SetStartTime(time.Date(2026, 3, 10, 22, 15, 0, 0, berlin))
	var held store.Journey
	r.env.RegisterDelayedCallback(func() { held = r.journey("c1") }, time.Hour)
	r.run("c1", "Europe/Berlin")
	if len(r.delivers) != 1 {
		t.Fatalf("%d sends", len(r.delivers))
	}
	if got, want := r.delivers[0].In(berlin), time.Date(2026, 3, 11, 8, 0, 0, 0, berlin); !got.Equal(want) {
		t.Fatalf("sent at %v, want %v", got, want)
	}
	if got, want := r.env.Now().In(berlin), time.Date(2026, 3, 11, 9, 30, 0, 0, berlin); got.Before(want) || got.After(want.Add(time.Minute)) {
		t.Fatalf("delay until 09:30 ended at %v", got)
	}
	if held.CurrentStep != "sms-1" {
		t.Errorf("while held, the read model showed %q", held.CurrentStep)
	}
}

const experiment = `{
  "id": "ab-test",
  "start_at": "tier",
  "steps": {
    "tier":  {"branch": [
                {"when": {"attribute": "tier", "equals": "gold"}, "next": "ab"},
                {"when": {"all": [{"reachable": "push"}, {"consent": "push"}]}, "next": "push-1"}
              ], "else": "done"},
    "ab":    {"experiment": {"variants": [{"name": "A", "weight": 50, "next": "email-a"}, {"name": "B", "weight": 50, "next": "email-b"}, {"name": "control", "weight": 20, "next": "done"}]}},
    "email-a": {"send": {"channel": "email", "template": {"subject": "A", "body": "A"}}, "next": "done"},
    "email-b": {"send": {"channel": "email", "template": {"subject": "B", "body": "B"}}, "next": "done"},
    "push-1":  {"send": {"channel": "push", "template": {"body": "P"}}, "next": "done"},
    "done":  {"exit": {}}
  }
}`

func TestBranchAndExperimentAssignmentIsStableAcrossRuns(t *testing.T) {
	st, _ := storetest.New(t)
	variants := map[string]string{}
	for _, id := range []string{"g1", "g2", "g3", "g4", "g5", "g6"} {
		gold := store.CustomerPatch{ID: id, Email: s(id + "@example.com"), Attributes: map[string]any{"tier": "gold"}}
		res := newRun(t, st, experiment, gold).run(id, "")
		variants[id] = res.Variant
		if res.Variant == "" || res.Steps[1] != "ab" {
			t.Fatalf("%s: %+v", id, res)
		}
		if j, _ := st.Journey(context.Background(), journey.ID("ab-test", id)); j.Variant != res.Variant {
			t.Fatalf("%s: read model variant %q, journey %q", id, j.Variant, res.Variant)
		}
	}
	// A second run of the same customers (a re-launch after the first
	// journeys ended, say) assigns the same variants.
	second, _ := storetest.New(t)
	seen := map[string]bool{}
	for id, want := range variants {
		gold := store.CustomerPatch{ID: id, Email: s(id + "@example.com"), Attributes: map[string]any{"tier": "gold"}}
		if got := newRun(t, second, experiment, gold).run(id, "").Variant; got != want {
			t.Fatalf("%s: variant %s, then %s", id, want, got)
		}
		seen[want] = true
	}
	if len(seen) < 2 {
		t.Errorf("six customers all got %v: the split does not split", seen)
	}

	silver := newRun(t, st, experiment, store.CustomerPatch{ID: "s1", PushToken: s("tok"), Attributes: map[string]any{"tier": "silver"}})
	if res := silver.run("s1", ""); !slices.Equal(res.Steps, []string{"tier", "push-1", "done"}) || res.Variant != "" {
		t.Fatalf("silver with push: %+v", res)
	}
	nobody := newRun(t, st, experiment, store.CustomerPatch{ID: "n1", PushToken: s("tok"), Consent: &store.ConsentPatch{Push: new(bool)}})
	if res := nobody.run("n1", ""); !slices.Equal(res.Steps, []string{"tier", "done"}) {
		t.Fatalf("no push consent: %+v", res)
	}
}

const clickedBranch = `{
  "id": "edited",
  "start_at": "email-1",
  "steps": {
    "email-1": {"send": {"channel": "email", "template": {"subject": "v1", "body": "v1"}}, "next": "wait-1"},
    "wait-1":  {"wait": {"for": ["clicked"], "timeout": "72h"}, "next": "check"},
    "check":   {"branch": [{"when": {"responded": "clicked"}, "next": "push-1"}], "else": "done"},
    "push-1":  {"send": {"channel": "push", "template": {"body": "v1 follow-up"}}, "next": "done"},
    "done":    {"exit": {}}
  }
}`

func TestAJourneyFinishesTheVersionItStartedAfterTheCampaignIsEdited(t *testing.T) {
	r := newRun(t, nil, clickedBranch, store.CustomerPatch{ID: "c1", Email: s("c1@example.com"), PushToken: s("tok")})
	r.env.RegisterDelayedCallback(func() {
		// Version 2 drops the follow-up and renames the steps.
		def, ps := campaign.Parse([]byte(`{"id": "edited", "start_at": "only", "steps": {
			"only": {"send": {"channel": "sms", "template": {"body": "v2"}}, "next": "end"}, "end": {"exit": {}}}}`))
		if len(ps) > 0 {
			t.Error(ps)
			return
		}
		if c, err := r.store.CreateCampaign(context.Background(), def); err != nil || c.Version != 2 {
			t.Errorf("create v2: %+v, %v", c, err)
		}
	}, time.Hour)
	r.respond(2*time.Hour, "e1", "clicked")
	res := r.run("c1", "")
	if want := []string{"email-1", "wait-1", "check", "push-1", "done"}; !slices.Equal(res.Steps, want) {
		t.Fatalf("steps = %v, want %v", res.Steps, want)
	}
	if ms := r.messages("c1"); len(ms) != 2 || ms[1].Body != "v1 follow-up" {
		t.Fatalf("messages = %+v", ms)
	}
	if j := r.journey("c1"); j.Version != 1 || j.Status != "completed" {
		t.Fatalf("journey = %+v", j)
	}
}
