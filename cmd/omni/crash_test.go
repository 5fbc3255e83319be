package main

import (
	"context"
	"testing"
	"time"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/channels/sendgrid"
	"github.com/omni-orchestrator/omni/channels/sendgrid/sendgridtest"
	"github.com/omni-orchestrator/omni/enroll"
	"github.com/omni-orchestrator/omni/internal/testenv"
	"github.com/omni-orchestrator/omni/journey"
	"github.com/omni-orchestrator/omni/store"
	"github.com/omni-orchestrator/omni/store/storetest"
	"github.com/omni-orchestrator/omni/workflows"
)

// TestWorkerKilledBetweenRecordedAndSentSendsOnce runs the real `omni
// worker` against SendGrid's local stand-in, kills it with SIGKILL while a
// message is recorded but not yet accepted by SendGrid, starts a new
// worker, and checks that SendGrid received the message exactly once.
func TestWorkerKilledBetweenRecordedAndSentSendsOnce(t *testing.T) {
	bin := build(t)
	st, dbURL := storetest.New(t)
	temporal := testenv.DevServer(t)
	tc := temporal.Client()
	sg := sendgridtest.New(t)
	const taskQueue = "omni-crash"
	startWorker := func() *proc {
		return startProc(t, bin, []string{"OMNI_METRICS_ADDR=127.0.0.1:0", "DATABASE_URL=" + dbURL, "TEMPORAL_ADDRESS=" + temporal.FrontendHostPort(), "OMNI_PAYLOAD_KEYS=" + testenv.PayloadKeys,
			"OMNI_TASK_QUEUE=" + taskQueue, "SENDGRID_API_KEY=" + sg.APIKey, "SENDGRID_API_URL=" + sg.URL,
			"SENDGRID_FROM=Shop <news@shop.example>", "LOG_LEVEL=warn"}, "worker")
	}
	ctx := context.Background()
	email := "ada@example.com"
	if _, err := st.UpsertCustomers(ctx, []store.CustomerPatch{{ID: "ada", Email: &email}}); err != nil {
		t.Fatal(err)
	}
	def, ps := campaign.Parse([]byte(`{"id": "crash", "start_at": "mail", "steps": {
		"mail": {"send": {"channel": "email", "template": {"subject": "Hi", "body": "Hi"}}, "next": "done"},
		"done": {"exit": {}}}}`))
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	c, err := st.CreateCampaign(ctx, def)
	if err != nil {
		t.Fatal(err)
	}
	// SendGrid is down for the first attempt and asks for 3 seconds.
	sg.Then(sendgridtest.Reply{Status: 503, Header: map[string]string{"Retry-After": "3"}, Body: `{"errors":[{"message":"unavailable"}]}`})
	first := startWorker()
	enroller := &enroll.Enroller{Store: st, Temporal: tc, TaskQueue: taskQueue, DefaultTimezone: "UTC"}
	if _, err := enroller.Enroll(ctx, c, store.CustomerRef{ID: "ada"}, nil); err != nil {
		t.Fatal(err)
	}
	id := journey.ID(c.ID, "ada")

	// Kill the worker once the failed attempt is reported and the retry
	// waits: the message is recorded, SendGrid has not accepted it.
	waitFor(t, "the send's retry to be scheduled", func() bool {
		d, err := tc.DescribeWorkflowExecution(ctx, id, "")
		if err != nil {
			return false
		}
		for _, a := range d.GetPendingActivities() {
			if a.GetActivityType().GetName() == "Deliver" && a.GetAttempt() >= 2 && a.GetLastFailure() != nil {
				return true
			}
		}
		return false
	})
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.wait(t, 10*time.Second)
	ms := storetest.JourneyMessages(t, st, id)
	if len(ms) != 1 || ms[0].Status != journey.MessagePending || len(sg.Accepted()) != 0 {
		t.Fatalf("at the kill: messages %+v, %d accepted", ms, len(sg.Accepted()))
	}

	startWorker()
	runCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var res workflows.JourneyResult
	if err := tc.GetWorkflow(runCtx, id, "").Get(runCtx, &res); err != nil {
		t.Fatalf("journey: %v", err)
	}
	accepted := sg.Accepted()
	if len(accepted) != 1 || sg.Requests() != 2 || accepted[0].CustomArgs[sendgrid.ArgMessageID] != ms[0].ID {
		t.Fatalf("SendGrid accepted %d mails in %d requests, want 1 in 2", len(accepted), sg.Requests())
	}
	if ms = storetest.JourneyMessages(t, st, id); ms[0].Status != journey.MessageSent || ms[0].ProviderMessageID != "sg000001AbCdEf" {
		t.Fatalf("message after restart: %+v", ms[0])
	}
	if res.Status != journey.Completed {
		t.Fatalf("journey %+v", res)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
