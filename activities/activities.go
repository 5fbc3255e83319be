// Package activities holds the journey's side effects: delivering a
// message, reading what branch conditions need of the customer, and keeping
// the journeys read model current.
package activities

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/channels"
	"github.com/omni-orchestrator/omni/store"
)

// Activities carries the dependencies of the journey's activities.
type Activities struct {
	Store   *store.Store
	Senders map[string]channels.Sender
}

// DeliverInput is one send step of one journey.
type DeliverInput struct {
	JourneyID  string
	CampaignID string
	CustomerID string
	Step       string
	// Key identifies the message across retries and worker restarts: the
	// journey, the step and how many times the journey has visited it.
	Key string
	// The send step: its channel or channels, and template(s).
	campaign.Send
	// Data is the enrolment's data, which templates see as `data`.
	Data map[string]any
	// OfferID and FrequencyCap are checked when the message is recorded: a
	// suppressed offer or a capped customer skips the send.
	OfferID      string
	FrequencyCap *campaign.FrequencyCap
	// NextStep and Variant are where the journey goes after this send; they
	// are recorded with the message so the read model follows the journey
	// without an activity of its own.
	NextStep string
	Variant  string
}

// DeliverResult says what became of the message.
type DeliverResult struct {
	MessageID string
	Channel   string
	Status    string // sent, skipped or failed
	Reason    string
}

// Deliver composes the step's message for the customer and sends it once:
// the message is recorded before the provider is called and marked sent
// after, so a retry finds it sent and does not send it again.
func (a *Activities) Deliver(ctx context.Context, in DeliverInput) (DeliverResult, error) {
	c, err := a.Store.Customer(ctx, in.CustomerID)
	if err != nil {
		return DeliverResult{}, fmt.Errorf("load customer %s: %w", in.CustomerID, err)
	}
	msg := Compose(c, in.Send, in.Data)
	sender, ok := a.Senders[msg.Channel]
	if !ok {
		return DeliverResult{}, temporal.NewNonRetryableApplicationError("no sender for channel "+msg.Channel, "NoSender", nil)
	}
	status := msg.Status
	if status == "" {
		status = store.MessagePending
	}
	progress := store.Progress{Step: in.NextStep, Variant: in.Variant}
	checks := store.SendChecks{OfferID: in.OfferID}
	if in.FrequencyCap != nil {
		checks.CapMax, checks.CapPer = in.FrequencyCap.Max, in.FrequencyCap.Window()
	}
	stored, err := a.Store.RecordMessage(ctx, store.Message{
		IdempotencyKey: in.Key, JourneyID: in.JourneyID, CampaignID: in.CampaignID, CustomerID: in.CustomerID,
		Step: in.Step, Channel: msg.Channel, Provider: sender.Provider(), Recipient: msg.To,
		Subject: msg.Subject, Body: msg.Body, Status: status, Reason: msg.Reason,
	}, progress, checks)
	if err != nil {
		return DeliverResult{}, err
	}
	if stored.Status == store.MessagePending {
		// A retry finds the message as first recorded: same channel, same content.
		sender = a.Senders[stored.Channel]
		providerID, err := sender.Send(ctx, channels.Message{
			ID: stored.ID, Channel: stored.Channel, To: stored.Recipient, Subject: stored.Subject, Body: stored.Body,
			CampaignID: in.CampaignID, JourneyID: in.JourneyID, Step: in.Step,
		})
		if err != nil {
			return DeliverResult{}, fmt.Errorf("send %s via %s: %w", stored.Channel, sender.Provider(), err)
		}
		if stored, err = a.Store.MarkSent(ctx, stored.ID, providerID, progress); err != nil {
			return DeliverResult{}, err
		}
	}
	activity.GetLogger(ctx).Debug("Delivered", "message_id", stored.ID, "channel", stored.Channel, "status", stored.Status, "reason", stored.Reason)
	return DeliverResult{MessageID: stored.ID, Channel: stored.Channel, Status: stored.Status, Reason: stored.Reason}, nil
}

// CustomerFacts reads what branch conditions test of the customer now.
func (a *Activities) CustomerFacts(ctx context.Context, customerID string) (campaign.Facts, error) {
	c, err := a.Store.Customer(ctx, customerID)
	if err != nil {
		return campaign.Facts{}, fmt.Errorf("load customer %s: %w", customerID, err)
	}
	return facts(c), nil
}

// ProgressInput is a journey's position for the read model.
type ProgressInput struct {
	JourneyID string
	Step      string
	Variant   string
}

// RecordProgress records where a journey is, when it pauses somewhere no
// send has recorded.
func (a *Activities) RecordProgress(ctx context.Context, in ProgressInput) error {
	return a.Store.RecordProgress(ctx, in.JourneyID, store.Progress{Step: in.Step, Variant: in.Variant})
}

// FinishInput records the end of a journey.
type FinishInput struct {
	JourneyID string
	Status    string
	Step      string
	Variant   string
	Reason    string
}

// FinishJourney records how a journey ended in the read model.
func (a *Activities) FinishJourney(ctx context.Context, in FinishInput) error {
	return a.Store.FinishJourney(ctx, in.JourneyID, in.Status, store.Progress{Step: in.Step, Variant: in.Variant}, in.Reason)
}
