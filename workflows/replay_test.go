package workflows_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/internal/testenv"
	"github.com/omni-orchestrator/omni/store"
	"github.com/omni-orchestrator/omni/workflows"
)

var record = flag.String("record", "", "record this release's journey histories into testdata/histories, named after the given release (e.g. v0.1)")

// Journeys run for weeks, so every release must replay the histories that
// earlier releases wrote. Changes that would not replay must be gated with
// workflow.GetVersion.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/histories/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded histories (%v)", err)
	}
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflow(workflows.Journey)
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
				t.Fatal(err)
			}
		})
	}
}

const recordedCampaign = `{
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

// TestRecordHistories runs journeys on a real Temporal server and saves
// their histories: go test ./workflows -run TestRecordHistories -record v0.2
func TestRecordHistories(t *testing.T) {
	if *record == "" {
		t.Skip("records histories only when asked: -record <release>")
	}
	env := testenv.Start(t)
	ctx := context.Background()
	phone, email, token := "+4915100000001", "a@example.com", "tok"
	def, ps := campaign.Parse([]byte(recordedCampaign))
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	c, err := env.Store.CreateCampaign(ctx, def)
	if err != nil {
		t.Fatal(err)
	}
	scenarios := map[string][]string{ // customer: the responses it sends, one a second
		"clicked":         {"clicked", "clicked"},
		"timeout":         nil,
		"converted-early": {"converted"},
	}
	for customer, responses := range scenarios {
		if _, err := env.Store.UpsertCustomers(ctx, []store.CustomerPatch{{ID: customer, Email: &email, Phone: &phone, PushToken: &token}}); err != nil {
			t.Fatal(err)
		}
		e, err := env.Enroller.Enroll(ctx, c, customer)
		if err != nil {
			t.Fatal(err)
		}
		for i, typ := range responses {
			err := env.Temporal.SignalWorkflow(ctx, e.WorkflowID, "", workflows.ResponseSignal,
				workflows.Response{EventID: customer + "-" + typ + "-" + string(rune('a'+i)), Type: typ, Channel: "email"})
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(300 * time.Millisecond)
		}
		if err := env.Temporal.GetWorkflow(ctx, e.WorkflowID, "").Get(ctx, nil); err != nil {
			t.Fatal(err)
		}
		var events []*historypb.HistoryEvent
		it := env.Temporal.GetWorkflowHistory(ctx, e.WorkflowID, "", false, 0)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			events = append(events, ev)
		}
		data, err := protojson.MarshalOptions{Indent: " "}.Marshal(&historypb.History{Events: events})
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Join("testdata", "histories", *record+"-"+customer+".json")
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := client.HistoryFromJSON(strings.NewReader(string(data)), client.HistoryJSONOptions{}); err != nil {
			t.Fatalf("%s does not load back: %v", name, err)
		}
		t.Logf("recorded %s (%d events)", name, len(events))
	}
}
