package enroll_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/testsuite"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/control"
	"github.com/omni-orchestrator/omni/enroll"
	"github.com/omni-orchestrator/omni/internal/testenv"
	"github.com/omni-orchestrator/omni/journey"
	"github.com/omni-orchestrator/omni/store"
	"github.com/omni-orchestrator/omni/store/storetest"
)

// greeting sends one email with the enrolment's data, then waits.
const greeting = `{"id": "greet", "start_at": "mail", "steps": {
  "mail": {"send": {"channel": "email", "template": {"subject": "Hi", "body": "Code {{data.code}}"}}, "next": "wait"},
  "wait": {"wait": {"for": ["clicked"], "timeout": "1h"}, "next": "done"},
  "done": {"exit": {}}}}`

func setUp(t *testing.T, customers int) (*testenv.Env, store.Campaign) {
	t.Helper()
	env := testenv.Start(t)
	ctx := context.Background()
	def, ps := campaign.Parse([]byte(greeting))
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	c, err := env.Store.CreateCampaign(ctx, def)
	if err != nil {
		t.Fatal(err)
	}
	patches := make([]store.CustomerPatch, customers)
	for i := range patches {
		email := fmt.Sprintf("c%d@example.com", i)
		patches[i] = store.CustomerPatch{ID: fmt.Sprintf("c%d", i), Email: &email}
	}
	if _, err := env.Store.UpsertCustomers(ctx, patches); err != nil {
		t.Fatal(err)
	}
	return env, c
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
	}
}

// A launch page retried after a worker died mid-page (its heartbeat lost)
// finds the journeys it wrote itself: they count as enrolled, not as
// already enrolled.
func TestARetriedLaunchPageCountsItsOwnEnrolments(t *testing.T) {
	env, c := setUp(t, 5)
	ctx := context.Background()
	l := store.Launch{ID: "launch:greet:retried", CampaignID: c.ID, Version: c.Version, Audience: store.Audience{All: true}, Status: "running"}
	if err := env.Store.CreateLaunch(ctx, l); err != nil {
		t.Fatal(err)
	}
	var suite testsuite.WorkflowTestSuite
	acts := &enroll.Activities{Enroller: env.Enroller, PageSize: 10, Concurrency: 4}
	in := enroll.LaunchInput{LaunchID: l.ID, CampaignID: c.ID, Version: c.Version}
	for attempt := 1; attempt <= 2; attempt++ {
		ae := suite.NewTestActivityEnvironment()
		ae.RegisterActivity(acts)
		v, err := ae.ExecuteActivity(acts.EnrollBatch, in)
		if err != nil {
			t.Fatal(err)
		}
		var b enroll.Batch
		if err := v.Get(&b); err != nil {
			t.Fatal(err)
		}
		if b.Progress.Enrolled != 5 || b.Progress.AlreadyEnrolled != 0 {
			t.Fatalf("attempt %d: %+v, want the 5 journeys counted as enrolled by this launch", attempt, b.Progress)
		}
	}
	// Another launch finds them enrolled already.
	l2 := store.Launch{ID: "launch:greet:other", CampaignID: c.ID, Version: c.Version, Audience: store.Audience{All: true}, Status: "running"}
	if err := env.Store.CreateLaunch(ctx, l2); err != nil {
		t.Fatal(err)
	}
	ae := suite.NewTestActivityEnvironment()
	ae.RegisterActivity(acts)
	v, err := ae.ExecuteActivity(acts.EnrollBatch, enroll.LaunchInput{LaunchID: l2.ID, CampaignID: c.ID, Version: c.Version})
	var b enroll.Batch
	if err != nil || v.Get(&b) != nil || b.Progress.AlreadyEnrolled != 5 || b.Progress.Enrolled != 0 {
		t.Fatalf("another launch: %+v, %v", b.Progress, err)
	}
}

// The process died after writing a launch's row and before starting its
// workflow, and after writing a journey's row and before starting it: the
// reconciler finds both and starts them.
func TestStartsCutShortAreMadeGood(t *testing.T) {
	env, c := setUp(t, 3)
	ctx := context.Background()
	l := store.Launch{ID: "launch:greet:orphan", CampaignID: c.ID, Version: c.Version, Audience: store.Audience{CustomerIDs: []string{"c0", "c1"}}, Status: "running"}
	if err := env.Store.CreateLaunch(ctx, l); err != nil {
		t.Fatal(err)
	}
	id := journey.ID(c.ID, "c2")
	if _, _, _, _, err := env.Store.Enter(ctx, store.Entrance{CampaignID: c.ID, Version: c.Version, CustomerID: "c2",
		StartAt: "mail", Data: map[string]any{"code": "X-42"}}); err != nil {
		t.Fatal(err)
	}
	n, err := env.Enroller.Reconcile(ctx, 0)
	if err != nil || n != 2 {
		t.Fatalf("reconciled %d: %v", n, err)
	}
	eventually(t, "the launch to finish", func() bool {
		got, err := env.Store.Launch(ctx, l.ID)
		return err == nil && got.Status == "finished" && got.Enrolled == 2 && got.RunID != ""
	})
	eventually(t, "the cut-short journey's email, with its enrolment data", func() bool {
		ms := storetest.JourneyMessages(t, env.Store, id)
		return len(ms) == 1 && ms[0].Body == "Code X-42" && ms[0].Status == journey.MessageSent
	})
	if n, err := env.Enroller.Reconcile(ctx, 0); err != nil || n != 0 {
		t.Fatalf("a second pass started %d: %v", n, err)
	}
}

func TestAControlWhoseStartWasCutShortIsStarted(t *testing.T) {
	env, c := setUp(t, 2)
	ctx := context.Background()
	for _, id := range []string{"c0", "c1"} {
		if _, err := env.Enroller.Enroll(ctx, c, store.CustomerRef{ID: id}, nil); err != nil {
			t.Fatal(err)
		}
	}
	ctl, err := env.Store.StartControl(ctx, c.ID, journey.Cancel) // the status is recorded; the workflow never started
	if err != nil {
		t.Fatal(err)
	}
	if n, err := control.Reconcile(ctx, env.Store, env.Temporal, testenv.TaskQueue, 0); err != nil || n != 1 {
		t.Fatalf("reconciled %d: %v", n, err)
	}
	eventually(t, "the cancel to reach both journeys", func() bool {
		counts, err := env.Store.JourneyCounts(ctx, c.ID)
		return err == nil && counts[journey.Cancelled] == 2
	})
	if got, _ := env.Store.LatestControl(ctx, c.ID); got.ID != ctl.ID || got.Status != "finished" || got.RunID == "" {
		t.Fatalf("control %+v", got)
	}
}

// A journey Temporal refuses to start for good says so in its row, instead
// of staying active without a workflow.
func TestAJourneyThatCannotStartSaysSo(t *testing.T) {
	env, c := setUp(t, 1)
	ctx := context.Background()
	// Far over Temporal's payload limit (the API refuses such data; the
	// store does not).
	data := map[string]any{"blob": strings.Repeat("x", 3<<20)}
	_, err := env.Enroller.Enroll(ctx, c, store.CustomerRef{ID: "c0"}, data)
	var refused *enroll.StartError
	if !errors.As(err, &refused) {
		t.Fatalf("enrolment: %v; want a StartError", err)
	}
	j, err := env.Store.Journey(ctx, journey.ID(c.ID, "c0"))
	if err != nil || j.Status != journey.Failed || !strings.Contains(j.ExitReason, "could not start") {
		t.Fatalf("journey %+v, %v", j, err)
	}
}

// A paced launch's batch enrolls one page of its pace's size; the
// journeys of a launch at a local time wait for it first, those the
// reconciler starts too.
func TestAPacedLaunchAtLocalTime(t *testing.T) {
	env, c := setUp(t, 5)
	ctx := context.Background()
	clock := time.Now().UTC().Add(3 * time.Hour).Format("15:04")
	l := store.Launch{ID: "launch:greet:paced", CampaignID: c.ID, Version: c.Version, Audience: store.Audience{All: true}, Status: "running",
		Delivery: store.Delivery{LocalTime: clock, RatePerMinute: 20}, RunID: "run-of-the-test"}
	if err := env.Store.CreateLaunch(ctx, l); err != nil {
		t.Fatal(err)
	}
	var suite testsuite.WorkflowTestSuite
	acts := &enroll.Activities{Enroller: env.Enroller, PageSize: 10, Concurrency: 4}
	ae := suite.NewTestActivityEnvironment()
	ae.RegisterActivity(acts)
	v, err := ae.ExecuteActivity(acts.EnrollBatch, enroll.LaunchInput{LaunchID: l.ID, CampaignID: c.ID, Version: c.Version, RatePerMinute: 20})
	var b enroll.Batch
	if err != nil || v.Get(&b) != nil || b.Progress.Enrolled != 2 || b.After != "c1" || b.Done {
		t.Fatalf("paced batch %+v, %v; want one page of 2", b, err)
	}
	// c4's enrolment by the launch was cut short after its row.
	if _, _, _, _, err := env.Store.Enter(ctx, store.Entrance{CampaignID: c.ID, Version: c.Version, CustomerID: "c4", StartAt: "mail", LaunchID: l.ID}); err != nil {
		t.Fatal(err)
	}
	if n, err := env.Enroller.Reconcile(ctx, 0); err != nil || n != 1 {
		t.Fatalf("reconciled %d: %v", n, err)
	}
	for _, customer := range []string{"c0", "c1", "c4"} {
		eventually(t, customer+"'s journey to wait for "+clock, func() bool {
			it := env.Temporal.GetWorkflowHistory(ctx, journey.ID(c.ID, customer), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
			for it.HasNext() {
				e, err := it.Next()
				if err != nil {
					return false
				}
				switch e.EventType {
				case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
					t.Fatalf("%s's journey sent before its local time", customer)
				case enumspb.EVENT_TYPE_TIMER_STARTED:
					d := e.GetTimerStartedEventAttributes().StartToFireTimeout.AsDuration()
					return d > 2*time.Hour && d <= 3*time.Hour
				}
			}
			return false
		})
	}
}

// With EagerStart, an enroller that shares its client with a worker of the
// journeys' task queue (as in `omni worker`) is handed each journey's first
// workflow task with the start; without it, the task goes through the
// queue.
func TestEagerStartHandsTheFirstTaskToThisProcess(t *testing.T) {
	env, c := setUp(t, 2)
	ctx := context.Background()
	eager := *env.Enroller
	eager.EagerStart = true
	for customer, e := range map[string]*enroll.Enroller{"c0": &eager, "c1": env.Enroller} {
		if _, err := e.Enroll(ctx, c, store.CustomerRef{ID: customer}, nil); err != nil {
			t.Fatal(err)
		}
		it := env.Temporal.GetWorkflowHistory(ctx, journey.ID(c.ID, customer), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if got, want := ev.GetWorkflowExecutionStartedEventAttributes().GetEagerExecutionAccepted(), e.EagerStart; got != want {
			t.Errorf("journey of %s: started eagerly %v, want %v", customer, got, want)
		}
		eventually(t, "journey of "+customer+" waiting", func() bool {
			j, err := env.Store.Journey(ctx, journey.ID(c.ID, customer))
			return err == nil && j.CurrentStep == "wait"
		})
	}
}
