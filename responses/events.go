package responses

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"go.temporal.io/api/serviceerror"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/enroll"
	"github.com/omni-orchestrator/omni/journey"
	"github.com/omni-orchestrator/omni/store"
)

// What became of an event.
const (
	EventAccepted        = "accepted"         // stored and routed
	EventDuplicate       = "duplicate"        // stored before; routed now if it was not
	EventUnknownCustomer = "unknown_customer" // not stored
	EventNotRouted       = "not_routed"       // stored, but a campaign or journey could not be reached: post it again
)

// EventResult is what recording one event did.
type EventResult struct {
	EventID string `json:"event_id"`
	Status  string `json:"status"`
	// Enrolled are the journeys the event entered; Journeys those it
	// reached that wait for it or exit on it.
	Enrolled []string `json:"enrolled,omitempty"`
	Journeys []string `json:"journeys,omitempty"`
	Error    string   `json:"error,omitempty"`
}

// RecordEvents stores customers' events once per event id, in one
// statement, then routes each new one (and each stored before that could
// not be routed): it enrolls the customer in the active campaigns the
// event triggers, by their entry rules, and signals the customer's
// journeys that wait for it or exit on it. Routing reads the journeys and
// campaigns tables, never Temporal. The results are in the events' order.
func (rec *Recorder) RecordEvents(ctx context.Context, events []store.Event) ([]EventResult, error) {
	stored, fresh, known, err := rec.Store.RecordEvents(ctx, events)
	if err != nil {
		return nil, err
	}
	results := make([]EventResult, len(events))
	var names []string
	for i, e := range stored {
		results[i].EventID = e.EventID
		switch {
		case !known[i]:
			results[i].Status = EventUnknownCustomer
		case fresh[i]:
			results[i].Status = EventAccepted
		default:
			results[i].Status = EventDuplicate
		}
		if known[i] && !slices.Contains(names, e.Name) {
			names = append(names, e.Name)
		}
	}
	triggered, err := rec.Store.TriggeredBy(ctx, names)
	if err != nil {
		return nil, err
	}
	var routed []string
	for i, e := range stored {
		if !known[i] || e.RoutedAt != nil || !fresh[i] && slices.Contains(routed, e.EventID) {
			continue
		}
		if err := rec.route(ctx, e, triggered, &results[i]); err != nil {
			if !unavailable(err) {
				return nil, err
			}
			results[i].Status, results[i].Error = EventNotRouted, err.Error()
			continue
		}
		routed = append(routed, e.EventID)
	}
	if len(routed) > 0 {
		if err := rec.Store.MarkEventsRouted(ctx, routed); err != nil {
			return nil, err
		}
	}
	// Segments testing these events see them now; repeats re-evaluate
	// too, so posting an event again mends a re-evaluation that failed.
	var customers []string
	for i, e := range stored {
		if known[i] {
			customers = append(customers, e.CustomerID)
		}
	}
	var dispatch *enroll.DispatchError
	if _, err := rec.Enroller.RefreshSegments(ctx, customers, store.Affects{Events: names}); err != nil && !errors.As(err, &dispatch) {
		return nil, err
	}
	return results, nil
}

// route brings one stored event to the campaigns it triggers and the
// journeys that listen for it.
func (rec *Recorder) route(ctx context.Context, e store.Event, triggered []store.Campaign, res *EventResult) error {
	ev := journey.Event{EventID: e.EventID, Name: e.Name, Properties: e.Properties, OccurredAt: e.OccurredAt}
	var customer *store.Customer
	for _, c := range triggered {
		t := c.Definition.Trigger
		if t.Event != e.Name {
			continue
		}
		if t.Where != nil {
			f, err := rec.facts(ctx, e.CustomerID, &customer, t.Where.NeedsFacts())
			if err != nil {
				return err
			}
			f.Event = e.Properties
			if !t.Where.Eval(f, nil) {
				continue
			}
		}
		if customer == nil {
			cu, err := rec.Store.Customer(ctx, e.CustomerID)
			if err != nil {
				return err
			}
			customer = &cu
		}
		en, err := rec.Enroller.Trigger(ctx, c, store.CustomerRef{ID: customer.ID, Timezone: customer.Timezone}, ev)
		if err != nil {
			return err
		}
		if en.Started {
			res.Enrolled = append(res.Enrolled, en.WorkflowID)
		}
	}
	ids, err := rec.Store.ListeningJourneys(ctx, e.CustomerID, e.Name)
	if err != nil {
		return err
	}
	for _, id := range ids {
		err := rec.Temporal.SignalWorkflow(ctx, id, "", journey.EventSignal, ev)
		var gone *serviceerror.NotFound
		switch {
		case errors.As(err, &gone): // the journey ended meanwhile
		case err != nil:
			return &SignalError{JourneyID: id, Err: err}
		default:
			res.Journeys = append(res.Journeys, id)
		}
	}
	return nil
}

// unavailable says routing failed for want of Temporal or the database:
// the event is stored, and routing it again later succeeds.
func unavailable(err error) bool {
	var signal *SignalError
	var down *serviceerror.Unavailable
	return errors.As(err, &signal) || errors.As(err, &down) || store.Unavailable(err)
}

// facts are what a trigger's condition sees of the customer, read once per
// event and only when the condition needs them.
func (rec *Recorder) facts(ctx context.Context, customerID string, customer **store.Customer, need bool) (campaign.Facts, error) {
	if !need {
		return campaign.Facts{}, nil
	}
	if *customer == nil {
		c, err := rec.Store.Customer(ctx, customerID)
		if err != nil {
			return campaign.Facts{}, fmt.Errorf("customer %s: %w", customerID, err)
		}
		*customer = &c
	}
	return (*customer).Facts(), nil
}
