package responses

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/api/serviceerror"
	"golang.org/x/sync/errgroup"

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
	// What routing needs is read before storing, once for the batch: the
	// campaigns the events' names trigger, the journeys listening for
	// them, and (when a campaign is triggered) the customers. An event
	// that enters no campaign and reaches no journey is stored as routed,
	// so only the few that route are written twice.
	var names, who []string
	seen := map[string]bool{}
	for _, e := range events {
		if !slices.Contains(names, e.Name) {
			names = append(names, e.Name)
		}
		if !seen[e.CustomerID] {
			seen[e.CustomerID] = true
			who = append(who, e.CustomerID)
		}
	}
	triggered, err := rec.Store.TriggeredBy(ctx, names)
	if err != nil {
		return nil, err
	}
	b := batch{triggered: triggered, customers: map[string]store.Customer{}}
	if b.listeners, err = rec.Store.Listeners(ctx, who, names); err != nil {
		return nil, err
	}
	if len(triggered) > 0 {
		cs, err := rec.Store.CustomersIn(ctx, who)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			b.customers[c.ID] = c
		}
	}
	now := time.Now()
	planned := make([]store.Event, len(events))
	awaited := map[string][]string{} // by customer, the events that journeys entered by the batch listen for
	for i, e := range events {
		planned[i] = e
		entering := b.entering(e)
		for _, c := range entering {
			awaited[e.CustomerID] = append(awaited[e.CustomerID], c.Definition.Listens()...)
		}
		if len(entering) == 0 && len(b.listeners[e.CustomerID][e.Name]) == 0 && !slices.Contains(awaited[e.CustomerID], e.Name) {
			planned[i].RoutedAt = &now
		}
	}
	stored, fresh, known, err := rec.Store.RecordEvents(ctx, planned)
	if err != nil {
		return nil, err
	}
	results := make([]EventResult, len(events))
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
	}
	// The events to route, by customer in the batch's order.
	var routing []string
	byCustomer := map[string][]int{}
	for i, e := range stored {
		if known[i] && e.RoutedAt == nil {
			if byCustomer[e.CustomerID] == nil {
				routing = append(routing, e.CustomerID)
			}
			byCustomer[e.CustomerID] = append(byCustomer[e.CustomerID], i)
		}
	}
	// Each customer routed gets a map of listeners of its own, so that
	// routing side by side writes only its customer's; customers created
	// after the batch read them are read now.
	var late []string
	for _, id := range routing {
		if b.listeners[id] == nil {
			b.listeners[id] = map[string][]string{}
		}
		if _, ok := b.customers[id]; !ok && len(triggered) > 0 {
			late = append(late, id)
		}
	}
	if len(late) > 0 {
		cs, err := rec.Store.CustomersIn(ctx, late)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			b.customers[c.ID] = c
		}
	}
	// Customers are routed side by side, each customer's events one after
	// another, in order: an enrolment and a signal are round trips to
	// Temporal, and a customer's entry rules depend on their earlier
	// entries.
	routedBy := make([][]string, len(routing))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(routeConcurrency)
	for k, id := range routing {
		g.Go(func() error {
			for _, i := range byCustomer[id] {
				e := stored[i]
				if !fresh[i] && slices.Contains(routedBy[k], e.EventID) {
					continue // a repeat, in this batch, of an event routed just now
				}
				if err := rec.route(gctx, e, b, &results[i]); err != nil {
					if !unavailable(err) {
						return err
					}
					results[i].Status, results[i].Error = EventNotRouted, err.Error()
					continue
				}
				routedBy[k] = append(routedBy[k], e.EventID)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if routed := slices.Concat(routedBy...); len(routed) > 0 {
		if err := rec.Store.MarkEventsRouted(ctx, routed); err != nil {
			return nil, err
		}
	}
	if err := rec.refreshSegments(ctx, stored, known, names); err != nil {
		return nil, err
	}
	return results, nil
}

// entering are the campaigns an event may enter, as the batch found them
// before storing it: their trigger names it and its condition holds. A
// customer the batch does not know (none such, or deleted) may enter
// all, so that storing decides.
func (b batch) entering(e store.Event) []store.Campaign {
	var out []store.Campaign
	for _, c := range b.triggered {
		t := c.Definition.Trigger
		if t.Event != e.Name {
			continue
		}
		if customer, ok := b.customers[e.CustomerID]; ok && t.Where != nil {
			f := customer.Facts()
			f.Event = e.Properties
			if !t.Where.Eval(f, nil) {
				continue
			}
		}
		out = append(out, c)
	}
	return out
}

// refreshSegments re-evaluates the events' customers in the segments that
// test their names. Repeats re-evaluate too, so posting an event again
// mends a re-evaluation that failed; triggers that could not be entered
// are left to the segment runner.
func (rec *Recorder) refreshSegments(ctx context.Context, stored []store.Event, known []bool, names []string) error {
	var customers []string
	for i, e := range stored {
		if known[i] {
			customers = append(customers, e.CustomerID)
		}
	}
	var dispatch *enroll.DispatchError
	if err := rec.Enroller.RefreshSegments(ctx, customers, store.Affects{Events: names}); err != nil && !errors.As(err, &dispatch) {
		return err
	}
	return nil
}

// routeConcurrency is how many customers' events a batch routes at once.
const routeConcurrency = 16

// batch is what routing a batch of events reads once: the campaigns
// their names trigger, their customers (when a campaign is triggered) and
// the journeys that listen for them.
type batch struct {
	triggered []store.Campaign
	customers map[string]store.Customer
	listeners map[string]map[string][]string
}

// route brings one stored event to the campaigns it triggers and the
// journeys that listen for it.
func (rec *Recorder) route(ctx context.Context, e store.Event, b batch, res *EventResult) error {
	ev := journey.Event{EventID: e.EventID, Name: e.Name, Properties: e.Properties, OccurredAt: e.OccurredAt}
	for _, c := range b.entering(e) {
		customer, ok := b.customers[e.CustomerID]
		if !ok { // deleted since the event was stored
			return fmt.Errorf("customer %s: %w", e.CustomerID, store.ErrNotFound)
		}
		en, err := rec.Enroller.Trigger(ctx, c, store.CustomerRef{ID: customer.ID, Timezone: customer.Timezone}, ev)
		if err != nil {
			return err
		}
		if en.Started {
			res.Enrolled = append(res.Enrolled, en.WorkflowID)
			// The batch's later events reach the new journey too: an
			// order placed right after its cart was abandoned ends it.
			for _, n := range c.Definition.Listens() {
				b.listeners[e.CustomerID][n] = append(b.listeners[e.CustomerID][n], en.WorkflowID)
			}
		}
	}
	for _, id := range b.listeners[e.CustomerID][e.Name] {
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
