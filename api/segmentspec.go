package api

import (
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/omni-orchestrator/omni/auth"
	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/responses"
	"github.com/omni-orchestrator/omni/segmentspec"
	"github.com/omni-orchestrator/omni/store"
)

// What became of a Segment call besides an event's statuses.
const (
	segmentIgnored   = "ignored"   // a call omni does not act on, or an anonymous one
	segmentInvalid   = "invalid"   // its problems say why
	segmentForbidden = "forbidden" // an identify, from a key without customers:write
)

// SegmentAnswer is what one Segment call did.
type SegmentAnswer struct {
	Type string `json:"type"`
	EventAnswer
	// Reason says why a call was ignored or refused.
	Reason string `json:"reason,omitempty"`
}

// SegmentResults is what a Segment batch did, call by call.
type SegmentResults struct {
	Results    []SegmentAnswer `json:"results"`
	Accepted   int             `json:"accepted"`
	Duplicates int             `json:"duplicates"`
	Ignored    int             `json:"ignored"`
	Failed     int             `json:"failed"`
}

// postSegment takes the Segment Spec: one identify or track call, or a
// batch of them. Identify calls are applied first, in one transaction, so
// a batch's track calls find the customers it identifies; track calls are
// then recorded as events (messageId is the event id, so Segment's
// retries change nothing). Calls omni does not act on, and anonymous ones,
// are answered as ignored, never dropped without a word.
func (s *Server) postSegment(c echo.Context) error {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err
	}
	messages, single, err := segmentspec.Parse(body)
	if err != nil {
		return invalid("invalid_request", "the body is not a Segment call or batch",
			campaign.Problem{Message: err.Error()})
	}
	if len(messages) == 0 {
		return invalid("invalid_request", "the batch holds no calls")
	}
	mayIdentify := auth.Grants(keyOf(c), auth.CustomersWrite)
	answers := make([]SegmentAnswer, len(messages))
	var patches []store.CustomerPatch
	var identified []int
	var events []store.Event
	var tracked []int
	now := time.Now().UTC()
	for i, m := range messages {
		path := ""
		if !single {
			path = campaign.Index("batch", i)
		}
		a := &answers[i]
		a.Type, a.EventID = m.Type, m.MessageID
		if m.UserID == "" && (m.Type == segmentspec.Identify || m.Type == segmentspec.Track) {
			a.Status, a.Reason = segmentIgnored, "an anonymous call (no userId): omni knows customers by id"
			continue
		}
		switch m.Type {
		case segmentspec.Identify:
			if !mayIdentify {
				a.Status, a.Reason = segmentForbidden, fmt.Sprintf("identify changes customers, which needs the scope %s", auth.CustomersWrite)
				continue
			}
			p := m.Patch()
			if ps := validateCustomer(path, p); len(ps) > 0 {
				a.Status, a.Problems = segmentInvalid, renamePaths(ps, path)
				continue
			}
			patches, identified = append(patches, p), append(identified, i)
		case segmentspec.Track:
			r := eventRequest{EventID: m.MessageID, CustomerID: string(m.UserID), Name: m.Event,
				OccurredAt: m.When(), Properties: m.Properties}
			if ps := r.validate(path); len(ps) > 0 {
				a.Status, a.Problems = segmentInvalid, renamePaths(ps, path)
				continue
			}
			events, tracked = append(events, r.event(now)), append(tracked, i)
		case "page", "screen", "group", "alias":
			a.Status, a.Reason = segmentIgnored, "omni acts on identify and track calls"
		default:
			a.Status, a.Problems = segmentInvalid, campaign.Problems{{Path: campaign.Join(path, "type"),
				Message: "one of identify, track, page, screen, group, alias"}}
		}
	}
	if len(patches) > 0 {
		if _, err := s.saveCustomers(c, patches); err != nil {
			return err
		}
		for _, i := range identified {
			answers[i].Status = responses.EventAccepted
		}
	}
	for start := 0; start < len(events); start += MaxEventsPerCall {
		end := min(start+MaxEventsPerCall, len(events))
		results, err := s.Responses.RecordEvents(c.Request().Context(), events[start:end])
		if err != nil {
			return err
		}
		for k, r := range results {
			answers[tracked[start+k]].EventResult = r
		}
	}
	if single {
		return segmentAnswer(c, messages[0], answers[0])
	}
	out := SegmentResults{Results: answers}
	for _, a := range answers {
		switch a.Status {
		case responses.EventAccepted:
			out.Accepted++
		case responses.EventDuplicate:
			out.Duplicates++
		case segmentIgnored:
			out.Ignored++
		default:
			out.Failed++
		}
	}
	return c.JSON(http.StatusOK, out)
}

// renamePaths names the Segment fields behind the problems of the
// customer or event a call became: userId, not id; traits.email, not
// email.
func renamePaths(ps campaign.Problems, path string) campaign.Problems {
	names := map[string]string{
		"id": "userId", "customer_id": "userId", "event_id": "messageId", "name": "event",
		"email": "traits.email", "phone": "traits.phone", "timezone": "context.timezone",
		"preferred_channel": "traits.preferred_channel", "push_token": "traits.push_token",
	}
	for i, p := range ps {
		for ours, theirs := range names {
			if p.Path == campaign.Join(path, ours) {
				ps[i].Path = campaign.Join(path, theirs)
			}
		}
	}
	return ps
}

// segmentAnswer answers a single call with its own status: Segment and
// RudderStack retry 5xx and 429 and drop other 4xx, which is what each of
// these means.
func segmentAnswer(c echo.Context, m segmentspec.Message, a SegmentAnswer) error {
	switch a.Status {
	case responses.EventAccepted:
		if a.Type == segmentspec.Track {
			return c.JSON(http.StatusCreated, a)
		}
		return c.JSON(http.StatusOK, a)
	case responses.EventDuplicate, segmentIgnored:
		return c.JSON(http.StatusOK, a)
	case responses.EventUnknownCustomer:
		return notFound("no customer %q; identify them first: the event was not stored", m.UserID)
	case segmentForbidden:
		return &Error{Status: http.StatusForbidden, Code: "forbidden", Message: a.Reason}
	case segmentInvalid:
		return invalid("invalid_call", "the call is not valid; nothing was stored", a.Problems...)
	default:
		return unavailable("the event is stored, but %s; send it again with the same messageId", a.Error)
	}
}
