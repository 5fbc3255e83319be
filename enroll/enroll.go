// Package enroll puts customers into campaigns: one at a time (an event
// triggered entry), or a whole audience through the Launch workflow.
package enroll

import (
	"cmp"
	"context"
	"errors"
	"fmt"

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
)

// Enroll starts the customer's journey through campaign c, unless one was
// started before; data is the enrolment's data for templates. The customer
// must exist. The journey row is written first so a retry after a failed
// start finds it and starts the workflow.
func (e *Enroller) Enroll(ctx context.Context, c store.Campaign, customer store.CustomerRef, data map[string]any) (Enrollment, error) {
	customerID := customer.ID
	id := journey.ID(c.ID, customerID)
	if !campaign.CustomerID.Valid(customerID) {
		return Enrollment{WorkflowID: id, Version: c.Version, Skipped: SkippedInvalidCustomerID}, nil
	}
	input := workflows.JourneyInput{
		CampaignID: c.ID, Version: c.Version, CustomerID: customerID, Definition: c.Definition,
		Timezone: cmp.Or(customer.Timezone, e.DefaultTimezone), Data: data,
	}
	switch c.Status {
	case store.CampaignCancelled:
		return Enrollment{WorkflowID: id, Version: c.Version, Skipped: SkippedCancelled}, nil
	case store.CampaignPaused:
		latest, err := e.Store.LatestControl(ctx, c.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return Enrollment{}, err
		}
		input.Paused, input.Control = latest.Action == journey.Pause, latest.Seq
	}
	if offer := c.Definition.OfferID; offer != "" {
		suppressed, err := e.Store.Suppressed(ctx, customerID, offer)
		if err != nil {
			return Enrollment{}, err
		}
		if suppressed {
			return Enrollment{WorkflowID: id, Version: c.Version, Skipped: SkippedSuppressed}, nil
		}
	}
	_, err := e.Store.CreateJourney(ctx, store.Journey{
		WorkflowID: id, CampaignID: c.ID, Version: c.Version, CustomerID: customerID, CurrentStep: c.Definition.StartAt,
	})
	if err != nil {
		return Enrollment{}, fmt.Errorf("record journey %s: %w", id, err)
	}
	run, err := e.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        id,
		TaskQueue: e.TaskQueue,
		// A journey ID is used once, ever: relaunching enrolls nobody twice.
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		// Without it the SDK hands back the running journey as if it had
		// just started it.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			journey.CampaignIDAttr.ValueSet(c.ID),
			journey.CustomerIDAttr.ValueSet(customerID),
		),
		StaticSummary: fmt.Sprintf("%s v%d for customer %s", c.ID, c.Version, customerID),
	}, workflows.Journey, input)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return Enrollment{WorkflowID: id, RunID: started.RunId, Version: c.Version}, nil
	}
	if err != nil {
		return Enrollment{}, fmt.Errorf("start journey %s: %w", id, err)
	}
	if err := e.catchUp(ctx, c.ID, id, input.Control); err != nil {
		return Enrollment{}, err
	}
	return Enrollment{WorkflowID: id, RunID: run.GetRunID(), Version: c.Version, Started: true}, nil
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

// StartLaunch records a launch of campaign c to the audience and starts the
// Launch workflow that enrolls it.
func (e *Enroller) StartLaunch(ctx context.Context, c store.Campaign, audience store.Audience) (store.Launch, error) {
	l := store.Launch{
		ID:         "launch:" + c.ID + ":" + uuid.NewString(),
		CampaignID: c.ID, Version: c.Version, Audience: audience, Status: "running",
	}
	if err := e.Store.CreateLaunch(ctx, l); err != nil {
		return l, err
	}
	_, err := e.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                    l.ID,
		TaskQueue:             e.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(journey.CampaignIDAttr.ValueSet(c.ID)),
		StaticSummary:         fmt.Sprintf("launch of %s v%d", c.ID, c.Version),
	}, Launch, LaunchInput{LaunchID: l.ID, CampaignID: c.ID, Version: c.Version})
	return l, err
}
