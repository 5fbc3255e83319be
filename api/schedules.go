package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/enroll"
	"github.com/omni-orchestrator/omni/store"
)

// checkWhen checks when and how a launch delivers: its timing (nil: now)
// and its delivery. `at` alone is PRODUCT.md's short form of
// `schedule.at`.
func checkWhen(req launchRequest, now time.Time) (*store.Timing, store.Delivery, error) {
	var ps campaign.Problems
	add := func(path, msg string) { ps = append(ps, campaign.Problem{Path: path, Message: msg}) }
	d := store.Delivery{LocalTime: req.LocalTime}
	if req.LocalTime != "" {
		if _, _, err := campaign.ParseClock(req.LocalTime); err != nil {
			add("local_time", err.Error())
		}
	}
	if r := req.RatePerMinute; r != nil {
		if *r <= 0 {
			add("rate_per_minute", "enrolments a minute: at least 1")
		}
		d.RatePerMinute = *r
	}
	t, atPath := req.Schedule, "schedule.at"
	switch {
	case req.At != nil && t != nil && t.At != nil:
		add("at", "give the time once: at or schedule.at")
	case req.At != nil && t == nil:
		t, atPath = &store.Timing{At: req.At}, "at"
	case req.At != nil:
		t.At, atPath = req.At, "at"
	}
	if t != nil {
		checkTiming(add, *t, atPath, now)
	}
	if len(ps) > 0 {
		return nil, d, invalid("invalid_request", "the launch's schedule or delivery is not valid; nothing was launched", ps...)
	}
	return t, d, nil
}

// checkTiming checks a schedule's timing; the time is at atPath.
func checkTiming(add func(path, msg string), t store.Timing, atPath string, now time.Time) {
	switch {
	case t.Cron != "" && t.Every != "":
		add("schedule", "give cron or every, not both")
	case !t.Recurring() && t.At == nil:
		add("schedule", `say when: "at" (once), or "cron" or "every" (recurring)`)
	}
	if t.Every != "" {
		if every, err := campaign.ParseDuration(t.Every); err != nil || every < time.Second {
			add("schedule.every", `an interval of at least a second, such as "30m", "24h" or "1w"`)
		}
	}
	if t.Timezone != "" {
		if t.Cron == "" {
			add("schedule.timezone", "the time zone is the cron expression's; at, until and every are absolute")
		} else if _, err := time.LoadLocation(t.Timezone); err != nil {
			add("schedule.timezone", "not an IANA time zone such as Europe/Berlin")
		}
	}
	if t.At != nil && !t.At.After(now) {
		add(atPath, "in the past")
	}
	if t.Until != nil {
		switch {
		case !t.Recurring():
			add("schedule.until", "until ends a recurring schedule (cron or every)")
		case t.At != nil && !t.Until.After(*t.At):
			add("schedule.until", "before at")
		case !t.Until.After(now):
			add("schedule.until", "in the past")
		}
	}
}

// scheduleLaunch records a schedule of launches of the campaign: 201 with
// the schedule and its next runs.
func (s *Server) scheduleLaunch(c echo.Context, stored store.Campaign, a store.Audience, t store.Timing, d store.Delivery) error {
	v, err := s.Enroller.Schedule(c.Request().Context(), stored, a, t, d)
	var refused *enroll.SpecError
	switch {
	case errors.As(err, &refused):
		path := "schedule"
		if t.Cron != "" {
			path = "schedule.cron"
		}
		return invalid("invalid_request", "Temporal does not take the schedule; nothing was scheduled", campaign.Problem{Path: path, Message: refused.Error()})
	case err != nil:
		return unavailable("could not schedule the launch; nothing was scheduled: %v", err)
	}
	auditTargets(c, v.ID)
	return c.JSON(http.StatusCreated, v)
}

// getSchedules lists the campaign's schedules with their state and next
// runs (from Temporal) and their latest runs.
func (s *Server) getSchedules(c echo.Context) error {
	stored, err := s.campaign(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	vs, err := s.Enroller.Schedules(c.Request().Context(), stored.ID)
	if err != nil {
		return unavailable("could not read the schedules: %v", err)
	}
	return c.JSON(http.StatusOK, map[string]any{"schedules": vs})
}

// deleteSchedule deletes one of the campaign's schedules: no more runs;
// a run under way finishes.
func (s *Server) deleteSchedule(c echo.Context) error {
	id, sid := c.Param("id"), c.Param("schedule_id")
	auditTargets(c, sid)
	err := s.Enroller.Unschedule(c.Request().Context(), id, sid)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("campaign %q has no schedule %q", id, sid)
	case err != nil:
		return unavailable("could not delete the schedule: %v", err)
	}
	return c.NoContent(http.StatusNoContent)
}
