package enroll

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/mock"
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
