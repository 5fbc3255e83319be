// Package responses closes the loop: a customer's response, reported by any
// channel system or provider webhook, is stored once, changes what it must
// (a rejected offer is suppressed, an unsubscribe turns consent off, a goal
// marks journeys converted) and reaches the journeys it concerns at once.
package responses

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/store"
	"github.com/omni-orchestrator/omni/workflows"
)

// Errors Record returns for responses it cannot take.
var (
	ErrUnknownCustomer = errors.New("unknown customer")
	ErrUnknownCampaign = errors.New("unknown campaign")
)

// SignalError means the response is stored but a journey could not be told;
// recording the same event again retries.
type SignalError struct {
	JourneyID string
	Err       error
}

func (e *SignalError) Error() string {
	return fmt.Sprintf("journey %s could not be signalled: %v", e.JourneyID, e.Err)
}

func (e *SignalError) Unwrap() error { return e.Err }

// Recorder records responses.
type Recorder struct {
	Store    *store.Store
	Temporal client.Client
}

// Result is a recorded response and the journeys it reached.
type Result struct {
	Response  store.Response `json:"response"`
	Duplicate bool           `json:"duplicate"`
	Journeys  []string       `json:"journeys"`
}

// Record stores r once per event ID, applies its effects the first time,
// and signals the journeys it concerns: the campaign's journey when r names
// a campaign, else every active journey of the customer (and for a
// rejection always every one, since other campaigns may offer the same).
// Routing reads the journeys table, never Temporal. A repeated event that
// already reached its journeys changes nothing; one that did not is
// signalled again (journeys count each event once).
func (rec *Recorder) Record(ctx context.Context, r store.Response) (Result, error) {
	if _, err := rec.Store.Customer(ctx, r.CustomerID); errors.Is(err, store.ErrNotFound) {
		return Result{}, fmt.Errorf("%w %q", ErrUnknownCustomer, r.CustomerID)
	} else if err != nil {
		return Result{}, err
	}
	var rules *campaign.Rules
	if r.CampaignID != "" {
		c, err := rec.Store.Campaign(ctx, r.CampaignID)
		if errors.Is(err, store.ErrNotFound) {
			return Result{}, fmt.Errorf("%w %q", ErrUnknownCampaign, r.CampaignID)
		} else if err != nil {
			return Result{}, err
		}
		if r.OfferID == "" {
			r.OfferID = c.Definition.OfferID
		}
		rules = c.Definition.Rules
	}
	if r.OccurredAt.IsZero() {
		r.OccurredAt = time.Now().UTC()
	}
	stored, duplicate, err := rec.Store.RecordResponse(ctx, r, effects(r, rules))
	if err != nil {
		return Result{}, err
	}
	res := Result{Response: stored, Duplicate: duplicate, Journeys: []string{}}
	if stored.RoutedAt != nil {
		return res, nil
	}
	campaignID := stored.CampaignID
	if stored.Type == "rejected" {
		campaignID = ""
	}
	ids, err := rec.Store.ActiveJourneyIDs(ctx, stored.CustomerID, campaignID)
	if err != nil {
		return res, err
	}
	signal := workflows.Response{EventID: stored.EventID, Type: stored.Type, Channel: stored.Channel, OfferID: stored.OfferID, OccurredAt: stored.OccurredAt}
	for _, id := range ids {
		err := rec.Temporal.SignalWorkflow(ctx, id, "", workflows.ResponseSignal, signal)
		var gone *serviceerror.NotFound
		switch {
		case errors.As(err, &gone): // the journey ended meanwhile
		case err != nil:
			return res, &SignalError{JourneyID: id, Err: err}
		default:
			res.Journeys = append(res.Journeys, id)
		}
	}
	return res, rec.Store.MarkRouted(ctx, stored.EventID)
}

// effects are what a response changes besides being stored. A rejection
// suppresses its offer for the campaign's rules.suppress_rejected_for (or
// 30 days); an unsubscribe turns off the channel it came from, or every
// channel when its data says {"scope": "all"}.
func effects(r store.Response, rules *campaign.Rules) store.ResponseEffects {
	var fx store.ResponseEffects
	switch r.Type {
	case "rejected":
		if r.OfferID != "" {
			fx.Suppress = &store.Suppression{
				CustomerID: r.CustomerID, OfferID: r.OfferID, Reason: "rejected", EventID: r.EventID,
				Until: time.Now().Add(rules.SuppressionPeriod()),
			}
		}
	case "unsubscribed":
		if r.Data["scope"] == "all" {
			fx.OptOut = campaign.Channels
		} else if slices.Contains(campaign.Channels, r.Channel) {
			fx.OptOut = []string{r.Channel}
		}
	}
	return fx
}
