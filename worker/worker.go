// Package worker runs omni's workflows and activities: journeys, launches
// and campaign controls on one task queue, each channel's sends on a queue
// of its own. The binary and the tests build their workers here.
package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/omni-orchestrator/omni/activities"
	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/channels"
	"github.com/omni-orchestrator/omni/control"
	"github.com/omni-orchestrator/omni/enroll"
	"github.com/omni-orchestrator/omni/journey"
	"github.com/omni-orchestrator/omni/store"
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

func (t Tuning) options() sdkworker.Options {
	return sdkworker.Options{MaxConcurrentWorkflowTaskPollers: t.WorkflowPollers, MaxConcurrentActivityTaskPollers: t.ActivityPollers}
}

// Deps are what the workers' activities use.
type Deps struct {
	Store    *store.Store
	Temporal client.Client
	// Senders send each channel's messages.
	Senders  map[string]channels.Sender
	Enroller *enroll.Enroller
}

// Options configure a process's workers.
type Options struct {
	TaskQueue string
	Tuning    Tuning
	// Rates cap each channel's sends per second across all workers (the
	// server enforces it, so adding workers never exceeds a provider's
	// limit; 0 or absent is no cap); SendConcurrency caps this process's
	// sends in flight per channel.
	Rates           map[string]float64
	SendConcurrency int
	// ConfirmWindow is how long a send that may have reached its provider
	// waits for its webhook (activities.Activities.ConfirmWindow).
	ConfirmWindow time.Duration
	// StopTimeout is how long Stop lets in-flight activities (sends)
	// finish before it cancels them.
	StopTimeout time.Duration
	// PageSize and Concurrency are how launches and controls page through
	// customers and journeys, and how many starts or signals they have in
	// flight.
	PageSize    int
	Concurrency int
	// LinkSchemes are the app schemes push links may use besides https.
	LinkSchemes campaign.LinkSchemes
}

// Workers are the workers of one process: journeys, launches and campaign
// controls with their activities on the task queue, and each channel's
// sends on a queue of its own.
type Workers []sdkworker.Worker

// New returns the workers of one process.
func New(d Deps, o Options) Workers {
	if o.Tuning.StickyCacheSize > 0 {
		sdkworker.SetStickyWorkflowCacheSize(o.Tuning.StickyCacheSize)
	}
	acts := &activities.Activities{Store: d.Store, Senders: d.Senders, ConfirmWindow: o.ConfirmWindow, LinkSchemes: o.LinkSchemes}
	wo := o.Tuning.options()
	wo.WorkerStopTimeout = o.StopTimeout
	w := sdkworker.New(d.Temporal, o.TaskQueue, wo)
	w.RegisterWorkflow(workflows.Journey)
	w.RegisterWorkflow(enroll.Launch)
	w.RegisterWorkflow(control.CampaignControl)
	// Controls started before the control workflow got its name.
	w.RegisterWorkflowWithOptions(control.CampaignControl, workflow.RegisterOptions{Name: "Campaign"})
	w.RegisterActivity(acts)
	w.RegisterActivity(&enroll.Activities{Enroller: d.Enroller, PageSize: o.PageSize, Concurrency: o.Concurrency})
	w.RegisterActivity(&control.Activities{Store: d.Store, Temporal: d.Temporal, PageSize: o.PageSize, Concurrency: o.Concurrency})
	ws := Workers{w}
	for _, ch := range campaign.Channels {
		co := wo
		co.TaskQueueActivitiesPerSecond, co.MaxConcurrentActivityExecutionSize = o.Rates[ch], o.SendConcurrency
		cw := sdkworker.New(d.Temporal, workflows.ChannelTaskQueue(o.TaskQueue, ch), co)
		cw.RegisterActivityWithOptions(acts.Deliver, activity.RegisterOptions{Name: journey.Deliver})
		cw.RegisterActivityWithOptions(acts.Send, activity.RegisterOptions{Name: journey.Send})
		ws = append(ws, cw)
	}
	return ws
}

// Start starts the workers; when one fails to start, it stops those it
// started.
func (ws Workers) Start() error {
	for i, w := range ws {
		if err := w.Start(); err != nil {
			ws[:i].Stop()
			return fmt.Errorf("start worker: %w", err)
		}
	}
	return nil
}

// Stop stops the workers: they stop polling at once, and let the
// activities in flight finish for up to Options.StopTimeout.
func (ws Workers) Stop() {
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Go(w.Stop)
	}
	wg.Wait()
}

// EnsureSearchAttributes registers the search attributes journeys set, so a
// fresh server (or one from docker compose) accepts them. Servers that do
// not allow it (Temporal Cloud) have them registered by an operator.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	want := map[string]enumspb.IndexedValueType{}
	for _, key := range []string{journey.CampaignIDAttr.GetName(), journey.CustomerIDAttr.GetName()} {
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
