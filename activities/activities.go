// Package activities holds the journey's side effects: delivering a
// message, reading what branch conditions need of the customer, and keeping
// the journeys read model current.
package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/channels"
	"github.com/omni-orchestrator/omni/journey"
	"github.com/omni-orchestrator/omni/message"
	"github.com/omni-orchestrator/omni/store"
)

// Activities carries the dependencies of the journey's activities.
type Activities struct {
	Store   *store.Store
	Senders map[string]channels.Sender
	// ConfirmWindow is how long a send that may have reached its provider
	// (an earlier attempt called it and got no answer) waits for the
	// provider's webhook to say it has the message, before sending again,
	// where the provider confirms by webhook (channels.WebhookConfirmed);
	// 0 sends again at once.
	ConfirmWindow time.Duration
	// LinkSchemes are the app schemes push links may use besides https.
	LinkSchemes campaign.LinkSchemes
}

func result(m store.Message) journey.DeliverResult {
	return journey.DeliverResult{MessageID: m.ID, Channel: m.Channel, Status: m.Status, Reason: m.Reason}
}

// Prepare composes the step's message for the customer and records it
// under the step's key, checked against suppression and frequency cap: a
// pending message for Send, or one skipped or failed with the reason. A
// retry finds the message recorded and returns it as it was.
func (a *Activities) Prepare(ctx context.Context, in journey.DeliverInput) (journey.DeliverResult, error) {
	m, _, err := a.prepare(ctx, in, false)
	return result(m), err
}

// prepare composes and records the message; attempting records it as
// attempted, for a send that calls the provider right after. created says
// this call recorded it.
func (a *Activities) prepare(ctx context.Context, in journey.DeliverInput, attempting bool) (store.Message, bool, error) {
	c, err := a.Store.Customer(ctx, in.CustomerID)
	if err != nil {
		return store.Message{}, false, fmt.Errorf("load customer %s: %w", in.CustomerID, err)
	}
	msg := message.Compose(c, in.Send, message.Vars{Data: in.Data, Event: in.Event, Coupon: in.Coupon}, a.LinkSchemes)
	sender, ok := a.Senders[msg.Channel]
	if !ok {
		return store.Message{}, false, temporal.NewNonRetryableApplicationError("no sender for channel "+msg.Channel, "NoSender", nil)
	}
	var attempted *time.Time
	if attempting {
		attempted = new(time.Now())
	}
	status := msg.Status
	if status == "" {
		status = journey.MessagePending
	}
	checks := store.SendChecks{OfferID: in.OfferID}
	if in.FrequencyCap != nil {
		checks.CapMax, checks.CapPer = in.FrequencyCap.Max, in.FrequencyCap.Window()
	}
	return a.Store.RecordMessage(ctx, store.Message{
		IdempotencyKey: in.Key, JourneyID: in.JourneyID, CampaignID: in.CampaignID, CustomerID: in.CustomerID,
		Step: in.Step, Channel: msg.Channel, Provider: sender.Provider(), Recipient: msg.To,
		Subject: msg.Subject, Body: msg.Body, TemplateID: msg.TemplateID, TemplateData: msg.TemplateData, Link: msg.Link,
		Status: status, Reason: msg.Reason, AttemptedAt: attempted,
	}, in.Progress(), checks)
}

// Send hands a prepared message to its channel's provider, once: a message
// found sent (by an earlier attempt, or by the provider's webhook) is not
// sent again. Retryable provider failures fail the attempt, after the wait
// the provider asked for; permanent ones are recorded on the message.
func (a *Activities) Send(ctx context.Context, in journey.SendInput) (journey.DeliverResult, error) {
	m, err := a.Store.MessageByID(ctx, in.MessageID)
	if errors.Is(err, store.ErrNotFound) {
		return journey.DeliverResult{}, temporal.NewNonRetryableApplicationError("no message "+in.MessageID, "NoMessage", err)
	}
	if err != nil {
		return journey.DeliverResult{}, err
	}
	if m.Status != journey.MessagePending {
		// Sent by an earlier attempt, or marked sent by the provider's
		// webhook: the journey's progress may still be unrecorded.
		return result(m), a.Store.RecordProgress(ctx, m.JourneyID, in.Progress)
	}
	return a.send(ctx, m, in.Progress, false)
}

// send hands a pending message to its provider and records the outcome;
// fresh says the message was recorded, as attempted, by this very attempt.
// A message an earlier attempt may have handed over (marked attempted,
// without an answer) is not sent again blindly: where the provider can be
// asked, send asks it; where it confirms by webhook, send waits up to
// ConfirmWindow for the webhook to mark the message sent; else (push,
// whose notification tag makes a duplicate replace the first) it sends
// again.
func (a *Activities) send(ctx context.Context, m store.Message, progress journey.Progress, fresh bool) (journey.DeliverResult, error) {
	var err error
	var acceptedAs string
	if activity.HasHeartbeatDetails(ctx) && activity.GetHeartbeatDetails(ctx, &acceptedAs) == nil {
		// An earlier attempt handed the message over but could not record it.
		m, err = a.markSent(ctx, m.ID, acceptedAs, progress)
		return result(m), err
	}
	sender, ok := a.Senders[m.Channel]
	if !ok {
		return journey.DeliverResult{}, temporal.NewNonRetryableApplicationError("no sender for channel "+m.Channel, "NoSender", nil)
	}
	cm := channels.Message{
		ID: m.ID, Channel: m.Channel, To: m.Recipient, Subject: m.Subject, Body: m.Body,
		TemplateID: m.TemplateID, TemplateData: m.TemplateData, Link: m.Link,
		CampaignID: m.CampaignID, JourneyID: m.JourneyID, Step: m.Step,
	}
	if !fresh {
		if m.AttemptedAt != nil {
			providerID, found, err := a.settle(ctx, sender, cm, *m.AttemptedAt)
			if err != nil {
				return journey.DeliverResult{}, err
			}
			if found {
				m, err = a.markSent(ctx, m.ID, providerID, progress)
				return result(m), err
			}
		}
		if err := a.Store.MarkAttempted(ctx, m.ID); err != nil {
			return journey.DeliverResult{}, err
		}
	}
	providerID, err := sender.Send(ctx, cm)
	if err == nil {
		m, err = a.markSent(ctx, m.ID, providerID, progress)
		return result(m), err
	}
	failure, perr := channels.FailureOf(err)
	if perr != nil {
		// The provider answered: it does not have the message, and a retry
		// may send it at once.
		if err := a.Store.ClearAttempt(ctx, m.ID); err != nil {
			return journey.DeliverResult{}, err
		}
	}
	switch failure {
	case channels.Retryable:
		var wait time.Duration
		if perr != nil {
			wait = perr.RetryAfter
		}
		return journey.DeliverResult{}, temporal.NewApplicationErrorWithOptions(err.Error(), "ProviderUnavailable",
			temporal.ApplicationErrorOptions{NextRetryDelay: wait, Cause: err})
	case channels.Unreachable:
		if err := a.Store.RemovePushToken(ctx, m.CustomerID, m.Recipient); err != nil {
			return journey.DeliverResult{}, err
		}
		if err := a.refreshSegments(ctx, m.CustomerID, campaign.ReachableField(campaign.Push)); err != nil {
			return journey.DeliverResult{}, err
		}
	case channels.OptedOut:
		if err := a.Store.SetConsent(ctx, m.CustomerID, []string{m.Channel}, false); err != nil {
			return journey.DeliverResult{}, err
		}
		if err := a.refreshSegments(ctx, m.CustomerID, "consent."+m.Channel); err != nil {
			return journey.DeliverResult{}, err
		}
	}
	activity.GetLogger(ctx).Warn("Provider refused message", "message_id", m.ID, "channel", m.Channel, "failure", failure, "error", perr)
	m, err = a.Store.MarkFailed(ctx, m.ID, failure.String()+": "+perr.Error(), progress)
	res := result(m)
	res.Fallback = failure == channels.Unreachable || failure == channels.OptedOut
	return res, err
}

// markSent records a message the provider accepted. Should the database
// not answer at once, it first tells the server the provider's id (a
// heartbeat, which a retry of the attempt finds, so it records rather than
// sends again), then keeps trying for a while, past the attempt's deadline.
func (a *Activities) markSent(ctx context.Context, id, providerID string, p journey.Progress) (store.Message, error) {
	m, err := a.Store.MarkSent(ctx, id, providerID, p)
	if err == nil {
		return m, nil
	}
	activity.RecordHeartbeat(ctx, providerID)
	ctx = context.WithoutCancel(ctx)
	for wait := time.Second; wait <= 8*time.Second; wait *= 2 {
		time.Sleep(wait)
		if m, err = a.Store.MarkSent(ctx, id, providerID, p); err == nil {
			return m, nil
		}
	}
	return m, err
}

// Deliver is Prepare and Send in one activity: for a send on one channel,
// on that channel's task queue (journeys started before per-channel task
// queues schedule it on theirs).
func (a *Activities) Deliver(ctx context.Context, in journey.DeliverInput) (journey.DeliverResult, error) {
	m, created, err := a.prepare(ctx, in, true)
	if err != nil || m.Status != journey.MessagePending {
		return result(m), err
	}
	return a.send(ctx, m, in.Progress(), created)
}

// settle decides about a message an earlier attempt handed to its
// provider at attempted, without an answer: found when the provider says
// it has the message; an error that retries the send later while a
// webhook may still confirm it; neither to send it again.
func (a *Activities) settle(ctx context.Context, sender channels.Sender, m channels.Message, attempted time.Time) (string, bool, error) {
	switch s := sender.(type) {
	case channels.Looker:
		// Clocks differ: look a little before the attempt.
		return s.Lookup(ctx, m, attempted.Add(-time.Minute))
	case channels.WebhookConfirmed:
		if left := time.Until(attempted.Add(a.ConfirmWindow)); left > 0 {
			return "", false, temporal.NewApplicationErrorWithOptions(
				fmt.Sprintf("an attempt at %s may have reached the provider: waiting %s for its webhook before sending again", attempted.Format(time.RFC3339), left.Round(time.Second)),
				"AwaitingProvider", temporal.ApplicationErrorOptions{NextRetryDelay: min(left, 30*time.Second)})
		}
	}
	return "", false, nil
}

// IssueCoupon issues the journey's coupon for the campaign's offer, once,
// and returns its code.
func (a *Activities) IssueCoupon(ctx context.Context, in journey.CouponInput) (string, error) {
	c, err := a.Store.IssueCoupon(ctx, in.Key, store.Coupon{
		CustomerID: in.CustomerID, CampaignID: in.CampaignID, JourneyID: in.JourneyID, OfferID: in.OfferID,
		ExpiresAt: time.Now().Add(in.Validity()),
	}, in.Prefix, in.CodeLength())
	return c.Code, err
}

// GiveUp records that a send stopped retrying: its message, still pending,
// failed, so that it no longer counts towards frequency caps.
func (a *Activities) GiveUp(ctx context.Context, in journey.GiveUpInput) error {
	return a.Store.GiveUp(ctx, in.Key, in.Reason)
}

// CustomerFacts reads what branch conditions test of the customer now.
func (a *Activities) CustomerFacts(ctx context.Context, customerID string) (campaign.Facts, error) {
	c, err := a.Store.Customer(ctx, customerID)
	if err != nil {
		return campaign.Facts{}, fmt.Errorf("load customer %s: %w", customerID, err)
	}
	return c.Facts(), nil
}

// RecordProgress records where a journey is, when it pauses somewhere no
// send has recorded.
func (a *Activities) RecordProgress(ctx context.Context, in journey.ProgressInput) error {
	return a.Store.RecordProgress(ctx, in.JourneyID, journey.Progress{Step: in.Step, Variant: in.Variant})
}

// FinishJourney records how a journey ended in the read model.
func (a *Activities) FinishJourney(ctx context.Context, in journey.FinishInput) error {
	return a.Store.FinishJourney(ctx, in.JourneyID, in.Status, journey.Progress{Step: in.Step, Variant: in.Variant}, in.Reason)
}

// refreshSegments re-evaluates the customer in the segments that test the
// field a provider changed; the segment runner enrolls who entered or
// left a segment in its campaigns (a send has no business starting
// journeys).
func (a *Activities) refreshSegments(ctx context.Context, customerID, field string) error {
	_, err := a.Store.RefreshSegments(ctx, []string{customerID}, store.Affects{Fields: []string{field}})
	return err
}
