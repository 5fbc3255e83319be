package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/responses"
	"github.com/omni-orchestrator/omni/store"
)

// MaxEventsPerCall bounds a batch of events.
const MaxEventsPerCall = 1000

// MaxEventPropertiesBytes bounds an event's properties, serialized: they
// travel to the journeys that wait for the event, and into the journeys it
// enters.
const MaxEventPropertiesBytes = 16 << 10

type eventRequest struct {
	EventID    string         `json:"event_id"`
	CustomerID string         `json:"customer_id"`
	Name       string         `json:"name"`
	OccurredAt *time.Time     `json:"occurred_at,omitempty"`
	Properties map[string]any `json:"properties,omitempty"`
}

func (r eventRequest) validate(path string) campaign.Problems {
	var ps campaign.Problems
	campaign.EventID.Check(&ps, campaign.Join(path, "event_id"), r.EventID)
	campaign.CustomerID.Check(&ps, campaign.Join(path, "customer_id"), r.CustomerID)
	campaign.EventName.Check(&ps, campaign.Join(path, "name"), r.Name)
	if r.Properties != nil {
		if b, err := json.Marshal(r.Properties); err != nil || len(b) > MaxEventPropertiesBytes {
			ps = append(ps, campaign.Problem{Path: campaign.Join(path, "properties"),
				Message: fmt.Sprintf("at most %d KiB serialized", MaxEventPropertiesBytes>>10)})
		}
	}
	return ps
}

func (r eventRequest) event(now time.Time) store.Event {
	e := store.Event{EventID: r.EventID, CustomerID: r.CustomerID, Name: r.Name, OccurredAt: now, Properties: r.Properties}
	if r.OccurredAt != nil {
		e.OccurredAt = *r.OccurredAt
	}
	return e
}

// EventsAnswer is what a batch of events did, event by event.
type EventsAnswer struct {
	Results    []EventAnswer `json:"results"`
	Accepted   int           `json:"accepted"`
	Duplicates int           `json:"duplicates"`
	Failed     int           `json:"failed"`
}

// EventAnswer is one event's result; an invalid event has its problems.
type EventAnswer struct {
	responses.EventResult
	Problems campaign.Problems `json:"problems,omitempty"`
}

// postEvents records customers' events: one object, answered with its
// own status (201 stored, 200 a repeat, 404 an unknown customer), or an
// array of up to MaxEventsPerCall, answered 200 with a result per event:
// the good ones are stored, the bad ones say why, none is dropped
// silently.
func (s *Server) postEvents(c echo.Context) error {
	var raw json.RawMessage
	if err := readJSON(c, &raw); err != nil {
		return err
	}
	single := !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("["))
	var reqs []eventRequest
	if single {
		var one eventRequest
		if p := campaign.DecodeStrict(raw, &one); p != nil {
			return invalid("invalid_request", "the body is not an event or an array of events", *p)
		}
		reqs = []eventRequest{one}
	} else if p := campaign.DecodeStrict(raw, &reqs); p != nil {
		return invalid("invalid_request", "the body is not an event or an array of events", *p)
	}
	switch {
	case len(reqs) == 0:
		return invalid("invalid_request", "no events", campaign.Problem{Message: "send an event or an array of 1 to 1000"})
	case len(reqs) > MaxEventsPerCall:
		return invalid("invalid_request", "too many events", campaign.Problem{Message: fmt.Sprintf("at most %d events a call; send the rest in another", MaxEventsPerCall)})
	}
	answers := make([]EventAnswer, len(reqs))
	var valid []store.Event
	var at []int // valid[k] is reqs[at[k]]
	now := time.Now().UTC()
	for i, r := range reqs {
		path := ""
		if !single {
			path = campaign.Index("", i)
		}
		if ps := r.validate(path); len(ps) > 0 {
			if single {
				return invalid("invalid_event", "the event is not valid; nothing was stored", ps...)
			}
			answers[i] = EventAnswer{EventResult: responses.EventResult{EventID: r.EventID, Status: "invalid"}, Problems: ps}
			continue
		}
		valid, at = append(valid, r.event(now)), append(at, i)
	}
	if len(valid) > 0 {
		results, err := s.Responses.RecordEvents(c.Request().Context(), valid)
		if err != nil {
			return err
		}
		for k, r := range results {
			answers[at[k]].EventResult = r
		}
	}
	if single {
		switch a := answers[0]; a.Status {
		case responses.EventAccepted:
			return c.JSON(http.StatusCreated, a)
		case responses.EventDuplicate:
			return c.JSON(http.StatusOK, a)
		case responses.EventUnknownCustomer:
			return notFound("no customer %q; the event was not stored", reqs[0].CustomerID)
		default:
			return unavailable("the event is stored, but %s; post it again with the same event_id", a.Error)
		}
	}
	out := EventsAnswer{Results: answers}
	for _, a := range answers {
		switch a.Status {
		case responses.EventAccepted:
			out.Accepted++
		case responses.EventDuplicate:
			out.Duplicates++
		default:
			out.Failed++
		}
	}
	return c.JSON(http.StatusOK, out)
}
