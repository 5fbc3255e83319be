// Package worker runs omni's workflows and activities: journeys and
// launches on one task queue, each channel's sends on a queue of its own.
package worker

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/omni-orchestrator/omni/activities"
	"github.com/omni-orchestrator/omni/control"
	"github.com/omni-orchestrator/omni/enroll"
	"github.com/omni-orchestrator/omni/workflows"
)

// Tuning is what operators turn when they scale out; zero keeps the SDK's
// default.
type Tuning struct {
	// WorkflowPollers and ActivityPollers are each worker's long polls on
	// its task queue (SDK default 2). More pollers pay off when a worker
	// sits far from the server or when many workers share few partitions.
	WorkflowPollers int
	ActivityPollers int
	// StickyCacheSize is how many journeys a worker process keeps in
	// memory between their workflow tasks (SDK default 10,000); a journey
	// evicted from it is replayed from its history on its next task.
	StickyCacheSize int
}

// Apply sets the process-wide parts of the tuning; call it before New.
func (t Tuning) Apply() {
	if t.StickyCacheSize > 0 {
		sdkworker.SetStickyWorkflowCacheSize(t.StickyCacheSize)
	}
}

func (t Tuning) options() sdkworker.Options {
	return sdkworker.Options{MaxConcurrentWorkflowTaskPollers: t.WorkflowPollers, MaxConcurrentActivityTaskPollers: t.ActivityPollers}
}

// New returns the worker for journeys, launches and campaign controls and
// their activities.
func New(c client.Client, taskQueue string, t Tuning, acts *activities.Activities, launch *enroll.Activities, ctl *control.Activities) sdkworker.Worker {
	w := sdkworker.New(c, taskQueue, t.options())
	w.RegisterWorkflow(workflows.Journey)
	w.RegisterWorkflow(enroll.Launch)
	w.RegisterWorkflow(control.Campaign)
	w.RegisterActivity(acts)
	w.RegisterActivity(launch)
	w.RegisterActivity(ctl)
	return w
}

// NewChannel returns a worker that sends one channel's messages from the
// channel's own task queue. rate caps the channel's sends per second
// across all workers (the server enforces it, so adding workers never
// exceeds a provider's limit; 0 is no cap); concurrency caps this
// worker's sends in flight.
func NewChannel(c client.Client, taskQueue, channel string, t Tuning, acts *activities.Activities, rate float64, concurrency int) sdkworker.Worker {
	o := t.options()
	o.TaskQueueActivitiesPerSecond, o.MaxConcurrentActivityExecutionSize = rate, concurrency
	w := sdkworker.New(c, workflows.ChannelTaskQueue(taskQueue, channel), o)
	w.RegisterActivityWithOptions(acts.Deliver, activity.RegisterOptions{Name: "Deliver"})
	w.RegisterActivityWithOptions(acts.Send, activity.RegisterOptions{Name: "Send"})
	return w
}

// EnsureSearchAttributes registers the search attributes journeys set, so a
// fresh server (or one from docker compose) accepts them. Servers that do
// not allow it (Temporal Cloud) have them registered by an operator.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	want := map[string]enumspb.IndexedValueType{}
	for _, key := range []string{workflows.CampaignIDAttr.GetName(), workflows.CustomerIDAttr.GetName()} {
		want[key] = enumspb.INDEXED_VALUE_TYPE_KEYWORD
	}
	have, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	for key := range want {
		if _, ok := have.GetCustomAttributes()[key]; ok {
			delete(want, key)
		}
	}
	if len(want) == 0 {
		return nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{Namespace: namespace, SearchAttributes: want})
	var exists *serviceerror.AlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("add search attributes %v: %w", want, err)
	}
	return nil
}
