package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/control"
	"github.com/omni-orchestrator/omni/enroll"
	"github.com/omni-orchestrator/omni/message"
	"github.com/omni-orchestrator/omni/store"
)

// maxListedAudience bounds a launch's customer_ids list.
const maxListedAudience = 100_000

func (s *Server) createCampaign(c echo.Context) error {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err
	}
	def, problems := campaign.Parse(body)
	if def != nil {
		problems = s.LinkSchemes.Check(def)
	}
	if len(problems) == 0 && def.Trigger != nil && def.Trigger.Segment != "" {
		p, err := s.segmentProblem(c.Request().Context(), "trigger.segment", def.Trigger.Segment)
		if err != nil {
			return err
		}
		if p != nil {
			problems = append(problems, *p)
		}
	}
	if len(problems) > 0 {
		return invalid("invalid_campaign", "the campaign definition is not valid; nothing was saved", problems...)
	}
	auditTargets(c, "campaign:"+def.ID)
	if c.QueryParam("dry_run") == "true" {
		return c.JSON(http.StatusOK, map[string]any{"valid": true, "definition": def})
	}
	stored, err := s.Store.CreateCampaign(c.Request().Context(), def)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, stored)
}

// CampaignView is a campaign's latest version with what is happening in it.
type CampaignView struct {
	store.Campaign
	Journeys map[string]int  `json:"journeys"`
	Launches []store.Launch  `json:"launches"`
	Controls []store.Control `json:"controls"`
}

func (s *Server) campaign(ctx context.Context, id string) (store.Campaign, error) {
	stored, err := s.Store.Campaign(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return stored, notFound("no campaign %q", id)
	}
	return stored, err
}

// campaignVersion is the version the query parameter `version` names, or
// the latest.
func (s *Server) campaignVersion(c echo.Context) (store.Campaign, error) {
	ctx, id, v := c.Request().Context(), c.Param("id"), c.QueryParam("version")
	if v == "" {
		return s.campaign(ctx, id)
	}
	version, err := strconv.Atoi(v)
	if err != nil || version < 1 {
		return store.Campaign{}, invalid("invalid_request", "version must be a positive number", campaign.Problem{Path: "version", Message: "not a version number"})
	}
	stored, err := s.Store.CampaignVersion(ctx, id, version)
	if errors.Is(err, store.ErrNotFound) {
		return stored, notFound("no campaign %q with version %d", id, version)
	}
	return stored, err
}

func (s *Server) getCampaign(c echo.Context) error {
	stored, err := s.campaignVersion(c)
	if err != nil {
		return err
	}
	v := CampaignView{Campaign: stored}
	if v.Journeys, err = s.Store.JourneyCounts(c.Request().Context(), stored.ID); err != nil {
		return err
	}
	if v.Launches, err = s.Store.Launches(c.Request().Context(), stored.ID); err != nil {
		return err
	}
	if v.Controls, err = s.Store.Controls(c.Request().Context(), stored.ID); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

// controlCampaign pauses, resumes or cancels a campaign: it records the
// new status at once (new enrolments follow it) and answers 202; a
// workflow carries the control to every running journey, and its progress
// shows in GET /v1/campaigns/{id}.
func (s *Server) controlCampaign(action string) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Param("id")
		ctl, err := control.Start(c.Request().Context(), s.Store, s.Temporal, s.Enroller.TaskQueue, id, action)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return notFound("no campaign %q", id)
		case errors.Is(err, store.ErrWrongStatus):
			status, _ := s.Store.CampaignStatus(c.Request().Context(), id)
			return &Error{Status: http.StatusConflict, Code: "wrong_status",
				Message: fmt.Sprintf("campaign %q is %s; it cannot %s", id, status, action)}
		case err != nil:
			return unavailable("the %s is recorded but could not start; it will not reach running journeys: %v", action, err)
		}
		return c.JSON(http.StatusAccepted, ctl)
	}
}

// errCancelled answers enrolments and launches of a cancelled campaign.
func errCancelled(id string) *Error {
	return &Error{Status: http.StatusConflict, Code: "campaign_cancelled", Message: fmt.Sprintf("campaign %q is cancelled", id)}
}

type launchRequest struct {
	Audience *store.Audience `json:"audience"`
	// At, or Schedule, schedules the launch (see checkWhen).
	At            *time.Time    `json:"at,omitempty"`
	Schedule      *store.Timing `json:"schedule,omitempty"`
	LocalTime     string        `json:"local_time,omitempty"`
	RatePerMinute *int          `json:"rate_per_minute,omitempty"`
}

// launchCampaign starts the Launch workflow for the campaign's latest
// version and answers 202 at once; progress shows in GET /v1/campaigns/{id}.
// A launch with a time or a schedule is scheduled instead (201).
func (s *Server) launchCampaign(c echo.Context) error {
	var req launchRequest
	if err := readJSON(c, &req); err != nil {
		return err
	}
	a := req.Audience
	switch {
	case a == nil:
		return invalid("invalid_request", "say who to enroll", campaign.Problem{Path: "audience", Message: `required: {"all": true}, {"customer_ids": [...]} or {"segment": "id"}`})
	case countTrue(a.All, len(a.CustomerIDs) > 0, a.Segment != "") != 1:
		return invalid("invalid_request", "say who to enroll", campaign.Problem{Path: "audience", Message: `give exactly one of "all": true, a non-empty "customer_ids" or "segment"`})
	case len(a.CustomerIDs) > maxListedAudience:
		return invalid("invalid_request", "audience too large", campaign.Problem{Path: "audience.customer_ids", Message: "at most 100000 ids; use all, or launch in parts"})
	}
	if a.Filter != nil {
		if ps := campaign.ValidateFilter("audience.filter", *a.Filter); len(ps) > 0 {
			return invalid("invalid_request", "the audience filter is invalid", ps...)
		}
	}
	var ps campaign.Problems
	for i, id := range a.CustomerIDs {
		campaign.CustomerID.Check(&ps, campaign.Index("audience.customer_ids", i), id)
	}
	if len(ps) > 0 {
		return invalid("invalid_request", "the audience lists ids that cannot be customers'", ps...)
	}
	if a.Segment != "" {
		if err := s.checkSegment(c.Request().Context(), "audience.segment", a.Segment); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	ids := a.CustomerIDs[:0]
	for _, id := range a.CustomerIDs {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	a.CustomerIDs = ids
	timing, delivery, err := checkWhen(req, time.Now())
	if err != nil {
		return err
	}
	stored, err := s.campaign(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	if stored.Status == store.CampaignCancelled {
		return errCancelled(stored.ID)
	}
	if timing != nil {
		return s.scheduleLaunch(c, stored, *a, *timing, delivery)
	}
	l, err := s.Enroller.StartLaunch(c.Request().Context(), stored, *a, delivery)
	if err != nil {
		return unavailable("could not start the launch: %v", err)
	}
	return c.JSON(http.StatusAccepted, map[string]any{"launch_id": l.ID, "campaign_id": l.CampaignID, "version": l.Version, "status": l.Status})
}

func countTrue(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// checkSegment answers 400 at path unless the segment id names a defined
// segment.
func (s *Server) checkSegment(ctx context.Context, path, id string) error {
	var ps campaign.Problems
	if campaign.CampaignID.Check(&ps, path, id); len(ps) > 0 {
		return invalid("invalid_request", "not a segment id", ps...)
	}
	p, err := s.segmentProblem(ctx, path, id)
	if err != nil {
		return err
	}
	if p != nil {
		return invalid("invalid_request", "no such segment", *p)
	}
	return nil
}

// segmentProblem is the problem at path of naming segment id, which is
// not defined; nil if it is.
func (s *Server) segmentProblem(ctx context.Context, path, id string) (*campaign.Problem, error) {
	ok, err := s.Store.SegmentExists(ctx, id)
	if err != nil || ok {
		return nil, err
	}
	return &campaign.Problem{Path: path, Message: "no segment " + strconv.Quote(id) + "; define it with POST /v1/segments first"}, nil
}

type enrollRequest struct {
	CustomerID string         `json:"customer_id"`
	Data       map[string]any `json:"data,omitempty"`
}

// checkEnrolment checks the customer id and data of an enrolment or a
// preview of one.
func checkEnrolment(customerID string, data map[string]any) error {
	var ps campaign.Problems
	campaign.CustomerID.Check(&ps, "customer_id", customerID)
	campaign.CheckData(&ps, "data", data)
	if len(ps) > 0 {
		return invalid("invalid_request", "the enrolment is not valid", ps...)
	}
	return nil
}

// enrollCustomer starts one customer's journey now: 201 when it started,
// 200 when the customer was already enrolled.
func (s *Server) enrollCustomer(c echo.Context) error {
	var req enrollRequest
	if err := readJSON(c, &req); err != nil {
		return err
	}
	if err := checkEnrolment(req.CustomerID, req.Data); err != nil {
		return err
	}
	auditTargets(c, "customer:"+req.CustomerID)
	ctx := c.Request().Context()
	stored, err := s.campaign(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	customer, err := s.customer(ctx, req.CustomerID)
	if err != nil {
		return err
	}
	e, err := s.Enroller.Enroll(ctx, stored, store.CustomerRef{ID: customer.ID, Timezone: customer.Timezone}, req.Data)
	var refused *enroll.StartError
	switch {
	case errors.As(err, &refused):
		return &Error{Status: http.StatusUnprocessableEntity, Code: "not_started", Message: err.Error()}
	case err != nil:
		return unavailable("could not start the journey (it starts once Temporal answers, or when you enroll again): %v", err)
	}
	if e.Skipped == enroll.SkippedCancelled {
		return errCancelled(stored.ID)
	}
	if e.Skipped == enroll.SkippedSuppressed {
		return &Error{Status: http.StatusConflict, Code: "suppressed",
			Message: fmt.Sprintf("customer %q rejected offer %q lately; not enrolled", customer.ID, stored.Definition.OfferID)}
	}
	status := http.StatusOK
	if e.Started {
		status = http.StatusCreated
	}
	return c.JSON(status, e)
}

// previewCoupon stands for the coupon code a journey would issue.
const previewCoupon = "COUPON-PREVIEW"

type previewRequest struct {
	CustomerID string         `json:"customer_id"`
	Data       map[string]any `json:"data,omitempty"`
}

// PreviewMessage is what one send step would send the customer now.
type PreviewMessage struct {
	Step string `json:"step"`
	message.Composition
}

// previewCampaign renders every send step of a campaign version for one
// customer, as it would go out now, without sending anything.
func (s *Server) previewCampaign(c echo.Context) error {
	var req previewRequest
	if err := readJSON(c, &req); err != nil {
		return err
	}
	if err := checkEnrolment(req.CustomerID, req.Data); err != nil {
		return err
	}
	auditTargets(c, "customer:"+req.CustomerID)
	stored, err := s.campaignVersion(c)
	if err != nil {
		return err
	}
	customer, err := s.customer(c.Request().Context(), req.CustomerID)
	if err != nil {
		return err
	}
	messages := []PreviewMessage{}
	for _, name := range stored.Definition.StepOrder() {
		if send := stored.Definition.Steps[name].Send; send != nil {
			messages = append(messages, PreviewMessage{Step: name, Composition: message.Compose(customer, *send, message.Vars{Data: req.Data, Coupon: previewCoupon}, s.LinkSchemes)})
		}
	}
	return c.JSON(http.StatusOK, map[string]any{
		"campaign_id": stored.ID, "version": stored.Version, "customer_id": customer.ID, "messages": messages,
	})
}
