// Package control pauses, resumes and cancels a running campaign: a
// workflow carries the control to every active journey of the campaign in
// the background, so that the request returns at once however many
// journeys there are, and reports its progress on the way.
package control

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
	"golang.org/x/sync/errgroup"

	"github.com/omni-orchestrator/omni/journey"
	"github.com/omni-orchestrator/omni/store"
)

// Input is one control of a campaign.
type Input struct {
	ControlID  string
	CampaignID string
	Action     string // pause, resume or cancel
	Seq        int64
}

// Progress is how far a control has reached.
type Progress struct {
	Journeys int // signalled or cancelled
	Finished int // ended before the control reached them, or never started
}

// CampaignControl carries a control to every active journey of the
// campaign from one heartbeating activity; its own history stays a handful
// of events.
func CampaignControl(ctx workflow.Context, in Input) (Progress, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 24 * time.Hour,
		// The activity heartbeats as it goes, so that one whose worker died
		// resumes elsewhere within seconds.
		HeartbeatTimeout: 10 * time.Second,
		Summary:          in.Action + " " + in.CampaignID,
	})
	var a *Activities
	var p Progress
	err := workflow.ExecuteActivity(ctx, a.ControlJourneys, in).Get(ctx, &p)
	return p, err
}

// Activities are the control's activities.
type Activities struct {
	Store    *store.Store
	Temporal client.Client
	// PageSize journeys are read at a time; Concurrency bounds the signals
	// or cancellations in flight.
	PageSize    int
	Concurrency int
}

type cursor struct {
	After    string
	Progress Progress
}

// ControlJourneys pages through the campaign's active journeys in workflow
// id order: it signals a pause or resume to each, or cancels each (and the
// campaign's running launches first, so that nobody new is enrolled).
// Progress is recorded on the control after each page; a retry resumes
// after the last page.
func (a *Activities) ControlJourneys(ctx context.Context, in Input) (Progress, error) {
	var cur cursor
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &cur); err != nil {
			return cur.Progress, err
		}
	}
	if in.Action == journey.Cancel {
		launches, err := a.Store.CancelLaunches(ctx, in.CampaignID)
		if err != nil {
			return cur.Progress, err
		}
		for _, id := range launches {
			if err := a.Temporal.CancelWorkflow(ctx, id, ""); err != nil && !gone(err) {
				return cur.Progress, fmt.Errorf("cancel launch %s: %w", id, err)
			}
		}
		// Let the launches stop before paging, so that no journey they
		// start is left behind (the enroller cancels any that start later).
		for _, id := range launches {
			_ = a.Temporal.GetWorkflow(ctx, id, "").Get(ctx, nil)
		}
	}
	for {
		ids, err := a.Store.ActiveJourneysAfter(ctx, in.CampaignID, cur.After, a.PageSize)
		if err != nil || len(ids) == 0 {
			if err == nil {
				err = a.Store.UpdateControl(ctx, in.ControlID, cur.Progress.Journeys, cur.Progress.Finished, true)
			}
			return cur.Progress, err
		}
		var reached, finished atomic.Int64
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(a.Concurrency)
		for _, id := range ids {
			g.Go(func() error {
				activity.RecordHeartbeat(ctx, cur)
				if !journey.Addressable(id) {
					// Never started, so there is nothing to reach; asking
					// Temporal would fail this page at every retry.
					finished.Add(1)
					return nil
				}
				err := a.apply(gctx, in, id)
				switch {
				case gone(err):
					finished.Add(1)
				case err != nil:
					return fmt.Errorf("%s %s: %w", in.Action, id, err)
				default:
					reached.Add(1)
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return cur.Progress, err
		}
		cur.After = ids[len(ids)-1]
		cur.Progress.Journeys += int(reached.Load())
		cur.Progress.Finished += int(finished.Load())
		activity.RecordHeartbeat(ctx, cur)
		if err := a.Store.UpdateControl(ctx, in.ControlID, cur.Progress.Journeys, cur.Progress.Finished, false); err != nil {
			return cur.Progress, err
		}
	}
}

func (a *Activities) apply(ctx context.Context, in Input, journeyID string) error {
	if in.Action == journey.Cancel {
		return a.Temporal.CancelWorkflow(ctx, journeyID, "")
	}
	return a.Temporal.SignalWorkflow(ctx, journeyID, "", journey.ControlSignal, journey.Control{Action: in.Action, Seq: in.Seq})
}

// gone says the workflow ended before the control reached it.
func gone(err error) bool {
	var notFound *serviceerror.NotFound
	return errors.As(err, &notFound)
}

// Start records the control and starts the workflow that carries it out.
// Asked again for a control whose workflow could not start (its status is
// recorded, its workflow not), it starts it again.
func Start(ctx context.Context, st *store.Store, tc client.Client, taskQueue, campaignID, action string) (store.Control, error) {
	c, err := st.StartControl(ctx, campaignID, action)
	if errors.Is(err, store.ErrWrongStatus) {
		latest, lerr := st.LatestControl(ctx, campaignID)
		if lerr != nil || latest.Action != action || latest.Status != "running" {
			return c, err
		}
		c = latest
	} else if err != nil {
		return c, err
	}
	// Once the status is recorded the workflow must start, even if the
	// caller has gone.
	return c, start(context.WithoutCancel(ctx), st, tc, taskQueue, c)
}

// start starts a recorded control's workflow, unless it runs already, and
// records its run.
func start(ctx context.Context, st *store.Store, tc client.Client, taskQueue string, c store.Control) error {
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                                       c.ID,
		TaskQueue:                                taskQueue,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    temporal.NewSearchAttributes(journey.CampaignIDAttr.ValueSet(c.CampaignID)),
		StaticSummary:                            fmt.Sprintf("%s of campaign %s", c.Action, c.CampaignID),
	}, CampaignControl, Input{ControlID: c.ID, CampaignID: c.CampaignID, Action: c.Action, Seq: c.Seq})
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case errors.As(err, &already):
		return st.StartedControl(ctx, c.ID, already.RunId)
	case err != nil:
		return fmt.Errorf("start %s: %w", c.ID, err)
	}
	return st.StartedControl(ctx, c.ID, run.GetRunID())
}

// Reconcile starts the workflows of controls whose start was cut short
// (recorded at least grace ago, no run recorded), and returns how many.
func Reconcile(ctx context.Context, st *store.Store, tc client.Client, taskQueue string, grace time.Duration) (int, error) {
	controls, err := st.UnstartedControls(ctx, grace)
	if err != nil {
		return 0, err
	}
	for i, c := range controls {
		if err := start(ctx, st, tc, taskQueue, c); err != nil {
			return i, err
		}
	}
	return len(controls), nil
}
