// Package responses is the one way in for what customers do: a response a
// channel system reports, a provider's webhook event, a coupon redeemed.
// Whatever the source, the Recorder stores it once, applies its effects (a
// rejected offer is suppressed, consent goes off or on, a goal marks
// journeys converted, a provider's event proves a message was sent) and
// brings it to the journeys it concerns at once.
package responses

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/channels"
	"github.com/omni-orchestrator/omni/enroll"
	"github.com/omni-orchestrator/omni/journey"
	"github.com/omni-orchestrator/omni/store"
)

// Errors Record returns for responses it cannot take.
var (
	ErrUnknownCustomer = errors.New("unknown customer")
	ErrUnknownCampaign = errors.New("unknown campaign")
	// The customer has no journey in the campaign named and is not
	// offered it.
	ErrNotInCampaign = errors.New("not in the campaign")
	// The offer named is none of the customer's.
	ErrNotOffered = errors.New("not offered")
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

// Recorder records responses and events.
type Recorder struct {
	Store    *store.Store
	Temporal client.Client
	// Enroller enrolls customers in the campaigns their events trigger.
	Enroller *enroll.Enroller
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
//
// Only what concerns the customer is taken (see admit); anything else is
// refused before it is stored, so it moves no counter either.
func (rec *Recorder) Record(ctx context.Context, r store.Response) (Result, error) {
	customer, err := rec.Store.Customer(ctx, r.CustomerID)
	if errors.Is(err, store.ErrNotFound) {
		return Result{}, fmt.Errorf("%w %q", ErrUnknownCustomer, r.CustomerID)
	} else if err != nil {
		return Result{}, err
	}
	namedOffer := r.OfferID != ""
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
	if err := rec.admit(ctx, customer, r, namedOffer); err != nil {
		// The same event again was admitted the first time; it is
		// answered as the duplicate it is, even if, say, its rejection
		// has since taken the offer off the customer's list.
		if stored, serr := rec.Store.ResponseStored(ctx, r.EventID); serr != nil || !stored {
			return Result{}, errors.Join(err, serr)
		}
	}
	if r.OccurredAt.IsZero() {
		r.OccurredAt = time.Now().UTC()
	}
	fx := effects(r, rules)
	stored, duplicate, err := rec.Store.RecordResponse(ctx, r, fx)
	if err != nil {
		return Result{}, err
	}
	if changed := slices.Concat(fx.OptOut, fx.OptIn); len(changed) > 0 {
		// Segments that test consent follow it (a repeat mends a
		// re-evaluation that failed).
		for i, ch := range changed {
			changed[i] = "consent." + ch
		}
		var dispatch *enroll.DispatchError
		if err := rec.Enroller.RefreshSegments(ctx, []string{stored.CustomerID}, store.Affects{Fields: changed}); err != nil && !errors.As(err, &dispatch) {
			return Result{}, err
		}
	}
	res := Result{Response: stored, Duplicate: duplicate, Journeys: []string{}}
	if stored.RoutedAt != nil {
		return res, nil
	}
	campaignID := stored.CampaignID
	if stored.Type == campaign.Rejected {
		campaignID = ""
	}
	ids, err := rec.Store.ActiveJourneyIDs(ctx, stored.CustomerID, campaignID)
	if err != nil {
		return res, err
	}
	signal := journey.Response{EventID: stored.EventID, Type: stored.Type, Channel: stored.Channel, OfferID: stored.OfferID, OccurredAt: stored.OccurredAt}
	for _, id := range ids {
		err := rec.Temporal.SignalWorkflow(ctx, id, "", journey.ResponseSignal, signal)
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

// admit checks that a response is about what omni knows of the customer:
// a campaign it names is one the customer has a journey in (in any
// status: a click can come after the journey ended) or one whose offer
// GET /v1/customers/{id}/offers shows them (the contact centre records
// a no to an offer the customer is eligible for); an offer it names is
// one of those of the customer's journeys or one that list shows. A
// response that names neither reaches only the customer's own journeys,
// offers and consent.
func (rec *Recorder) admit(ctx context.Context, customer store.Customer, r store.Response, namedOffer bool) error {
	if r.CampaignID == "" && !namedOffer {
		return nil
	}
	theirs, err := rec.Store.JourneyOffers(ctx, customer.ID)
	if err != nil {
		return err
	}
	inCampaign := r.CampaignID == "" || slices.ContainsFunc(theirs, func(o store.JourneyOffer) bool { return o.CampaignID == r.CampaignID })
	offered := !namedOffer || slices.ContainsFunc(theirs, func(o store.JourneyOffer) bool { return o.OfferID == r.OfferID })
	if !inCampaign || !offered {
		shown, err := rec.Store.CustomerOffers(ctx, customer)
		if err != nil {
			return err
		}
		inCampaign = inCampaign || slices.ContainsFunc(shown, func(o store.Offer) bool { return o.CampaignID == r.CampaignID })
		offered = offered || slices.ContainsFunc(shown, func(o store.Offer) bool { return o.OfferID == r.OfferID })
	}
	switch {
	case !inCampaign:
		return fmt.Errorf("%w: customer %q has no journey in campaign %q and is not offered it", ErrNotInCampaign, customer.ID, r.CampaignID)
	case !offered:
		return fmt.Errorf("%w: offer %q is not one of customer %q's: no journey of theirs makes it, and their offers do not show it", ErrNotOffered, r.OfferID, customer.ID)
	}
	return nil
}

// effects are what a response changes besides being stored. A rejection
// suppresses its offer for the campaign's rules.suppress_rejected_for (or
// 30 days); an unsubscribe turns off the channel it came from, a subscribe
// turns it on again, or every channel when its data says {"scope": "all"}.
func effects(r store.Response, rules *campaign.Rules) store.ResponseEffects {
	var fx store.ResponseEffects
	switch r.Type {
	case campaign.Rejected:
		if r.OfferID != "" {
			fx.Suppress = &store.Suppression{
				CustomerID: r.CustomerID, OfferID: r.OfferID, Reason: campaign.Rejected, EventID: r.EventID,
				Until: time.Now().Add(rules.SuppressionPeriod()),
			}
		}
	case campaign.Unsubscribed:
		fx.OptOut = consentChannels(r)
	case campaign.Subscribed:
		fx.OptIn = consentChannels(r)
	}
	return fx
}

// consentChannels are the channels a change of consent applies to.
func consentChannels(r store.Response) []string {
	switch {
	case r.Data["scope"] == "all":
		return campaign.Channels
	case slices.Contains(campaign.Channels, r.Channel):
		return []string{r.Channel}
	}
	return nil
}

// Outcome is what recording a provider's event did.
type Outcome int

// Outcomes of a provider's event.
const (
	Accepted  Outcome = iota // stored as a response (for each customer it names)
	Duplicate                // stored before
	Orphan                   // it names no message or customer we know; kept as it came
	Ignored                  // it means nothing to a journey
)

// RecordEvent applies a provider's event. One about a message becomes a
// response of the message's journey; a verified one also proves that the
// provider has the message, so one still pending (the worker died before
// it could record the acceptance) is marked sent, and a retry of its send
// does not send it again (an unverified event could be forged and is not
// trusted with that). One from an address (an inbound SMS) becomes a
// response of every customer with that address. An event that names
// nothing we know is kept as an orphan.
func (rec *Recorder) RecordEvent(ctx context.Context, e channels.Event) (Outcome, error) {
	if e.From != "" {
		return rec.recordInbound(ctx, e)
	}
	m, found, err := rec.message(ctx, e)
	switch {
	case err != nil:
		return 0, err
	case e.Type == "":
		return Ignored, nil
	case !found:
		return rec.orphan(ctx, e)
	}
	return rec.recordFor(ctx, e, m.CustomerID, m.CampaignID, e.Provider+":"+e.ID, m.ID)
}

// message finds the event's message by our id, else by the provider's,
// and applies the proof of a verified event.
func (rec *Recorder) message(ctx context.Context, e channels.Event) (store.Message, bool, error) {
	m, err := rec.Store.MessageByID(ctx, e.MessageID)
	if errors.Is(err, store.ErrNotFound) && e.ProviderMessageID != "" {
		m, err = rec.Store.MessageByProviderID(ctx, e.ProviderMessageID)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return m, false, nil
	case err != nil:
		return m, false, err
	case m.Status == journey.MessagePending && e.Verified:
		err = rec.Store.MarkAccepted(ctx, m.ID, e.ProviderMessageID)
	}
	return m, err == nil, err
}

// recordInbound records a customer's own message for every customer with
// the address it came from.
func (rec *Recorder) recordInbound(ctx context.Context, e channels.Event) (Outcome, error) {
	ids, err := rec.Store.CustomerIDsByPhone(ctx, e.From)
	switch {
	case err != nil:
		return 0, err
	case len(ids) == 0:
		return rec.orphan(ctx, e)
	case e.Type == "":
		return Ignored, nil
	}
	outcome := Duplicate
	for _, id := range ids {
		o, err := rec.recordFor(ctx, e, id, "", e.Provider+":"+e.ID+":"+id, "")
		if err != nil {
			return 0, err
		}
		outcome = min(outcome, o)
	}
	return outcome, nil
}

// recordFor records the event as a response of the customer (in the
// campaign of the message it is about).
func (rec *Recorder) recordFor(ctx context.Context, e channels.Event, customerID, campaignID, eventID, messageID string) (Outcome, error) {
	data := map[string]any{"provider": e.Provider}
	if messageID != "" {
		data["message_id"] = messageID
	}
	maps.Copy(data, e.Data)
	res, err := rec.Record(ctx, store.Response{EventID: eventID, CustomerID: customerID, CampaignID: campaignID,
		Channel: e.Channel, Type: e.Type, OccurredAt: e.OccurredAt, Data: data})
	switch {
	case err != nil:
		return 0, err
	case res.Duplicate:
		return Duplicate, nil
	}
	return Accepted, nil
}

func (rec *Recorder) orphan(ctx context.Context, e channels.Event) (Outcome, error) {
	if _, err := rec.Store.RecordOrphan(ctx, e.Provider, e.ID, e.Raw); err != nil {
		return 0, err
	}
	return Orphan, nil
}

// Redemption is a redeemed coupon and the conversion it recorded.
type Redemption struct {
	Coupon     store.Coupon `json:"coupon"`
	Conversion Result       `json:"conversion"`
}

// Redeem redeems a coupon once, whatever the channel (the shop, the app, a
// store's till), and records it as the journey's `converted` response. A
// second redemption, even a concurrent one, gets store.ErrRedeemed; the
// same one retried (same channel and order reference) is answered again,
// and its conversion routed again in case the first time could not.
// store.ErrNotFound and store.ErrExpired come with the coupon as stored.
func (rec *Recorder) Redeem(ctx context.Context, code, channel, orderRef string) (Redemption, error) {
	coupon, err := rec.Store.RedeemCoupon(ctx, code, channel, orderRef)
	retried := errors.Is(err, store.ErrRedeemed) && orderRef != "" && coupon.OrderRef == orderRef && coupon.RedeemedChannel == channel
	if err != nil && !retried {
		return Redemption{Coupon: coupon}, err
	}
	data := map[string]any{"coupon": coupon.Code}
	if orderRef != "" {
		data["order_ref"] = orderRef
	}
	// The event id is the code, so the conversion is stored once.
	res, err := rec.Record(ctx, store.Response{EventID: "coupon:" + coupon.Code, CustomerID: coupon.CustomerID,
		CampaignID: coupon.CampaignID, OfferID: coupon.OfferID, Channel: channel, Type: campaign.Converted, Data: data})
	return Redemption{Coupon: coupon, Conversion: res}, err
}
