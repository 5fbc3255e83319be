// Package workflows holds the journey: the durable interpreter of a
// campaign definition for one customer.
package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/omni-orchestrator/omni/activities"
	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/store"
)

// ResponseSignal is the signal that brings a customer's response to a journey.
const ResponseSignal = "response"

// Search attributes set on every journey, so engineers can filter journeys
// in the Temporal UI (`CampaignId = "spring-sale"`).
var (
	CampaignIDAttr = temporal.NewSearchAttributeKeyKeyword("CampaignId")
	CustomerIDAttr = temporal.NewSearchAttributeKeyKeyword("CustomerId")
)

// JourneyID is the workflow ID of a customer's journey through a campaign.
func JourneyID(campaignID, customerID string) string {
	return "journey:" + campaignID + ":" + customerID
}

// JourneyInput is what a journey starts with: the campaign version's
// definition is a snapshot, so editing the campaign never changes a running
// journey.
type JourneyInput struct {
	CampaignID string
	Version    int
	CustomerID string
	Definition campaign.Definition
}

// Response is a customer's response as a journey sees it.
type Response struct {
	EventID    string
	Type       string
	Channel    string
	OccurredAt time.Time
}

// JourneyResult is how a journey ended.
type JourneyResult struct {
	Status string
	// Steps lists the steps the journey went through, in order.
	Steps []string
}

// journey is the interpreter's state.
type journey struct {
	in JourneyInput
	id string
	// responses holds every response received, in arrival order; waits
	// consume them from cursor on, so one that arrived before a wait began
	// still answers it, but never answers two waits.
	responses []Response
	cursor    int
	seen      map[string]bool
	visits    map[string]int
	steps     []string
}

// Journey runs one customer through one campaign version.
func Journey(ctx workflow.Context, in JourneyInput) (JourneyResult, error) {
	j := &journey{
		in:     in,
		id:     workflow.GetInfo(ctx).WorkflowExecution.ID,
		seen:   map[string]bool{},
		visits: map[string]int{},
	}
	j.receiveResponses(ctx)

	name := in.Definition.StartAt
	for {
		step, ok := in.Definition.Steps[name]
		if !ok {
			return j.result(store.JourneyFailed), temporal.NewNonRetryableApplicationError("no step named "+name, "InvalidDefinition", nil)
		}
		j.visits[name]++
		j.steps = append(j.steps, name)

		var next string
		var err error
		switch {
		case step.Send != nil:
			next, err = j.send(ctx, name, step)
		case step.Wait != nil:
			next, err = j.wait(ctx, name, step)
		case step.Exit != nil:
			return j.finish(ctx, name, store.JourneyCompleted, step.Exit.Reason)
		default:
			return j.result(store.JourneyFailed), temporal.NewNonRetryableApplicationError("step "+name+" has no kind this version runs", "InvalidDefinition", nil)
		}
		if temporal.IsCanceledError(err) {
			// Cancelled from the UI or CLI: record it, then end as cancelled.
			dctx, _ := workflow.NewDisconnectedContext(ctx)
			res, _ := j.finish(dctx, name, store.JourneyCancelled, "cancelled")
			return res, err
		}
		if err != nil {
			return j.result(store.JourneyFailed), err
		}
		name = next
	}
}

func (j *journey) receiveResponses(ctx workflow.Context) {
	ch := workflow.GetSignalChannel(ctx, ResponseSignal)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var r Response
			ch.Receive(ctx, &r)
			// The API re-signals a repeated event so that none is lost;
			// here it counts once.
			if j.seen[r.EventID] {
				continue
			}
			j.seen[r.EventID] = true
			j.responses = append(j.responses, r)
		}
	})
}

func (j *journey) send(ctx workflow.Context, name string, step campaign.Step) (string, error) {
	ch := step.Send.Channel
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("**%s**: sending %s", name, ch))
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		// A provider outage is retried for a day; each retry finds the
		// message recorded and never sends it twice.
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute},
		Summary:                fmt.Sprintf("%s %s", name, ch),
	})
	var a *activities.Activities
	var res activities.DeliverResult
	err := workflow.ExecuteActivity(ctx, a.Deliver, activities.DeliverInput{
		JourneyID:  j.id,
		CampaignID: j.in.CampaignID,
		CustomerID: j.in.CustomerID,
		Step:       name,
		Key:        fmt.Sprintf("%s/%s/%d", j.id, name, j.visits[name]),
		Channel:    ch,
		Template:   step.Send.Template,
		NextStep:   step.Next,
	}).Get(ctx, &res)
	if err != nil && !temporal.IsCanceledError(err) {
		// The message could not be sent within a day: the journey goes on
		// rather than hold the customer forever.
		workflow.GetLogger(ctx).Error("Send failed", "step", name, "error", err)
		return step.Next, nil
	}
	return step.Next, err
}

func (j *journey) wait(ctx workflow.Context, name string, step campaign.Step) (string, error) {
	w := step.Wait
	timeout := w.TimeoutDuration()
	until := workflow.Now(ctx).Add(timeout).UTC().Format(time.RFC3339)
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("**%s**: waiting for %s until %s", name, strings.Join(w.For, " or "), until))
	matched := -1
	ok, err := workflow.AwaitWithTimeout(ctx, timeout, func() bool {
		matched = j.match(w.For)
		return matched >= 0
	})
	if err != nil {
		return "", err
	}
	if !ok {
		return step.WaitNext(campaign.Timeout), nil
	}
	j.cursor = matched + 1
	return step.WaitNext(j.responses[matched].Type), nil
}

// match returns the index of the first unconsumed response of one of the
// types, or -1.
func (j *journey) match(types []string) int {
	for i := j.cursor; i < len(j.responses); i++ {
		if slices.Contains(types, j.responses[i].Type) {
			return i
		}
	}
	return -1
}

// finish records the end of the journey in the read model. A local activity:
// one marker event instead of three, and no task queue round trip.
func (j *journey) finish(ctx workflow.Context, name, status, reason string) (JourneyResult, error) {
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("**%s**: %s", name, status))
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout:    10 * time.Second,
		ScheduleToCloseTimeout: time.Hour,
	})
	var a *activities.Activities
	err := workflow.ExecuteLocalActivity(ctx, a.FinishJourney, activities.FinishInput{
		JourneyID: j.id, Status: status, Step: name, Reason: reason,
	}).Get(ctx, nil)
	return j.result(status), err
}

func (j *journey) result(status string) JourneyResult {
	return JourneyResult{Status: status, Steps: j.steps}
}
