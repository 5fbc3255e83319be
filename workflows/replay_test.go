package workflows_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/codec"
	"github.com/omni-orchestrator/omni/enroll"
	"github.com/omni-orchestrator/omni/internal/testenv"
	"github.com/omni-orchestrator/omni/journey"
	"github.com/omni-orchestrator/omni/store"
	"github.com/omni-orchestrator/omni/workflows"
)

var record = flag.String("record", "", "record this release's journey histories into testdata/histories, named after the given release (e.g. v0.1)")

// Journeys run for weeks, so every release must replay the histories that
// earlier releases wrote. Changes that would not replay must be gated with
// workflow.GetVersion. The replayer decodes as omni's workers do, with the
// payload codec: histories recorded before it hold plain payloads, later
// ones payloads encrypted with the tests' key (testenv.PayloadKeys).
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/histories/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded histories (%v)", err)
	}
	c := testenv.Codec(t)
	r, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{DataConverter: c.DataConverter(), FailureConverter: c.FailureConverter()})
	if err != nil {
		t.Fatal(err)
	}
	r.RegisterWorkflow(workflows.Journey)
	// In the JSON, metadata values are base64.
	encryptedMark := []byte(base64.StdEncoding.EncodeToString([]byte(codec.Encoding)))
	encrypted := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, encryptedMark) {
			encrypted++
		}
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
				t.Fatal(err)
			}
		})
	}
	if encrypted == 0 {
		t.Error("no recorded history has encrypted payloads: the codec's replay is untested")
	}
}

// v01Campaign is the campaign the v0.1 histories ran (send, wait, exit).
const v01Campaign = `{
  "id": "replay",
  "start_at": "email-1",
  "steps": {
    "email-1": {"send": {"channel": "email", "template": {"subject": "Hi {{first_name}}", "body": "10% off"}}, "next": "wait-1"},
    "wait-1":  {"wait": {"for": ["clicked", "converted"], "timeout": "2s"},
                "on": {"clicked": "push-1", "converted": "done", "timeout": "sms-1"}},
    "push-1":  {"send": {"channel": "push", "template": {"title": "Still there?", "body": "Ends soon"}}, "next": "wait-2"},
    "wait-2":  {"wait": {"for": ["clicked"], "timeout": "1s"}, "next": "done"},
    "sms-1":   {"send": {"channel": "sms", "template": {"body": "10% off today"}}, "next": "done"},
    "done":    {"exit": {}}
  }
}`

// example is the campaign of PRODUCT.md with its durations shortened: the
// morning delay waits for the next full minute.
func example() string {
	next := time.Now().UTC().Add(time.Minute).Format("15:04")
	return `{
  "id": "example",
  "offer_id": "SPRING-24",
  "start_at": "email-1",
  "rules": {"quiet_hours": {"from": "` + time.Now().UTC().Add(3*time.Hour).Format("15:04") + `", "to": "` + time.Now().UTC().Add(4*time.Hour).Format("15:04") + `"},
            "exit_on": ["rejected", "unsubscribed"], "goal": "converted"},
  "steps": {
    "email-1": {"send": {"channel": "email", "template": {"subject": "Hi {{first_name}}", "body": "..."}}, "next": "wait-1"},
    "wait-1":  {"wait": {"for": ["clicked", "converted"], "timeout": "2s"},
                "on": {"clicked": "push-1", "converted": "done", "timeout": "reach-1"}},
    "push-1":  {"send": {"channel": "push", "template": {"title": "...", "body": "..."}}, "next": "tier"},
    "reach-1": {"send": {"channels": ["push", "sms", "email"], "template": {"subject": "Last chance", "title": "Last chance", "body": "..."}}, "next": "tier"},
    "tier":    {"branch": [{"when": {"attribute": "tier", "equals": "gold"}, "next": "ab"}], "else": "later"},
    "ab":      {"experiment": {"variants": [{"name": "A", "weight": 45, "next": "later"}, {"name": "B", "weight": 45, "next": "morning"}, {"name": "control", "weight": 10, "next": "done"}]}},
    "later":   {"delay": {"for": "1s"}, "next": "morning"},
    "morning": {"delay": {"until_local": "` + next + `"}, "next": "done"},
    "done":    {"exit": {}}
  }
}`
}

// cartCampaign is the abandoned cart of v0.6: an event enters, the
// order of the same cart ends the wait, a cancelled account the journey.
const cartCampaign = `{
  "id": "cart", "start_at": "email-1",
  "trigger": {"event": "cart_abandoned", "where": {"property": "total", "gte": 20}},
  "entry": {"key": "cart_id", "reentry": "after_exit"},
  "rules": {"exit_on_events": ["account_closed"]},
  "steps": {
    "email-1": {"send": {"channel": "email", "template": {"subject": "Your cart", "body": "{{event.total}} EUR"}}, "next": "wait-1"},
    "wait-1":  {"wait": {"events": ["order_placed"], "match": ["cart_id"], "for": ["clicked"], "timeout": "3s"},
                "on": {"order_placed": "done", "clicked": "wait-1", "timeout": "push-1"}},
    "push-1":  {"send": {"channel": "push", "template": {"title": "Still yours", "body": "{{event.total}} EUR"}}, "next": "done"},
    "done":    {"exit": {}}
  }
}`

type scenario struct {
	campaign  string
	customer  store.CustomerPatch
	responses []string // sent one after another, 300ms apart
	// entry, when set, enters by this event (a trigger) instead of an
	// enrolment; events are sent after the responses, 300ms apart.
	entry  *journey.Event
	events []journey.Event
	// stalled stops the worker once the first wait has started, sends the
	// responses, lets the wait's timer fire and starts a new worker: the
	// journey's next workflow task brings the signals and the timer
	// together, the signals first (as after a worker restart or a backlog).
	stalled bool
}

var cartA = journey.Event{EventID: "cart-a", Name: "cart_abandoned", Properties: map[string]any{"cart_id": "A", "total": 42}, OccurredAt: time.Now()}

func order(cart string) journey.Event {
	return journey.Event{EventID: "order-" + cart, Name: "order_placed", Properties: map[string]any{"cart_id": cart}, OccurredAt: time.Now()}
}

func releaseScenarios() map[string]scenario {
	phone, email, token := "+4915100000001", "a@example.com", "tok"
	full := store.CustomerPatch{Email: &email, Phone: &phone, PushToken: &token}
	noPush := store.CustomerPatch{Email: &email, Phone: &phone, Attributes: map[string]any{"tier": "gold"}}
	with := func(p store.CustomerPatch, id string) store.CustomerPatch { p.ID = id; return p }
	ex := example()
	return map[string]scenario{
		"clicked":         {campaign: v01Campaign, customer: with(full, "clicked"), responses: []string{"clicked", "clicked"}},
		"timeout":         {campaign: v01Campaign, customer: with(full, "timeout"), responses: nil},
		"converted-early": {campaign: v01Campaign, customer: with(full, "converted-early"), responses: []string{"converted"}},
		"example-clicked": {campaign: ex, customer: with(full, "example-clicked"), responses: []string{"clicked"}},
		"example-timeout": {campaign: ex, customer: with(noPush, "example-timeout"), responses: nil},
		"example-reject":  {campaign: ex, customer: with(full, "example-reject"), responses: []string{"rejected"}},
		// The wait's timeout is 2s: the click arrives before it, but is
		// handled in the same workflow task as the timer.
		"signal-before-timer": {campaign: v01Campaign, customer: with(full, "signal-before-timer"), responses: []string{"clicked"}, stalled: true},
		// Another cart's order does not end the wait; this cart's does.
		"cart-ordered": {campaign: cartCampaign, customer: with(full, "cart-ordered"), entry: &cartA,
			events: []journey.Event{order("B"), order("A")}},
		"cart-timeout": {campaign: cartCampaign, customer: with(full, "cart-timeout"), entry: &cartA, events: []journey.Event{order("B")}},
		"cart-exited": {campaign: cartCampaign, customer: with(full, "cart-exited"), entry: &cartA,
			events: []journey.Event{{EventID: "closed", Name: "account_closed", OccurredAt: time.Now()}}},
	}
}

// TestRecordHistories runs journeys on a real Temporal server and saves
// their histories: go test ./workflows -run TestRecordHistories -record v0.2
func TestRecordHistories(t *testing.T) {
	if *record == "" {
		t.Skip("records histories only when asked: -record <release>")
	}
	shared := testenv.Start(t)
	ctx := context.Background()
	for name, sc := range releaseScenarios() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := shared
			if sc.stalled { // its own worker to stop
				env = testenv.Start(t)
			}
			def, ps := campaign.Parse([]byte(sc.campaign))
			if len(ps) > 0 {
				t.Fatal(ps)
			}
			c, err := env.Store.Campaign(ctx, def.ID)
			if err == store.ErrNotFound {
				c, err = env.Store.CreateCampaign(ctx, def)
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := env.Store.UpsertCustomers(ctx, []store.CustomerPatch{sc.customer}); err != nil {
				t.Fatal(err)
			}
			var e enroll.Enrollment
			if sc.entry != nil {
				e, err = env.Enroller.Trigger(ctx, c, store.CustomerRef{ID: sc.customer.ID}, *sc.entry)
			} else {
				e, err = env.Enroller.Enroll(ctx, c, store.CustomerRef{ID: sc.customer.ID}, nil)
			}
			if err != nil {
				t.Fatal(err)
			}
			var restart func()
			if sc.stalled {
				waitForTimer(t, env.Temporal, e.WorkflowID)
				restart = env.StopWorkers()
			}
			for i, typ := range sc.responses {
				time.Sleep(300 * time.Millisecond)
				err := env.Temporal.SignalWorkflow(ctx, e.WorkflowID, "", journey.ResponseSignal,
					journey.Response{EventID: fmt.Sprintf("%s-%d", typ, i), Type: typ, Channel: "email"})
				if err != nil {
					t.Fatal(err)
				}
			}
			for _, ev := range sc.events {
				time.Sleep(300 * time.Millisecond)
				if err := env.Temporal.SignalWorkflow(ctx, e.WorkflowID, "", journey.EventSignal, ev); err != nil {
					t.Fatal(err)
				}
			}
			if restart != nil {
				time.Sleep(3 * time.Second) // past the wait's timeout
				restart()
			}
			var res workflows.JourneyResult
			if err := env.Temporal.GetWorkflow(ctx, e.WorkflowID, "").Get(ctx, &res); err != nil {
				t.Fatal(err)
			}
			var events []*historypb.HistoryEvent
			counts := map[string]int{}
			it := env.Temporal.GetWorkflowHistory(ctx, e.WorkflowID, "", false, 0)
			for it.HasNext() {
				ev, err := it.Next()
				if err != nil {
					t.Fatal(err)
				}
				events = append(events, ev)
				counts[strings.TrimPrefix(ev.GetEventType().String(), "EVENT_TYPE_")]++
			}
			data, err := protojson.MarshalOptions{Indent: " "}.Marshal(&historypb.History{Events: events})
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join("testdata", "histories", *record+"-"+name+".json")
			if err := os.WriteFile(file, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := client.HistoryFromJSON(strings.NewReader(string(data)), client.HistoryJSONOptions{}); err != nil {
				t.Fatalf("%s does not load back: %v", file, err)
			}
			t.Logf("recorded %s: steps %v, %d events %v", file, res.Steps, len(events), counts)
		})
	}
}

// waitForTimer returns once the journey has started a timer (its first
// wait).
func waitForTimer(t *testing.T, tc client.Client, workflowID string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		it := tc.GetWorkflowHistory(context.Background(), workflowID, "", false, 0)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			if ev.GetEventType() == enumspb.EVENT_TYPE_TIMER_STARTED {
				return
			}
		}
	}
	t.Fatalf("%s started no timer", workflowID)
}
