// Package activities holds the journey's side effects: delivering a message
// and recording how a journey ended.
package activities

import (
	"context"
	"errors"
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
	Key      string
	Channel  string
	Template campaign.Template
	// NextStep is where the journey goes after this send. It is recorded
	// with the message so the read model follows the journey without an
	// activity of its own.
	NextStep string
}

// DeliverResult says what became of the message.
type DeliverResult struct {
	MessageID string
	Status    string // sent, skipped or failed
	Reason    string
}

// Reasons a message is not sent.
const (
	ReasonUnreachable = "unreachable" // no address or token on this channel
	ReasonNoConsent   = "no_consent"
	ReasonTemplate    = "template_error"
)

// Deliver renders the step's message for the customer and sends it once:
// the message is recorded before the provider is called and marked sent
// after, so a retry finds it sent and does not send it again.
func (a *Activities) Deliver(ctx context.Context, in DeliverInput) (DeliverResult, error) {
	sender, ok := a.Senders[in.Channel]
	if !ok {
		return DeliverResult{}, temporal.NewNonRetryableApplicationError("no sender for channel "+in.Channel, "NoSender", nil)
	}
	c, err := a.Store.Customer(ctx, in.CustomerID)
	if err != nil {
		return DeliverResult{}, fmt.Errorf("load customer %s: %w", in.CustomerID, err)
	}
	m := store.Message{
		IdempotencyKey: in.Key, JourneyID: in.JourneyID, CampaignID: in.CampaignID, CustomerID: in.CustomerID,
		Step: in.Step, Channel: in.Channel, Provider: sender.Provider(), Status: store.MessagePending,
	}
	m.Recipient, m.Reason = address(c, in.Channel)
	if m.Reason == "" {
		m.Subject, m.Body, err = render(in.Template, c)
		if err != nil {
			m.Reason = ReasonTemplate + ": " + err.Error()
			m.Status = store.MessageFailed
		}
	} else {
		m.Status = store.MessageSkipped
	}
	stored, err := a.Store.RecordMessage(ctx, m, in.NextStep)
	if err != nil {
		return DeliverResult{}, err
	}
	if stored.Status == store.MessagePending {
		providerID, err := sender.Send(ctx, channels.Message{
			ID: stored.ID, Channel: in.Channel, To: stored.Recipient, Subject: stored.Subject, Body: stored.Body,
			CampaignID: in.CampaignID, JourneyID: in.JourneyID, Step: in.Step,
		})
		if err != nil {
			return DeliverResult{}, fmt.Errorf("send %s via %s: %w", in.Channel, sender.Provider(), err)
		}
		if stored, err = a.Store.MarkSent(ctx, stored.ID, providerID, in.NextStep); err != nil {
			return DeliverResult{}, err
		}
	}
	activity.GetLogger(ctx).Debug("Delivered", "message_id", stored.ID, "channel", in.Channel, "status", stored.Status, "reason", stored.Reason)
	return DeliverResult{MessageID: stored.ID, Status: stored.Status, Reason: stored.Reason}, nil
}

// address returns where the customer is reached on channel, or why not.
func address(c store.Customer, channel string) (to, reason string) {
	var consent bool
	switch channel {
	case campaign.Email:
		to, consent = c.Email, c.Consent.Email
	case campaign.SMS:
		to, consent = c.Phone, c.Consent.SMS
	case campaign.Push:
		to, consent = c.PushToken, c.Consent.Push
	}
	switch {
	case to == "":
		return "", ReasonUnreachable
	case !consent:
		return to, ReasonNoConsent
	}
	return to, ""
}

// render personalises a template. Templates see the customer's attributes
// by name, and the profile fields (id, email, phone, locale, timezone),
// which win over attributes of the same name.
func render(t campaign.Template, c store.Customer) (subject, body string, err error) {
	vars := make(map[string]any, len(c.Attributes)+5)
	for k, v := range c.Attributes {
		vars[k] = v
	}
	vars["id"], vars["email"], vars["phone"], vars["locale"], vars["timezone"] = c.ID, c.Email, c.Phone, c.Locale, c.Timezone
	subject = t.Subject
	if subject == "" {
		subject = t.Title
	}
	if subject, err = campaign.Render(subject, vars); err != nil {
		return "", "", err
	}
	body, err = campaign.Render(t.Body, vars)
	return subject, body, err
}

// FinishInput records the end of a journey.
type FinishInput struct {
	JourneyID string
	Status    string
	Step      string
	Reason    string
}

// FinishJourney records how a journey ended in the read model.
func (a *Activities) FinishJourney(ctx context.Context, in FinishInput) error {
	err := a.Store.FinishJourney(ctx, in.JourneyID, in.Status, in.Step, in.Reason)
	if errors.Is(err, context.Canceled) {
		return temporal.NewApplicationError("finish journey cancelled", "Cancelled", err)
	}
	return err
}
