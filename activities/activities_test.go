package activities_test

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/omni-orchestrator/omni/activities"
	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/channels"
	"github.com/omni-orchestrator/omni/channels/sandbox"
	"github.com/omni-orchestrator/omni/journey"
	"github.com/omni-orchestrator/omni/store"
	"github.com/omni-orchestrator/omni/store/storetest"
)

// counting wraps the sandbox to count the calls that reach the provider.
type counting struct {
	channels.Sender
	calls atomic.Int32
}

func (c *counting) Send(ctx context.Context, m channels.Message) (string, error) {
	c.calls.Add(1)
	return c.Sender.Send(ctx, m)
}

func ptr[T any](v T) *T { return &v }

func setup(t *testing.T) (*testsuite.TestActivityEnvironment, *store.Store, *counting) {
	email := &counting{Sender: sandbox.Sender{Channel: "email", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	env, st := setupWith(t, map[string]channels.Sender{"email": email, "sms": sandbox.Sender{Channel: "sms", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}})
	return env, st, email
}

// setupWith prepares customers ada (email, phone and push token) and bob
// (email without consent), each in a journey of campaign welcome, and an
// activity environment whose channels use senders.
func setupWith(t *testing.T, senders map[string]channels.Sender) (*testsuite.TestActivityEnvironment, *store.Store) {
	return setupWindow(t, senders, time.Minute)
}

// setupWindow is setupWith with the time a send that may have reached its
// provider waits for the provider's webhook.
func setupWindow(t *testing.T, senders map[string]channels.Sender, window time.Duration) (*testsuite.TestActivityEnvironment, *store.Store) {
	st, _ := storetest.New(t)
	ctx := context.Background()
	_, err := st.UpsertCustomers(ctx, []store.CustomerPatch{
		{ID: "ada", Email: ptr("ada@example.com"), Phone: ptr("+4915112345678"), PushToken: ptr("fcm-token-ada-0001"),
			Attributes: map[string]any{"first_name": "Ada <3"}},
		{ID: "bob", Email: ptr("bob@example.com"), Consent: &store.ConsentPatch{Email: ptr(false)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	def := &campaign.Definition{ID: "welcome", StartAt: "done", Steps: map[string]campaign.Step{"done": {Exit: &campaign.Exit{}}}}
	if _, err := st.CreateCampaign(ctx, def); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"ada", "bob"} {
		if _, _, _, _, err := st.Enter(ctx, store.Entrance{CampaignID: "welcome", Version: 1, CustomerID: id, StartAt: "email-1"}); err != nil {
			t.Fatal(err)
		}
	}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(&activities.Activities{Store: st, Senders: senders, ConfirmWindow: window})
	return env, st
}

func input(customer, channel string) journey.DeliverInput {
	return journey.DeliverInput{
		JourneyID: "journey:welcome:" + customer, CampaignID: "welcome", CustomerID: customer, Step: "email-1",
		Key: "journey:welcome:" + customer + "/email-1/1", NextStep: "wait-1",
		Send: campaign.Send{Channel: channel, Template: &campaign.Template{Subject: "Hi {{first_name}}", Body: "<p>{{first_name}}, 10% off</p>"}},
	}
}

func deliver(t *testing.T, env *testsuite.TestActivityEnvironment, in journey.DeliverInput) journey.DeliverResult {
	t.Helper()
	var a *activities.Activities
	return execute(t, env, a.Deliver, in)
}

// execute runs one activity once and returns its result.
func execute(t *testing.T, env *testsuite.TestActivityEnvironment, fn any, in journey.DeliverInput) journey.DeliverResult {
	t.Helper()
	val, err := env.ExecuteActivity(fn, in)
	if err != nil {
		t.Fatal(err)
	}
	var res journey.DeliverResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

func TestDeliverSendsOnceAndRecordsTheRenderedMessage(t *testing.T) {
	env, st, email := setup(t)
	first := deliver(t, env, input("ada", "email"))
	again := deliver(t, env, input("ada", "email")) // a retry, or a restarted worker
	if first.Status != journey.MessageSent || again.MessageID != first.MessageID {
		t.Fatalf("first = %+v, again = %+v", first, again)
	}
	if n := email.calls.Load(); n != 1 {
		t.Fatalf("provider called %d times", n)
	}
	ms := storetest.JourneyMessages(t, st, "journey:welcome:ada")
	if len(ms) != 1 {
		t.Fatalf("messages = %v", ms)
	}
	if m := ms[0]; m.Subject != "Hi Ada <3" || m.Body != "<p>Ada &lt;3, 10% off</p>" || m.Recipient != "ada@example.com" || m.ProviderMessageID != "sandbox-"+m.ID {
		t.Fatalf("message = %+v", m)
	}
	if j, _ := st.Journey(context.Background(), "journey:welcome:ada"); j.CurrentStep != "wait-1" {
		t.Fatalf("journey at %q", j.CurrentStep)
	}
}

func TestDeliverSkipsWithAReason(t *testing.T) {
	env, st, email := setup(t)
	for _, tc := range []struct {
		customer, channel, reason string
	}{
		{"bob", "email", journey.ReasonNoConsent},
		{"bob", "sms", journey.ReasonUnreachable},
	} {
		in := input(tc.customer, tc.channel)
		in.Key += "/" + tc.channel
		res := deliver(t, env, in)
		if res.Status != journey.MessageSkipped || res.Reason != tc.reason {
			t.Errorf("%s on %s: %+v, want skipped for %s", tc.customer, tc.channel, res, tc.reason)
		}
	}
	if n := email.calls.Load(); n != 0 {
		t.Fatalf("provider called %d times", n)
	}
	if j, _ := st.Journey(context.Background(), "journey:welcome:bob"); j.CurrentStep != "wait-1" {
		t.Fatalf("a skipped send did not move the journey on: %q", j.CurrentStep)
	}
}

func TestDeliverRecordsATemplateOverALimitAsFailed(t *testing.T) {
	env, st, email := setup(t)
	in := input("ada", "email")
	in.Template = &campaign.Template{Subject: "Hi", Body: `{% assign s = "x" %}{% for i in (1..30) %}{% assign s = s | append: s %}{% endfor %}{{ s }}`}
	res := deliver(t, env, in)
	const reason = "template_error: render template: template builds more than 1 MiB of strings and arrays"
	if res.Status != journey.MessageFailed || res.Reason != reason {
		t.Fatalf("res = %+v, want failed with %q", res, reason)
	}
	if m, err := st.MessageByID(context.Background(), res.MessageID); err != nil || m.Status != journey.MessageFailed || m.Reason != reason || m.Body != "" {
		t.Fatalf("recorded %+v, %v", m, err)
	}
	if n := email.calls.Load(); n != 0 {
		t.Fatalf("provider called %d times", n)
	}
	if j, _ := st.Journey(context.Background(), "journey:welcome:ada"); j.CurrentStep != "wait-1" {
		t.Fatalf("a failed send did not move the journey on: %q", j.CurrentStep)
	}
}
