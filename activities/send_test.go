package activities_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/omni-orchestrator/omni/activities"
	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/channels"
	"github.com/omni-orchestrator/omni/channels/fcm/fcmtest"
	"github.com/omni-orchestrator/omni/channels/sandbox"
	"github.com/omni-orchestrator/omni/channels/sendgrid"
	"github.com/omni-orchestrator/omni/channels/sendgrid/sendgridtest"
	"github.com/omni-orchestrator/omni/channels/twilio"
	"github.com/omni-orchestrator/omni/channels/twilio/twiliotest"
	"github.com/omni-orchestrator/omni/journey"
	"github.com/omni-orchestrator/omni/store/storetest"
)

// providers are the three real drivers against their local stand-ins.
type providers struct {
	sendgrid *sendgridtest.Server
	twilio   *twiliotest.Server
	fcm      *fcmtest.Server
	senders  map[string]channels.Sender
}

func newProviders(t *testing.T) *providers {
	p := &providers{sendgrid: sendgridtest.New(t), twilio: twiliotest.New(t), fcm: fcmtest.New(t)}
	p.senders = map[string]channels.Sender{"email": p.sendgrid.Sender(), "sms": p.twilio.Sender(), "push": p.fcm.Sender(t)}
	return p
}

// prepare records the message of a send step for ada.
func prepare(t *testing.T, env *testsuite.TestActivityEnvironment, key string, channels ...string) journey.DeliverResult {
	t.Helper()
	in := journey.DeliverInput{
		JourneyID: "journey:welcome:ada", CampaignID: "welcome", CustomerID: "ada", Step: "reach", Key: key, NextStep: "wait-1",
		Send: campaign.Send{Channels: channels, Template: &campaign.Template{Body: "Hi {{first_name}}"}},
	}
	if len(channels) == 1 {
		in.Send = campaign.Send{Channel: channels[0], Templates: map[string]campaign.Template{
			"email": {Subject: "Hi", Body: "Hi {{first_name}}"}, "sms": {Body: "Hi {{first_name}}"}, "push": {Title: "Hi", Body: "Hi {{first_name}}"}}}
	}
	var a *activities.Activities
	return execute(t, env, a.Prepare, in)
}

// send runs the Send activity once, as one attempt.
func send(env *testsuite.TestActivityEnvironment, messageID string) (journey.DeliverResult, error) {
	var a *activities.Activities
	val, err := env.ExecuteActivity(a.Send, journey.SendInput{MessageID: messageID, Progress: journey.Progress{Step: "wait-1"}})
	var res journey.DeliverResult
	if err == nil {
		err = val.Get(&res)
	}
	return res, err
}

func TestSendRetriesWhatTheProviderCannotTakeNowAndSendsOnce(t *testing.T) {
	p := newProviders(t)
	env, st := setupWith(t, p.senders)
	p.sendgrid.Then(sendgridtest.TooManyRequests(time.Now().Add(40*time.Second).Unix()), sendgridtest.ServerError(503))
	m := prepare(t, env, "k1", "email")
	if m.Status != journey.MessagePending || m.Channel != "email" {
		t.Fatalf("prepared %+v", m)
	}

	_, err := send(env, m.MessageID)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.NonRetryable() || appErr.NextRetryDelay() < 30*time.Second {
		t.Fatalf("429: err = %v, want a retryable error that waits for X-RateLimit-Reset", err)
	}
	if _, err = send(env, m.MessageID); !errors.As(err, &appErr) || appErr.NonRetryable() || appErr.NextRetryDelay() != 0 {
		t.Fatalf("503: err = %v, want a retryable error on the retry policy", err)
	}
	if got, _ := st.MessageByID(context.Background(), m.MessageID); got.Status != journey.MessagePending {
		t.Fatalf("after two failed attempts the message is %s", got.Status)
	}
	res, err := send(env, m.MessageID)
	if err != nil || res.Status != journey.MessageSent {
		t.Fatalf("third attempt: %+v, %v", res, err)
	}
	if res, err = send(env, m.MessageID); err != nil || res.Status != journey.MessageSent { // a retry after a lost completion
		t.Fatalf("fourth attempt: %+v, %v", res, err)
	}
	if n, r := len(p.sendgrid.Accepted()), p.sendgrid.Requests(); n != 1 || r != 3 {
		t.Fatalf("SendGrid accepted %d mails in %d requests, want 1 in 3", n, r)
	}
	got, _ := st.MessageByID(context.Background(), m.MessageID)
	if got.ProviderMessageID != "sg000001AbCdEf" || p.sendgrid.Accepted()[0].CustomArgs[sendgrid.ArgMessageID] != m.MessageID {
		t.Fatalf("message %+v", got)
	}
}

func TestSendRecordsAPermanentFailureAndNeverRetriesIt(t *testing.T) {
	p := newProviders(t)
	env, st := setupWith(t, p.senders)
	p.twilio.Then(twiliotest.Reply{Status: 400, Code: 21211})
	m := prepare(t, env, "k1", "sms")
	res, err := send(env, m.MessageID)
	if err != nil || res.Status != journey.MessageFailed || !strings.HasPrefix(res.Reason, "permanent: ") || !strings.Contains(res.Reason, "21211") || res.Fallback {
		t.Fatalf("res = %+v, err = %v", res, err)
	}
	if res, err = send(env, m.MessageID); err != nil || res.Status != journey.MessageFailed {
		t.Fatalf("again: %+v, %v", res, err)
	}
	if n := len(p.twilio.Accepted()); n != 0 {
		t.Fatalf("Twilio accepted %d messages", n)
	}
	if j, _ := st.Journey(context.Background(), "journey:welcome:ada"); j.CurrentStep != "wait-1" {
		t.Fatalf("a failed send did not move the journey on: %q", j.CurrentStep)
	}
}

func TestSendToAnUnregisteredTokenForgetsItAndFallsBack(t *testing.T) {
	p := newProviders(t)
	env, st := setupWith(t, p.senders)
	p.fcm.Unregister("fcm-token-ada-0001")
	m := prepare(t, env, "k1", "push", "email")
	if m.Channel != "push" {
		t.Fatalf("prepared %+v", m)
	}
	res, err := send(env, m.MessageID)
	if err != nil || res.Status != journey.MessageFailed || !res.Fallback || !strings.HasPrefix(res.Reason, "unreachable: ") {
		t.Fatalf("res = %+v, err = %v", res, err)
	}
	if c, _ := st.Customer(context.Background(), "ada"); c.PushToken != "" {
		t.Fatalf("token still on the customer: %q", c.PushToken)
	}
	// The journey's next round composes the send again: email now.
	next := prepare(t, env, "k1/2", "push", "email")
	if next.Channel != "email" || next.Status != journey.MessagePending {
		t.Fatalf("fallback prepared %+v", next)
	}
}

func TestSendToAnOptedOutNumberTurnsConsentOff(t *testing.T) {
	p := newProviders(t)
	env, st := setupWith(t, p.senders)
	p.twilio.Then(twiliotest.Reply{Status: 400, Code: twilio.ErrOptedOut})
	m := prepare(t, env, "k1", "sms", "email")
	res, err := send(env, m.MessageID)
	if err != nil || res.Status != journey.MessageFailed || !res.Fallback || !strings.HasPrefix(res.Reason, "opted_out: ") {
		t.Fatalf("res = %+v, err = %v", res, err)
	}
	if c, _ := st.Customer(context.Background(), "ada"); c.Consent.SMS || !c.Consent.Email {
		t.Fatalf("consent = %+v", c.Consent)
	}
	if res, _ = send(env, m.MessageID); res.Status != journey.MessageFailed || len(p.twilio.Accepted()) != 0 {
		t.Fatalf("an opted-out message was retried: %+v", res)
	}
}

func TestSendSkipsAMessageTheProviderReportedAccepted(t *testing.T) {
	p := newProviders(t)
	env, st := setupWith(t, p.senders)
	m := prepare(t, env, "k1", "email")
	// The worker died after SendGrid accepted the mail; its webhook came first.
	if err := st.MarkAccepted(context.Background(), m.MessageID, "sg-from-webhook"); err != nil {
		t.Fatal(err)
	}
	res, err := send(env, m.MessageID)
	if err != nil || res.Status != journey.MessageSent || p.sendgrid.Requests() != 0 {
		t.Fatalf("res = %+v, err = %v, %d requests", res, err, p.sendgrid.Requests())
	}
}

func TestSendWithoutASenderForTheChannelDoesNotRetry(t *testing.T) {
	env, _ := setupWith(t, map[string]channels.Sender{"email": sandbox.Sender{Channel: "email", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}})
	var a *activities.Activities
	_, err := env.ExecuteActivity(a.Send, journey.SendInput{MessageID: "0b7d2f6e-0000-4000-8000-000000000001"})
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || !appErr.NonRetryable() {
		t.Fatalf("err = %v", err)
	}
}

func TestDeliverRetryFindsAMessageTheProviderReportedAndRecordsProgress(t *testing.T) {
	p := newProviders(t)
	env, st := setupWith(t, p.senders)
	in := input("ada", "email")
	var a *activities.Activities
	m := execute(t, env, a.Prepare, in) // the first attempt recorded it, then died
	if err := st.MarkAccepted(context.Background(), m.MessageID, "sg-from-webhook"); err != nil {
		t.Fatal(err)
	}
	res := deliver(t, env, in) // the retry
	if res.Status != journey.MessageSent || p.sendgrid.Requests() != 0 {
		t.Fatalf("res = %+v, %d requests", res, p.sendgrid.Requests())
	}
	if j, _ := st.Journey(context.Background(), "journey:welcome:ada"); j.CurrentStep != "wait-1" {
		t.Fatalf("journey at %q", j.CurrentStep)
	}
}

// tryDeliver runs the Deliver activity once, as one attempt.
func tryDeliver(env *testsuite.TestActivityEnvironment, in journey.DeliverInput) (journey.DeliverResult, error) {
	var a *activities.Activities
	val, err := env.ExecuteActivity(a.Deliver, in)
	var res journey.DeliverResult
	if err == nil {
		err = val.Get(&res)
	}
	return res, err
}

// SendGrid took the mail, but the answer never came back: the retry does
// not know whether SendGrid has it, so it waits for the Event Webhook
// (which says it does) instead of sending again.
func TestAnAmbiguousEmailWaitsForTheProvidersWebhook(t *testing.T) {
	p := newProviders(t)
	env, st := setupWith(t, p.senders)
	p.sendgrid.Then(sendgridtest.HangUp)
	in := input("ada", "email")
	if _, err := tryDeliver(env, in); err == nil {
		t.Fatal("the first attempt got an answer")
	}
	_, err := tryDeliver(env, in)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != "AwaitingProvider" || appErr.NextRetryDelay() <= 0 || p.sendgrid.Requests() != 1 {
		t.Fatalf("the retry: %v after %d requests; want it to wait for the webhook without sending", err, p.sendgrid.Requests())
	}
	// The processed event arrives, verified: the message is sent.
	ms := storetest.JourneyMessages(t, st, in.JourneyID)
	if err := st.MarkAccepted(context.Background(), ms[0].ID, "sg000001AbCdEf"); err != nil {
		t.Fatal(err)
	}
	res, err := tryDeliver(env, in)
	if err != nil || res.Status != journey.MessageSent || p.sendgrid.Requests() != 1 || len(p.sendgrid.Accepted()) != 1 {
		t.Fatalf("after the webhook: %+v, %v; SendGrid got %d requests", res, err, p.sendgrid.Requests())
	}
}

// Without word from SendGrid within the window, the retry sends again: the
// mail may go out twice, and the test says so.
func TestAnAmbiguousEmailWithoutWordIsSentAgainAfterTheWindow(t *testing.T) {
	p := newProviders(t)
	env, _ := setupWindow(t, p.senders, 50*time.Millisecond)
	p.sendgrid.Then(sendgridtest.HangUp)
	in := input("ada", "email")
	if _, err := tryDeliver(env, in); err == nil {
		t.Fatal("the first attempt got an answer")
	}
	time.Sleep(100 * time.Millisecond) // past the window
	res, err := tryDeliver(env, in)
	if err != nil || res.Status != journey.MessageSent || len(p.sendgrid.Accepted()) != 2 {
		t.Fatalf("after the window: %+v, %v; SendGrid took %d mails", res, err, len(p.sendgrid.Accepted()))
	}
}

// Twilio can be asked: the retry finds the message it took and records it
// sent, without sending it again.
func TestAnAmbiguousSMSAsksTwilio(t *testing.T) {
	p := newProviders(t)
	env, st := setupWith(t, p.senders)
	p.twilio.Then(twiliotest.HangUp)
	in := input("ada", "sms")
	in.Send = campaign.Send{Channel: "sms", Template: &campaign.Template{Body: "Hi {{first_name}}"}}
	if _, err := tryDeliver(env, in); err == nil {
		t.Fatal("the first attempt got an answer")
	}
	res, err := tryDeliver(env, in)
	if err != nil || res.Status != journey.MessageSent || len(p.twilio.Accepted()) != 1 {
		t.Fatalf("the retry: %+v, %v; Twilio took %d messages", res, err, len(p.twilio.Accepted()))
	}
	if ms := storetest.JourneyMessages(t, st, in.JourneyID); ms[0].ProviderMessageID != "SM"+fmt.Sprintf("%032d", 1) {
		t.Fatalf("message %+v", ms[0])
	}
}
