package enroll

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/omni-orchestrator/omni/store"
)

// A launch runs its batches one after another, carrying the cursor, and
// continues as new after batchesPerRun of them so its history stays small.
func TestLaunchContinuesAsNewAfterItsBatches(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	var a *Activities
	env.RegisterActivity(a)
	var calls []LaunchInput
	env.OnActivity(a.EnrollBatch, mock.Anything, mock.Anything).Return(func(_ context.Context, in LaunchInput) (Batch, error) {
		calls = append(calls, in)
		n := len(calls)
		return Batch{After: fmt.Sprintf("c%04d", n), Progress: store.LaunchProgress{Enrolled: n * 10}}, nil
	})
	env.ExecuteWorkflow(Launch, LaunchInput{LaunchID: "l1", CampaignID: "spring", Version: 1})
	err := env.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	if !errors.As(err, &can) {
		t.Fatalf("err = %v, want continue-as-new", err)
	}
	if len(calls) != batchesPerRun || calls[1].After != "c0001" || calls[batchesPerRun-1].Progress.Enrolled != (batchesPerRun-1)*10 {
		t.Fatalf("%d batches; second after %q", len(calls), calls[1].After)
	}
}

func TestLaunchEndsWithTheLastBatch(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	var a *Activities
	env.RegisterActivity(a)
	n := 0
	env.OnActivity(a.EnrollBatch, mock.Anything, mock.Anything).Return(func(_ context.Context, in LaunchInput) (Batch, error) {
		n++
		return Batch{After: "c9", Progress: store.LaunchProgress{Enrolled: n}, Done: n == 3}, nil
	})
	env.ExecuteWorkflow(Launch, LaunchInput{LaunchID: "l1", CampaignID: "spring", Version: 1})
	var p store.LaunchProgress
	if err := env.GetWorkflowResult(&p); err != nil || p.Enrolled != 3 || n != 3 {
		t.Fatalf("progress %+v after %d batches: %v", p, n, err)
	}
}

// A paced launch enrolls a page of the pace's size at a time, a page
// every so often: 20 a minute is 2 customers every 6 seconds.
func TestAPacedLaunchSpacesItsPages(t *testing.T) {
	if size, every := pace(20); size != 2 || every != 6*time.Second {
		t.Fatalf("pace(20) = %d every %s", size, every)
	}
	if size, every := pace(1); size != 1 || every != time.Minute {
		t.Fatalf("pace(1) = %d every %s", size, every)
	}
	if size, _ := pace(1_000_000); size != maxPacedPage {
		t.Fatalf("pace(1e6) pages %d", size)
	}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	var a *Activities
	env.RegisterActivity(a)
	var at []time.Time
	env.OnActivity(a.EnrollBatch, mock.Anything, mock.Anything).Return(func(_ context.Context, in LaunchInput) (Batch, error) {
		at = append(at, env.Now())
		n := len(at)
		return Batch{After: fmt.Sprintf("c%d", n), Progress: store.LaunchProgress{Enrolled: 2 * n}, Done: n == 3}, nil
	})
	env.ExecuteWorkflow(Launch, LaunchInput{LaunchID: "l1", CampaignID: "spring", Version: 1, RatePerMinute: 20})
	var p store.LaunchProgress
	if err := env.GetWorkflowResult(&p); err != nil || p.Enrolled != 6 {
		t.Fatalf("progress %+v: %v", p, err)
	}
	if len(at) != 3 || at[1].Sub(at[0]) != 6*time.Second || at[2].Sub(at[1]) != 6*time.Second {
		t.Fatalf("pages at %v, want 6s apart", at)
	}
}

// A run of a schedule records its launch first, under its own workflow
// id, and enrolls the version that launch names.
func TestARunOfAScheduleRecordsItsLaunchFirst(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	var a *Activities
	env.RegisterActivity(a)
	runID := "launch:spring:schedule-1-2026-12-07T08:00:00Z"
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: runID})
	env.OnActivity(a.BeginRun, mock.Anything, mock.Anything).Return(func(_ context.Context, in LaunchInput) (store.Launch, error) {
		if in.LaunchID != runID || in.ScheduleID != "schedule:spring:1" {
			return store.Launch{}, fmt.Errorf("begun as %+v", in)
		}
		return store.Launch{ID: in.LaunchID, Version: 3}, nil
	})
	var batch LaunchInput
	env.OnActivity(a.EnrollBatch, mock.Anything, mock.Anything).Return(func(_ context.Context, in LaunchInput) (Batch, error) {
		batch = in
		return Batch{Done: true}, nil
	})
	env.ExecuteWorkflow(Launch, LaunchInput{CampaignID: "spring", ScheduleID: "schedule:spring:1"})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if batch.LaunchID != runID || batch.Version != 3 {
		t.Fatalf("enrolled %+v", batch)
	}
}
