package api

import (
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/responses"
	"github.com/omni-orchestrator/omni/store"
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
	campaign.EventID.Check(&ps, "event_id", r.EventID)
	campaign.CustomerID.Check(&ps, "customer_id", r.CustomerID)
	if r.CampaignID != "" {
		campaign.CampaignID.Check(&ps, "campaign_id", r.CampaignID)
	}
	if r.OfferID != "" {
		campaign.OfferID.Check(&ps, "offer_id", r.OfferID)
	}
	if !channelName.MatchString(r.Channel) {
		add("channel", "required: a lower-case name such as email, sms, push, app, shop or contact_center")
	}
	if !slices.Contains(campaign.ResponseTypes, r.Type) {
		add("type", "one of "+strings.Join(campaign.ResponseTypes, ", "))
	}
	return ps
}

// postResponse records a response: stored once per event_id, applied, and
// signalled to the journeys it concerns (see package responses).
func (s *Server) postResponse(c echo.Context) error {
	var req responseRequest
	if err := readJSON(c, &req); err != nil {
		return err
	}
	if ps := req.validate(); len(ps) > 0 {
		return invalid("invalid_response", "the response is not valid; nothing was stored", ps...)
	}
	auditTargets(c, "customer:"+req.CustomerID)
	if req.CampaignID != "" {
		auditTargets(c, "campaign:"+req.CampaignID)
	}
	r := store.Response{
		EventID: req.EventID, CustomerID: req.CustomerID, CampaignID: req.CampaignID, OfferID: req.OfferID,
		Channel: req.Channel, Type: req.Type, Data: req.Data,
	}
	if req.OccurredAt != nil {
		r.OccurredAt = *req.OccurredAt
	}
	res, err := s.Responses.Record(c.Request().Context(), r)
	var signalErr *responses.SignalError
	switch {
	case errors.Is(err, responses.ErrUnknownCustomer), errors.Is(err, responses.ErrUnknownCampaign):
		return notFound("%v", err)
	case errors.Is(err, responses.ErrNotInCampaign):
		return unprocessable("not_in_campaign", "%v; nothing was stored", err)
	case errors.Is(err, responses.ErrNotOffered):
		return unprocessable("not_offered", "%v; nothing was stored", err)
	case errors.As(err, &signalErr):
		return unavailable("the response is stored, but %v; post it again with the same event_id", err)
	case err != nil:
		return err
	}
	status := http.StatusCreated
	if res.Duplicate {
		status = http.StatusOK
	}
	return c.JSON(status, res)
}
