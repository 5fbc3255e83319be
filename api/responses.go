package api

import (
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.temporal.io/api/serviceerror"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/store"
	"github.com/omni-orchestrator/omni/workflows"
)

var channelName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

type responseRequest struct {
	EventID    string         `json:"event_id"`
	CustomerID string         `json:"customer_id"`
	CampaignID string         `json:"campaign_id,omitempty"`
	OfferID    string         `json:"offer_id,omitempty"`
	Channel    string         `json:"channel"`
	Type       string         `json:"type"`
	OccurredAt *time.Time     `json:"occurred_at,omitempty"`
	Data       map[string]any `json:"data,omitempty"`
}

func (r responseRequest) validate() campaign.Problems {
	var ps campaign.Problems
	add := func(path, msg string) { ps = append(ps, campaign.Problem{Path: path, Message: msg}) }
	if strings.TrimSpace(r.EventID) == "" || len(r.EventID) > 200 {
		add("event_id", "required, at most 200 characters")
	}
	if r.CustomerID == "" {
		add("customer_id", "required")
	}
	if !channelName.MatchString(r.Channel) {
		add("channel", "required: a lower-case name such as email, sms, push, app, shop or contact_center")
	}
	if !slices.Contains(campaign.ResponseTypes, r.Type) {
		add("type", "one of "+strings.Join(campaign.ResponseTypes, ", "))
	}
	return ps
}

// postResponse stores a response once per event_id and signals the
// customer's active journeys (only the campaign's, when campaign_id is
// given). A repeated event_id answers 200 with the stored response and
// signals again: journeys count each event once, and a retry after a failed
// signal must not lose it.
func (s *Server) postResponse(c echo.Context) error {
	var req responseRequest
	if err := readJSON(c, &req); err != nil {
		return err
	}
	if ps := req.validate(); len(ps) > 0 {
		return invalid("invalid_response", "the response is not valid; nothing was stored", ps...)
	}
	ctx := c.Request().Context()
	if _, err := s.customer(ctx, req.CustomerID); err != nil {
		return err
	}
	if req.CampaignID != "" {
		if _, err := s.campaign(ctx, req.CampaignID); err != nil {
			return err
		}
	}
	occurred := time.Now().UTC()
	if req.OccurredAt != nil {
		occurred = *req.OccurredAt
	}
	stored, duplicate, err := s.Store.InsertResponse(ctx, store.Response{
		EventID: req.EventID, CustomerID: req.CustomerID, CampaignID: req.CampaignID, OfferID: req.OfferID,
		Channel: req.Channel, Type: req.Type, OccurredAt: occurred, Data: req.Data,
	})
	if err != nil {
		return err
	}
	if !duplicate {
		// The read model shows conversions at once, without asking journeys.
		if err := s.Store.MarkConverted(ctx, stored.CustomerID, stored.CampaignID, stored.Type, stored.OccurredAt); err != nil {
			return err
		}
	}
	ids, err := s.Store.ActiveJourneyIDs(ctx, stored.CustomerID, stored.CampaignID)
	if err != nil {
		return err
	}
	signal := workflows.Response{EventID: stored.EventID, Type: stored.Type, Channel: stored.Channel, OccurredAt: stored.OccurredAt}
	signalled := []string{}
	for _, id := range ids {
		err := s.Temporal.SignalWorkflow(ctx, id, "", workflows.ResponseSignal, signal)
		var gone *serviceerror.NotFound
		switch {
		case errors.As(err, &gone): // the journey ended meanwhile
		case err != nil:
			return unavailable("the response is stored, but journey %s could not be told; post it again with the same event_id: %v", id, err)
		default:
			signalled = append(signalled, id)
		}
	}
	status := http.StatusCreated
	if duplicate {
		status = http.StatusOK
	}
	return c.JSON(status, map[string]any{"response": stored, "duplicate": duplicate, "journeys": signalled})
}
