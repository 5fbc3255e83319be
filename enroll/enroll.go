// Package enroll puts customers into campaigns: one at a time (an event
// triggered entry), or a whole audience through the Launch workflow.
package enroll

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/google/uuid"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/journey"
	"github.com/omni-orchestrator/omni/store"
	"github.com/omni-orchestrator/omni/workflows"
)

// Enroller starts journeys and launches.
type Enroller struct {
	Store     *store.Store
	Temporal  client.Client
	TaskQueue string
	// DefaultTimezone serves customers without a time zone.
	DefaultTimezone string
	// EagerStart asks the server to hand a journey's first workflow task
	// back with its start (eager workflow start), to this process's
	// worker, skipping a trip through the task queue. The SDK asks for it
	// only where a worker of TaskQueue shares Temporal (the client) and
	// has a free slot; elsewhere it is a plain start. omni leaves it off:
	// `make bench` measures it as an experiment, and journeys complete no
	// faster with it while launches slow down (README, make bench).
	EagerStart bool
}

// Enrollment is the journey a customer is in.
type Enrollment struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
	Version    int    `json:"version"`
	// Started is false when the customer was already enrolled: every
	// customer goes through a campaign once.
	Started bool `json:"started"`
	// Skipped says why the customer was not enrolled ("suppressed": they
	// rejected the campaign's offer lately).
	Skipped string `json:"skipped,omitempty"`
}

// Why a customer is not enrolled: they rejected the campaign's offer
// lately, the campaign was cancelled, or the customer's id, stored before
// ids were checked, breaks campaign.CustomerID (Temporal would refuse the
// journey's workflow id, and every retry with it).
const (
	SkippedSuppressed        = "suppressed"
	SkippedCancelled         = "campaign_cancelled"
	SkippedInvalidCustomerID = "invalid_customer_id"
	SkippedNoEntryKey        = "no_entry_key" // the event lacks the property entry.key names
	SkippedCooldown          = store.RefusedCooldown
	SkippedMaxEntries        = store.RefusedMaxEntries
)

// Enroll starts the customer's journey through campaign c, unless the
// entry rules say they are in it already (or may not enter again); data is
// the enrolment's data for templates. The customer must exist. The
// journey's row is written first, with what its start needs, and its run
// recorded once the workflow started: a start cut short is made good by a
// retry or by Reconcile.
func (e *Enroller) Enroll(ctx context.Context, c store.Campaign, customer store.CustomerRef, data map[string]any) (Enrollment, error) {
	return e.enter(ctx, c, customer, entrance{data: data})
}

// Trigger enrolls the customer because of the event, by the campaign's
// entry rules: the event's properties are the journey's `event`.
func (e *Enroller) Trigger(ctx context.Context, c store.Campaign, customer store.CustomerRef, ev journey.Event) (Enrollment, error) {
	return e.enter(ctx, c, customer, entrance{event: &ev})
}

// entrance is how a customer comes to a campaign: with data, by an event,
// or on behalf of a launch, whose journeys a retried page finds as its own
// (and which may start them at the customer's localTime).
type entrance struct {
	data      map[string]any
	event     *journey.Event
	launchID  string
	localTime string
}

func (e *Enroller) enter(ctx context.Context, c store.Campaign, customer store.CustomerRef, in entrance) (Enrollment, error) {
	id := journey.ID(c.ID, customer.ID)
	if !campaign.CustomerID.Valid(customer.ID) {
		return Enrollment{WorkflowID: id, Version: c.Version, Skipped: SkippedInvalidCustomerID}, nil
	}
	if c.Status == store.CampaignCancelled {
		return Enrollment{WorkflowID: id, Version: c.Version, Skipped: SkippedCancelled}, nil
	}
	if offer := c.Definition.OfferID; offer != "" {
		suppressed, err := e.Store.Suppressed(ctx, customer.ID, offer)
		if err != nil {
			return Enrollment{}, err
		}
		if suppressed {
			return Enrollment{WorkflowID: id, Version: c.Version, Skipped: SkippedSuppressed}, nil
		}
	}
	rule := c.Definition.Rule()
	var key string
	if rule.Key != "" {
		v, ok := entryKey(in.event, rule.Key)
		if !ok {
			return Enrollment{WorkflowID: id, Version: c.Version, Skipped: SkippedNoEntryKey}, nil
		}
		key = v
	}
	j, created, ours, refused, err := e.Store.Enter(ctx, store.Entrance{
		CampaignID: c.ID, Version: c.Version, CustomerID: customer.ID, StartAt: c.Definition.StartAt,
		Rule: rule, Key: key, Data: in.data, Event: in.event, LaunchID: in.launchID,
	})
	switch {
	case err != nil:
		return Enrollment{}, fmt.Errorf("record journey %s: %w", id, err)
	case refused != "":
		return Enrollment{WorkflowID: id, Version: c.Version, Skipped: refused}, nil
	case !created && (j.RunID != "" || j.Status != journey.Active):
		// Started before, or over (a journey from before runs were
		// recorded): nothing to ask Temporal.
		return Enrollment{WorkflowID: j.WorkflowID, RunID: j.RunID, Version: j.Version, Started: ours}, nil
	}
	if j.Version != c.Version { // enrolled in an earlier version, its start cut short
		if c, err = e.Store.CampaignVersion(ctx, c.ID, j.Version); err != nil {
			return Enrollment{}, err
		}
	}
	runID, started, err := e.start(ctx, c, j, customer.Timezone, in.localTime)
	if err != nil {
		return Enrollment{}, err
	}
	return Enrollment{WorkflowID: j.WorkflowID, RunID: runID, Version: j.Version, Started: started || ours}, nil
}

// entryKey is the value of the event's property key, which names a
// journey: a string as it is, a number or a boolean as written.
func entryKey(ev *journey.Event, key string) (string, bool) {
	if ev == nil {
		return "", false
	}
	switch v := ev.Properties[key].(type) {
	case string:
		return v, v != ""
	case float64, bool, int, int64:
		return fmt.Sprint(v), true
	}
	return "", false
}

// StartError is a journey whose workflow Temporal refused to start for
// good (an input it does not accept): the journey's row says so.
type StartError struct {
	JourneyID string
	Err       error
}

func (e *StartError) Error() string {
	return fmt.Sprintf("journey %s could not start: %v", e.JourneyID, e.Err)
}

func (e *StartError) Unwrap() error { return e.Err }

// start starts the workflow of a recorded journey of campaign version c
// (at the customer's localTime, if set) and records its run; started is
// false when it was running already.
func (e *Enroller) start(ctx context.Context, c store.Campaign, j store.Journey, timezone, localTime string) (runID string, started bool, err error) {
	input := workflows.JourneyInput{
		CampaignID: c.ID, Version: c.Version, CustomerID: j.CustomerID, Definition: c.Definition,
		Timezone: cmp.Or(timezone, e.DefaultTimezone), Data: j.Data, Event: j.Event, LocalTime: localTime,
	}
	if c.Status == store.CampaignPaused {
		latest, err := e.Store.LatestControl(ctx, c.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return "", false, err
		}
		input.Paused, input.Control = latest.Action == journey.Pause, latest.Seq
	}
	run, err := e.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        j.WorkflowID,
		TaskQueue: e.TaskQueue,
		// A journey ID is used once: a start repeated after one that
		// succeeded finds it, whatever the reason for repeating.
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		// Without it the SDK hands back the running journey as if it had
		// just started it.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			journey.CampaignIDAttr.ValueSet(c.ID),
			journey.CustomerIDAttr.ValueSet(j.CustomerID),
		),
		StaticSummary:    fmt.Sprintf("%s v%d for customer %s", c.ID, c.Version, j.CustomerID),
		EnableEagerStart: e.EagerStart,
	}, workflows.Journey, input)
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	var refused *serviceerror.InvalidArgument
	switch {
	case errors.As(err, &already):
		runID = already.RunId
	case errors.As(err, &refused):
		if ferr := e.Store.FinishJourney(ctx, j.WorkflowID, journey.Failed, journey.Progress{Step: j.CurrentStep}, "could not start: "+refused.Error()); ferr != nil {
			return "", false, ferr
		}
		return "", false, &StartError{JourneyID: j.WorkflowID, Err: err}
	case err != nil:
		return "", false, fmt.Errorf("start journey %s: %w", j.WorkflowID, err)
	default:
		runID, started = run.GetRunID(), true
	}
	if err := e.Store.StartedJourney(ctx, j.WorkflowID, runID); err != nil {
		return "", false, err
	}
	if started {
		if err := e.catchUp(ctx, c.ID, j.WorkflowID, input.Control); err != nil {
			return "", false, err
		}
	}
	return runID, started, nil
}

// catchUp applies a control that came after the campaign's status was read
// for this enrolment: the control workflow may have paged past the journey
// before it started.
func (e *Enroller) catchUp(ctx context.Context, campaignID, journeyID string, applied int64) error {
	latest, err := e.Store.LatestControl(ctx, campaignID)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && latest.Seq <= applied:
		return nil
	case err != nil:
		return err
	case latest.Action == journey.Cancel:
		err = e.Temporal.CancelWorkflow(ctx, journeyID, "")
	default:
		err = e.Temporal.SignalWorkflow(ctx, journeyID, "", journey.ControlSignal, journey.Control{Action: latest.Action, Seq: latest.Seq})
	}
	if err != nil {
		return fmt.Errorf("apply %s to journey %s: %w", latest.Action, journeyID, err)
	}
	return nil
}

// StartLaunch records a launch of campaign c to the audience, delivered
// as d says, and starts the Launch workflow that enrolls it.
func (e *Enroller) StartLaunch(ctx context.Context, c store.Campaign, audience store.Audience, d store.Delivery) (store.Launch, error) {
	l := store.Launch{
		ID:         "launch:" + c.ID + ":" + uuid.NewString(),
		CampaignID: c.ID, Version: c.Version, Audience: audience, Status: "running", Delivery: d,
	}
	if err := e.Store.CreateLaunch(ctx, l); err != nil {
		return l, err
	}
	return l, e.startLaunch(ctx, l)
}

// startLaunch starts a recorded launch's workflow and records its run.
func (e *Enroller) startLaunch(ctx context.Context, l store.Launch) error {
	run, err := e.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                                       l.ID,
		TaskQueue:                                e.TaskQueue,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    temporal.NewSearchAttributes(journey.CampaignIDAttr.ValueSet(l.CampaignID)),
		StaticSummary:                            fmt.Sprintf("launch of %s v%d", l.CampaignID, l.Version),
	}, Launch, LaunchInput{LaunchID: l.ID, CampaignID: l.CampaignID, Version: l.Version, RatePerMinute: l.RatePerMinute})
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case errors.As(err, &already):
		return e.Store.StartedLaunch(ctx, l.ID, already.RunId)
	case err != nil:
		return fmt.Errorf("start launch %s: %w", l.ID, err)
	}
	return e.Store.StartedLaunch(ctx, l.ID, run.GetRunID())
}

// Reconcile makes good the starts that were cut short (the process died
// between writing a journey's or a launch's row and starting its
// workflow): rows written at least grace ago whose run is not recorded
// are started now, or found running. It returns how many it started.
func (e *Enroller) Reconcile(ctx context.Context, grace time.Duration) (int, error) {
	n := 0
	launches, err := e.Store.UnstartedLaunches(ctx, grace)
	if err != nil {
		return n, err
	}
	for _, l := range launches {
		if err := e.startLaunch(ctx, l); err != nil {
			return n, err
		}
		n++
	}
	journeys, err := e.Store.UnstartedJourneys(ctx, grace, 500)
	if err != nil {
		return n, err
	}
	localTimes := map[string]string{} // of the launches the journeys are of
	for _, j := range journeys {
		if !journey.Addressable(j.WorkflowID) {
			if err := e.Store.FinishJourney(ctx, j.WorkflowID, journey.Failed, journey.Progress{Step: j.CurrentStep}, "could not start: its id cannot reach Temporal"); err != nil {
				return n, err
			}
			continue
		}
		c, err := e.Store.CampaignVersion(ctx, j.CampaignID, j.Version)
		if err != nil {
			return n, err
		}
		if c.Status == store.CampaignCancelled {
			if err := e.Store.FinishJourney(ctx, j.WorkflowID, journey.Cancelled, journey.Progress{Step: j.CurrentStep}, "cancelled"); err != nil {
				return n, err
			}
			continue
		}
		customer, err := e.Store.Customer(ctx, j.CustomerID)
		if err != nil {
			return n, err
		}
		if _, ok := localTimes[j.LaunchID]; j.LaunchID != "" && !ok {
			l, err := e.Store.Launch(ctx, j.LaunchID)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return n, err
			}
			localTimes[j.LaunchID] = l.LocalTime
		}
		_, started, err := e.start(ctx, c, j, customer.Timezone, localTimes[j.LaunchID])
		var refused *StartError
		switch {
		case errors.As(err, &refused): // recorded on the journey
		case err != nil:
			return n, err
		case started:
			n++
		}
	}
	return n, nil
}
