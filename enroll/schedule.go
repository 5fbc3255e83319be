package enroll

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/journey"
	"github.com/omni-orchestrator/omni/store"
)

// A schedule's states, as Temporal holds them: active (more runs to
// come), paused (in the Temporal UI or CLI), done (no more runs; Temporal
// removes a done schedule a week after its last run).
const (
	ScheduleActive = "active"
	SchedulePaused = "paused"
	ScheduleDone   = "done"
)

// A run that is due while the schedule's previous run still enrolls is
// skipped (Temporal's default overlap policy): a recurring launch never
// piles up. A run missed while Temporal was down is made up within
// catchupWindow, later it is skipped.
const catchupWindow = time.Hour

// recentRuns is how many of a schedule's latest runs it shows.
const recentRuns = 10

// ScheduleView is a schedule of launches: what it launches, from
// PostgreSQL, and its state and next runs, from Temporal; Runs are its
// latest runs' launches with their progress.
type ScheduleView struct {
	store.LaunchSchedule
	Status   string         `json:"status"`
	Note     string         `json:"note,omitempty"`
	NextRuns []time.Time    `json:"next_runs"`
	Runs     []store.Launch `json:"runs"`
}

// SpecError is a timing Temporal refuses (a cron expression it cannot
// read): nothing was scheduled.
type SpecError struct{ Err error }

func (e *SpecError) Error() string { return e.Err.Error() }

func (e *SpecError) Unwrap() error { return e.Err }

// Schedule records a schedule of launches of campaign c and creates its
// Temporal schedule, whose every run starts the Launch workflow under an
// id of its own (launch:<campaign>:schedule-<n>-<the run's time>). The
// row comes first, so that a run always finds what to launch; a schedule
// Temporal does not take is forgotten again.
func (e *Enroller) Schedule(ctx context.Context, c store.Campaign, audience store.Audience, t store.Timing, d store.Delivery) (ScheduleView, error) {
	ls, err := e.Store.CreateSchedule(ctx, store.LaunchSchedule{CampaignID: c.ID, Audience: audience, Timing: t, Delivery: d})
	if err != nil {
		return ScheduleView{}, err
	}
	_, err = e.Temporal.ScheduleClient().Create(ctx, e.scheduleOptions(ls, time.Now()))
	if err != nil {
		if rerr := e.Store.RemoveSchedule(ctx, ls.ID); rerr != nil {
			return ScheduleView{}, errors.Join(err, rerr)
		}
		var refused *serviceerror.InvalidArgument
		if errors.As(err, &refused) {
			return ScheduleView{}, &SpecError{Err: err}
		}
		return ScheduleView{}, fmt.Errorf("create schedule %s: %w", ls.ID, err)
	}
	return e.view(ctx, ls)
}

// scheduleOptions are the Temporal schedule of ls: the timing as its spec,
// the Launch workflow as its action.
func (e *Enroller) scheduleOptions(ls store.LaunchSchedule, now time.Time) client.ScheduleOptions {
	t := ls.Timing
	spec := client.ScheduleSpec{TimeZoneName: t.Timezone}
	remaining := 0
	switch {
	case t.Cron != "":
		spec.CronExpressions = []string{t.Cron}
	case t.Every != "":
		// Temporal counts intervals from the epoch: the offset makes them
		// count from at (or from one interval after now).
		every, _ := campaign.ParseDuration(t.Every)
		start := now.Add(every)
		if t.At != nil {
			start = *t.At
		}
		start = start.Truncate(time.Second)
		spec.Intervals = []client.ScheduleIntervalSpec{{Every: every, Offset: time.Duration(start.UnixNano() % int64(every))}}
		spec.StartAt = start
	default: // once, at the second of t.At
		at := t.At.UTC()
		r := func(v int) []client.ScheduleRange { return []client.ScheduleRange{{Start: v}} }
		spec.TimeZoneName = "UTC"
		spec.Calendars = []client.ScheduleCalendarSpec{{
			Year: r(at.Year()), Month: r(int(at.Month())), DayOfMonth: r(at.Day()),
			Hour: r(at.Hour()), Minute: r(at.Minute()), Second: r(at.Second()),
		}}
		remaining = 1
	}
	if t.At != nil && spec.StartAt.IsZero() {
		spec.StartAt = t.At.Truncate(time.Second)
	}
	if t.Until != nil {
		spec.EndAt = *t.Until
	}
	attrs := temporal.NewSearchAttributes(journey.CampaignIDAttr.ValueSet(ls.CampaignID))
	return client.ScheduleOptions{
		ID:   ls.ID,
		Spec: spec,
		Action: &client.ScheduleWorkflowAction{
			ID:                    fmt.Sprintf("launch:%s:schedule-%d", ls.CampaignID, ls.Seq),
			Workflow:              Launch,
			Args:                  []any{LaunchInput{CampaignID: ls.CampaignID, ScheduleID: ls.ID}},
			TaskQueue:             e.TaskQueue,
			TypedSearchAttributes: attrs,
			StaticSummary:         "scheduled launch of " + ls.CampaignID + " (" + ls.ID + ")",
		},
		Overlap:               enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		CatchupWindow:         catchupWindow,
		RemainingActions:      remaining,
		TypedSearchAttributes: attrs,
	}
}

// Schedules lists the campaign's schedules.
func (e *Enroller) Schedules(ctx context.Context, campaignID string) ([]ScheduleView, error) {
	rows, err := e.Store.Schedules(ctx, campaignID)
	if err != nil {
		return nil, err
	}
	out := make([]ScheduleView, 0, len(rows))
	for _, ls := range rows {
		v, err := e.view(ctx, ls)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// view describes the schedule ls in Temporal. One Temporal has removed
// (done a week ago) is done.
func (e *Enroller) view(ctx context.Context, ls store.LaunchSchedule) (ScheduleView, error) {
	v := ScheduleView{LaunchSchedule: ls, Status: ScheduleDone, NextRuns: []time.Time{}}
	var err error
	if v.Runs, err = e.Store.ScheduleRuns(ctx, ls.ID, recentRuns); err != nil {
		return v, err
	}
	d, err := e.Temporal.ScheduleClient().GetHandle(ctx, ls.ID).Describe(ctx)
	var gone *serviceerror.NotFound
	switch {
	case errors.As(err, &gone):
		return v, nil
	case err != nil:
		return v, fmt.Errorf("describe schedule %s: %w", ls.ID, err)
	}
	state := d.Schedule.State
	v.NextRuns = append(v.NextRuns, d.Info.NextActionTimes...)
	v.Note = state.Note
	switch {
	case state.Paused:
		v.Status = SchedulePaused
	case len(d.Info.NextActionTimes) > 0:
		v.Status = ScheduleActive
	}
	return v, nil
}

// Unschedule deletes the campaign's schedule from Temporal, then marks its
// row deleted; its runs' launches stay, and a run under way finishes.
func (e *Enroller) Unschedule(ctx context.Context, campaignID, id string) error {
	ls, err := e.Store.Schedule(ctx, id)
	if err == nil && ls.CampaignID != campaignID {
		err = store.ErrNotFound
	}
	if err != nil {
		return err
	}
	err = e.Temporal.ScheduleClient().GetHandle(ctx, id).Delete(ctx)
	var gone *serviceerror.NotFound
	if err != nil && !errors.As(err, &gone) {
		return fmt.Errorf("delete schedule %s: %w", id, err)
	}
	return e.Store.DeleteSchedule(ctx, campaignID, id)
}
