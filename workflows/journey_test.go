package workflows

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/omni-orchestrator/omni/campaign/campaigntest"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"

	"github.com/omni-orchestrator/omni/activities"
	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/journey"
)

// welcome is the shared welcome campaign with a second wait after the push
// and a reason at its end.
var welcome = strings.NewReplacer(
	`"body": "Ends soon"}}, "next": "done"}`, `"body": "Ends soon"}}, "next": "wait-2"},
    "wait-2":  {"wait": {"for": ["clicked"], "timeout": "24h"}, "next": "done"}`,
	`"done":    {"exit": {}}`, `"done":    {"exit": {"reason": "finished"}}`,
).Replace(campaigntest.Welcome("48h"))

// harness runs a Journey in the time-skipping test environment, recording
// the activities it calls.
type harness struct {
	t        *testing.T
	env      *testsuite.TestWorkflowEnvironment
	delivers []journey.DeliverInput
	// deliveredAt is the test clock at each Deliver.
	deliveredAt []time.Time
	finishes    []journey.FinishInput
}

func newHarness(t *testing.T) *harness {
	var suite testsuite.WorkflowTestSuite
	h := &harness{t: t, env: suite.NewTestWorkflowEnvironment()}
	var a *activities.Activities
	h.env.RegisterActivity(a)
	h.env.OnActivity(a.Deliver, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in journey.DeliverInput) (journey.DeliverResult, error) {
			h.delivers = append(h.delivers, in)
			h.deliveredAt = append(h.deliveredAt, h.env.Now())
			return journey.DeliverResult{MessageID: in.Key, Channel: in.Send.Candidates()[0], Status: "sent"}, nil
		})
	h.env.OnActivity(a.Prepare, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in journey.DeliverInput) (journey.DeliverResult, error) {
			h.delivers = append(h.delivers, in)
			return journey.DeliverResult{MessageID: in.Key, Channel: in.Send.Candidates()[0], Status: "pending"}, nil
		})
	h.env.OnActivity(a.Send, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in journey.SendInput) (journey.DeliverResult, error) {
			return journey.DeliverResult{MessageID: in.MessageID, Status: "sent"}, nil
		})
	h.env.OnActivity(a.RecordProgress, mock.Anything, mock.Anything).Return(nil)
	h.env.OnActivity(a.FinishJourney, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in journey.FinishInput) error {
			h.finishes = append(h.finishes, in)
			return nil
		})
	return h
}

// respond signals a response after the given time into the journey.
func (h *harness) respond(after time.Duration, eventID, typ string) {
	h.env.RegisterDelayedCallback(func() {
		h.env.SignalWorkflow(journey.ResponseSignal, journey.Response{EventID: eventID, Type: typ, Channel: "email"})
	}, after)
}

func (h *harness) run() JourneyResult {
	h.t.Helper()
	return h.runWith(welcome, JourneyInput{})
}

// runWith runs the journey of campaign definition def, with the rest of
// its input from in.
func (h *harness) runWith(def string, in JourneyInput) JourneyResult {
	h.t.Helper()
	d, ps := campaign.Parse([]byte(def))
	if len(ps) > 0 {
		h.t.Fatal(ps)
	}
	in.CampaignID, in.Version, in.CustomerID, in.Definition = d.ID, 1, "c1", *d
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: journey.ID(d.ID, "c1")})
	h.env.ExecuteWorkflow(Journey, in)
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("journey did not complete")
	}
	var res JourneyResult
	if err := h.env.GetWorkflowResult(&res); err != nil {
		h.t.Fatalf("journey failed: %v", err)
	}
	return res
}

func (h *harness) channels() []string {
	var out []string
	for _, d := range h.delivers {
		out = append(out, d.Channel)
	}
	return out
}

func TestJourneyFollowsTheClickedBranch(t *testing.T) {
	h := newHarness(t)
	h.respond(time.Hour, "e1", "clicked")
	res := h.run()
	if want := []string{"email-1", "wait-1", "push-1", "wait-2", "done"}; !slices.Equal(res.Steps, want) {
		t.Fatalf("steps = %v, want %v", res.Steps, want)
	}
	if got := h.channels(); !slices.Equal(got, []string{"email", "push"}) {
		t.Fatalf("sent on %v", got)
	}
	first := h.delivers[0]
	if first.Key != "journey:welcome:c1/email-1/1" || first.JourneyID != "journey:welcome:c1" {
		t.Errorf("idempotency key = %q", first.Key)
	}
	if first.NextStep != "wait-1" || first.Template.Subject != "Hi {{first_name}}" || first.CustomerID != "c1" {
		t.Errorf("deliver input = %+v", first)
	}
	if len(h.finishes) != 1 || h.finishes[0].Status != "completed" || h.finishes[0].Step != "done" || h.finishes[0].Reason != "finished" {
		t.Errorf("finish = %+v", h.finishes)
	}
}

func TestJourneyTimesOutIntoSMS(t *testing.T) {
	h := newHarness(t)
	h.respond(49*time.Hour, "late", "clicked") // after the timeout: too late to matter
	start := h.env.Now()
	res := h.run()
	if want := []string{"email-1", "wait-1", "sms-1", "done"}; !slices.Equal(res.Steps, want) {
		t.Fatalf("steps = %v, want %v", res.Steps, want)
	}
	if waited := h.env.Now().Sub(start); waited < 48*time.Hour {
		t.Errorf("journey ended after %v, before the 48h timeout", waited)
	}
}

func TestJourneyCountsAResponseThatArrivedBeforeTheWait(t *testing.T) {
	h := newHarness(t)
	h.respond(0, "e1", "converted") // arrives while the email is being sent
	res := h.run()
	if want := []string{"email-1", "wait-1", "done"}; !slices.Equal(res.Steps, want) {
		t.Fatalf("steps = %v, want %v", res.Steps, want)
	}
}

func TestJourneyCountsARepeatedEventOnceAndEachResponseForOneWait(t *testing.T) {
	h := newHarness(t)
	h.respond(time.Hour, "e1", "clicked")
	h.respond(2*time.Hour, "e1", "clicked") // the same event again must not answer wait-2
	start := h.env.Now()
	res := h.run()
	if want := []string{"email-1", "wait-1", "push-1", "wait-2", "done"}; !slices.Equal(res.Steps, want) {
		t.Fatalf("steps = %v, want %v", res.Steps, want)
	}
	if waited := h.env.Now().Sub(start); waited < 25*time.Hour {
		t.Errorf("wait-2 ended after %v: the repeated event answered it", waited)
	}
}

func TestJourneyRecordsCancellation(t *testing.T) {
	h := newHarness(t)
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, time.Hour)
	d, _ := campaign.Parse([]byte(welcome))
	h.env.ExecuteWorkflow(Journey, JourneyInput{CampaignID: "welcome", Version: 1, CustomerID: "c1", Definition: *d})
	if err := h.env.GetWorkflowError(); err == nil {
		t.Fatal("want a cancelled journey")
	}
	if len(h.finishes) != 1 || h.finishes[0].Status != "cancelled" || h.finishes[0].Step != "wait-1" {
		t.Fatalf("finish = %+v", h.finishes)
	}
}

// The definition travels in the workflow input through Temporal's JSON
// converter; it must come back whole.
func TestJourneyInputSurvivesJSON(t *testing.T) {
	d, _ := campaign.Parse([]byte(welcome))
	data, err := json.Marshal(JourneyInput{Definition: *d})
	if err != nil {
		t.Fatal(err)
	}
	var back JourneyInput
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if ps := back.Definition.Validate(); len(ps) > 0 || back.Definition.Steps["wait-1"].On["timeout"] != "sms-1" {
		t.Fatalf("round trip lost data: %v", ps)
	}
}

// delayedSend waits an hour, then sends, then exits.
const delayedSend = `{"id": "ctl", "start_at": "later", "steps": {
  "later": {"delay": {"for": "1h"}, "next": "mail"},
  "mail":  {"send": {"channel": "email", "template": {"subject": "Hi", "body": "Hi"}}, "next": "done"},
  "done":  {"exit": {}}}}`

func (h *harness) control(after time.Duration, action string, seq int64) {
	h.env.RegisterDelayedCallback(func() {
		h.env.SignalWorkflow(journey.ControlSignal, journey.Control{Action: action, Seq: seq})
	}, after)
}

func TestPausedJourneyHoldsItsSendUntilResumed(t *testing.T) {
	h := newHarness(t)
	h.control(10*time.Minute, "pause", 2)
	h.control(90*time.Minute, "pause", 1) // reaches the journey late: older than the pause it has
	h.control(3*time.Hour, "resume", 3)
	h.control(4*time.Hour, "pause", 1) // a stale pause after the resume changes nothing
	start := h.env.Now()
	res := h.runWith(delayedSend, JourneyInput{})
	if res.Status != journey.Completed || len(h.deliveredAt) != 1 {
		t.Fatalf("result %+v, %d sends", res, len(h.deliveredAt))
	}
	if got := h.deliveredAt[0].Sub(start); got != 3*time.Hour {
		t.Fatalf("sent %v into the journey, want at the resume (3h)", got)
	}
}

func TestStalePauseDoesNotUndoAResume(t *testing.T) {
	h := newHarness(t)
	h.control(10*time.Minute, "pause", 2)
	h.control(30*time.Minute, "resume", 3)
	h.control(45*time.Minute, "pause", 2) // the first pause, delivered again late
	start := h.env.Now()
	h.runWith(delayedSend, JourneyInput{})
	if len(h.deliveredAt) != 1 || h.deliveredAt[0].Sub(start) != time.Hour {
		t.Fatalf("sends at %v, want one when the delay ends", h.deliveredAt)
	}
}

func TestJourneyEnrolledPausedWaitsForResume(t *testing.T) {
	h := newHarness(t)
	h.control(2*time.Hour, "resume", 6)
	start := h.env.Now()
	h.runWith(delayedSend, JourneyInput{Paused: true, Control: 5})
	if len(h.deliveredAt) != 1 || h.deliveredAt[0].Sub(start) != 2*time.Hour {
		t.Fatalf("sends at %v", h.deliveredAt)
	}
}

func TestCancelledPausedJourneyEndsCancelled(t *testing.T) {
	h := newHarness(t)
	h.control(10*time.Minute, "pause", 1)
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, 2*time.Hour)
	h.env.ExecuteWorkflow(Journey, JourneyInput{CampaignID: "ctl", Version: 1, CustomerID: "c1", Definition: parse(t, delayedSend)})
	if len(h.delivers) != 0 || len(h.finishes) != 1 || h.finishes[0].Status != journey.Cancelled || h.finishes[0].Step != "mail" {
		t.Fatalf("sends %d, finishes %+v", len(h.delivers), h.finishes)
	}
}

func parse(t *testing.T, def string) campaign.Definition {
	d, ps := campaign.Parse([]byte(def))
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	return *d
}

func TestPauseDuringQuietHoursHoldsTheSend(t *testing.T) {
	h := newHarness(t)
	start := time.Date(2026, 11, 23, 22, 0, 0, 0, time.UTC)
	h.env.SetStartTime(start)
	h.control(time.Hour, "pause", 1)     // during the quiet-hours hold
	h.control(12*time.Hour, "resume", 2) // two hours after the hold ends at 08:00
	h.runWith(`{"id": "quiet", "start_at": "mail", "rules": {"quiet_hours": {"from": "21:00", "to": "08:00"}}, "steps": {
	  "mail": {"send": {"channel": "email", "template": {"subject": "Hi", "body": "Hi"}}, "next": "done"},
	  "done": {"exit": {}}}}`, JourneyInput{})
	if len(h.deliveredAt) != 1 || h.deliveredAt[0].Sub(start) != 12*time.Hour {
		t.Fatalf("sends at %v, want one at the resume", h.deliveredAt)
	}
}

// respondQuietly delivers a response at after without running the journey:
// the next workflow task (the wait's timer firing, say) brings both, the
// signal first, as a server does after a worker restart or a backlog.
func (h *harness) respondQuietly(after time.Duration, eventID, typ string) {
	h.env.RegisterDelayedCallback(func() {
		h.env.SignalWorkflowSkippingWorkflowTask(journey.ResponseSignal, journey.Response{EventID: eventID, Type: typ, Channel: "email"})
	}, after)
}

func TestWaitTakesAResponseDeliveredInTheSameTaskAsItsTimeout(t *testing.T) {
	h := newHarness(t)
	h.respondQuietly(48*time.Hour-time.Minute, "e1", "clicked")
	res := h.run()
	if want := []string{"email-1", "wait-1", "push-1", "wait-2", "done"}; !slices.Equal(res.Steps, want) {
		t.Fatalf("steps = %v, want %v: the click that came before the timeout was ignored", res.Steps, want)
	}
}

func TestAnExitResponseInTheSameTaskAsADelaysEndStopsTheSend(t *testing.T) {
	h := newHarness(t)
	h.respondQuietly(time.Hour-time.Minute, "u1", "unsubscribed")
	res := h.runWith(`{"id": "exit", "start_at": "later", "rules": {"exit_on": ["unsubscribed"]}, "steps": {
	  "later": {"delay": {"for": "1h"}, "next": "mail"},
	  "mail":  {"send": {"channel": "email", "template": {"subject": "Hi", "body": "Hi"}}, "next": "done"},
	  "done":  {"exit": {}}}}`, JourneyInput{})
	if res.Status != journey.Exited || len(h.delivers) != 0 {
		t.Fatalf("result %+v after %d sends: the unsubscribe that came before the delay ended was ignored", res, len(h.delivers))
	}
}

func TestAResumeInTheSameTaskAsATimerReleasesTheSend(t *testing.T) {
	h := newHarness(t)
	h.env.RegisterDelayedCallback(func() {
		h.env.SignalWorkflowSkippingWorkflowTask(journey.ControlSignal, journey.Control{Action: "resume", Seq: 2})
	}, 30*time.Minute)
	start := h.env.Now()
	h.runWith(delayedSend, JourneyInput{Paused: true, Control: 1})
	if len(h.deliveredAt) != 1 || h.deliveredAt[0].Sub(start) != time.Hour {
		t.Fatalf("sends at %v, want one when the delay ends", h.deliveredAt)
	}
}

// A launch that delivers at each customer's local time holds each journey
// until the customer's next such time of day, in their own time zone: the
// same morning in Berlin, the next one in Tokyo, where it is past nine.
func TestLocalTimeStartsTheJourneyAtTheCustomersTimeOfDay(t *testing.T) {
	start := time.Date(2026, 12, 4, 7, 30, 0, 0, time.UTC) // 08:30 in Berlin, 16:30 in Tokyo
	for _, c := range []struct {
		timezone string
		want     time.Time
	}{
		{"Europe/Berlin", time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)},
		{"Asia/Tokyo", time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(c.timezone, func(t *testing.T) {
			h := newHarness(t)
			h.env.SetStartTime(start)
			h.runWith(delayedSend, JourneyInput{Timezone: c.timezone, LocalTime: "09:00"})
			if len(h.deliveredAt) != 1 || !h.deliveredAt[0].Equal(c.want.Add(time.Hour)) { // the campaign's delay is 1h
				t.Fatalf("sends at %v, want one at %v", h.deliveredAt, c.want.Add(time.Hour))
			}
		})
	}
}

// A journey waiting for the local time ends there when the customer
// leaves the campaign meanwhile.
func TestAnExitWhileWaitingForTheLocalTimeEndsTheJourney(t *testing.T) {
	h := newHarness(t)
	h.env.SetStartTime(time.Date(2026, 12, 4, 7, 30, 0, 0, time.UTC))
	h.respond(10*time.Minute, "u1", "unsubscribed")
	res := h.runWith(`{"id": "exit", "start_at": "mail", "rules": {"exit_on": ["unsubscribed"]}, "steps": {
	  "mail":  {"send": {"channel": "email", "template": {"subject": "Hi", "body": "Hi"}}, "next": "done"},
	  "done":  {"exit": {}}}}`, JourneyInput{Timezone: "Europe/Berlin", LocalTime: "09:00"})
	if res.Status != journey.Exited || len(h.delivers) != 0 {
		t.Fatalf("result %+v after %d sends", res, len(h.delivers))
	}
}
