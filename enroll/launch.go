package enroll

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
	"golang.org/x/sync/errgroup"

	"github.com/omni-orchestrator/omni/store"
)

// LaunchInput names the campaign version and the audience to enroll, and
// where an earlier run of the launch stopped. A run of a schedule starts
// with the campaign and the schedule only, and records its launch first.
type LaunchInput struct {
	LaunchID   string
	CampaignID string
	Version    int
	Audience   store.Audience
	After      string // the last customer id gone through
	Progress   store.LaunchProgress
	// ScheduleID is the schedule whose run this is.
	ScheduleID string `json:",omitempty"`
	// RatePerMinute paces the launch (0: as fast as the workers go).
	RatePerMinute int `json:",omitempty"`
}

// A launch enrolls pagesPerBatch pages per activity, and continues as new
// after batchesPerRun activities: its history stays a few hundred events
// whatever the audience size, and a retry redoes at most one page.
const (
	pagesPerBatch   = 20
	batchesPerRun   = 50
	launchInBatches = "launch-in-batches"
)

// Launch enrolls an audience in a campaign, in batches of pages, each from
// a heartbeating activity; a paced launch one page at a time, a timer
// between pages.
func Launch(ctx workflow.Context, in LaunchInput) (store.LaunchProgress, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 24 * time.Hour,
		// Batches heartbeat as they enroll, so that a batch whose worker
		// died resumes elsewhere within seconds.
		HeartbeatTimeout: 10 * time.Second,
	})
	var a *Activities
	// A run of a schedule records its launch first. Launches started before
	// schedules and pacing all have a launch id and no rate, so they take
	// neither new path and replay as they ran: no GetVersion is needed.
	if in.LaunchID == "" {
		in.LaunchID = workflow.GetInfo(ctx).WorkflowExecution.ID
		var l store.Launch
		if err := workflow.ExecuteActivity(ctx, a.BeginRun, in).Get(ctx, &l); err != nil || l.ID == "" {
			return in.Progress, err
		}
		in.Version, in.RatePerMinute = l.Version, l.RatePerMinute
	}
	if workflow.GetVersion(ctx, launchInBatches, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		// Launches started before batches run their one activity.
		var p store.LaunchProgress
		err := workflow.ExecuteActivity(ctx, a.EnrollAudience, in).Get(ctx, &p)
		return p, err
	}
	// Batches read the audience from the launch's row: a long list of ids
	// would otherwise be copied into the history with every batch.
	in.Audience = store.Audience{}
	for range batchesPerRun {
		began := workflow.Now(ctx)
		var b Batch
		if err := workflow.ExecuteActivity(ctx, a.EnrollBatch, in).Get(ctx, &b); err != nil {
			return in.Progress, err
		}
		in.After, in.Progress = b.After, b.Progress
		if b.Done {
			return in.Progress, nil
		}
		if in.RatePerMinute > 0 {
			size, every := pace(in.RatePerMinute)
			if wait := every - workflow.Now(ctx).Sub(began); wait > 0 {
				summary := fmt.Sprintf("pacing: %d customers every %s", size, every)
				if err := workflow.NewTimerWithOptions(ctx, wait, workflow.TimerOptions{Summary: summary}).Get(ctx, nil); err != nil {
					return in.Progress, err
				}
			}
		}
	}
	return in.Progress, workflow.NewContinueAsNewError(ctx, Launch, in)
}

// maxPacedPage bounds the page of a paced launch.
const maxPacedPage = 1000

// pace is how a launch of rate enrolments a minute goes: a page of size
// customers every `every`, about ten pages a minute, so that the rate
// holds within seconds and a page is never one long burst.
func pace(rate int) (size int, every time.Duration) {
	size = min(max(rate/10, 1), maxPacedPage)
	return size, time.Duration(size) * time.Minute / time.Duration(rate)
}

// Batch is where a batch of pages left the launch.
type Batch struct {
	After    string
	Progress store.LaunchProgress
	Done     bool
}

// Activities are the launch's activities.
type Activities struct {
	Enroller *Enroller
	// PageSize is how many customers are read and enrolled at a time.
	PageSize int
	// Concurrency bounds the journey starts in flight.
	Concurrency int
}

// cursor is the heartbeat: a retried activity resumes after the last page.
type cursor struct {
	After    string
	Progress store.LaunchProgress
}

// EnrollAudience enrolls the whole audience in one activity, for launches
// started before batches.
func (a *Activities) EnrollAudience(ctx context.Context, in LaunchInput) (store.LaunchProgress, error) {
	b, err := a.enroll(ctx, in, "", 0, a.PageSize)
	return b.Progress, err
}

// EnrollBatch enrolls the next pagesPerBatch pages of the launch's
// audience, as recorded on the launch; of a paced launch, the next page
// of the pace's size.
func (a *Activities) EnrollBatch(ctx context.Context, in LaunchInput) (Batch, error) {
	l, err := a.Enroller.Store.Launch(ctx, in.LaunchID)
	if err != nil {
		return Batch{}, fmt.Errorf("launch %s: %w", in.LaunchID, err)
	}
	in.Audience = l.Audience
	if in.RatePerMinute > 0 {
		size, _ := pace(in.RatePerMinute)
		return a.enroll(ctx, in, l.LocalTime, 1, size)
	}
	return a.enroll(ctx, in, l.LocalTime, pagesPerBatch, a.PageSize)
}

// BeginRun records the launch of a schedule's run, once: of the
// campaign's latest version, to the schedule's audience, under the run's
// workflow id, which Temporal makes of the schedule's and the run's time.
// A cancelled campaign enrolls nobody again: the run deletes its schedule
// and records no launch (an empty one returned).
func (a *Activities) BeginRun(ctx context.Context, in LaunchInput) (store.Launch, error) {
	st := a.Enroller.Store
	s, err := st.Schedule(ctx, in.ScheduleID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Launch{}, temporal.NewNonRetryableApplicationError("no schedule "+in.ScheduleID, "NoSchedule", err)
	}
	if err != nil {
		return store.Launch{}, err
	}
	c, err := st.Campaign(ctx, in.CampaignID)
	if err != nil {
		return store.Launch{}, fmt.Errorf("campaign %s: %w", in.CampaignID, err)
	}
	if c.Status == store.CampaignCancelled {
		if err := a.Enroller.Unschedule(ctx, c.ID, s.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return store.Launch{}, err
		}
		return store.Launch{}, nil
	}
	l := store.Launch{
		ID: in.LaunchID, CampaignID: c.ID, Version: c.Version, Audience: s.Audience, Status: "running",
		ScheduleID: s.ID, Delivery: s.Delivery, RunID: activity.GetInfo(ctx).WorkflowExecution.RunID,
	}
	if err := st.CreateLaunch(ctx, l); err != nil {
		return store.Launch{}, err
	}
	return st.Launch(ctx, l.ID)
}

// enroll pages through the audience in customer id order, after in.After,
// size customers a page, and enrolls each customer the filter selects
// (starting their journeys at their localTime, if set), recording progress
// on the launch after each page; pages 0 goes to the end. A retried
// activity resumes after the last page it heartbeated.
func (a *Activities) enroll(ctx context.Context, in LaunchInput, localTime string, pages, size int) (Batch, error) {
	st := a.Enroller.Store
	cur := cursor{After: in.After, Progress: in.Progress}
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &cur); err != nil {
			return Batch{}, err
		}
	}
	b := func(done bool) Batch { return Batch{After: cur.After, Progress: cur.Progress, Done: done} }
	c, err := st.CampaignVersion(ctx, in.CampaignID, in.Version)
	if err != nil {
		return b(false), fmt.Errorf("campaign %s v%d: %w", in.CampaignID, in.Version, err)
	}
	listed := append([]string(nil), in.Audience.CustomerIDs...)
	sort.Strings(listed)
	for n := 0; pages == 0 || n < pages; n++ {
		page, last, skipped, err := a.page(ctx, in.Audience, listed, cur.After, size)
		if err != nil {
			return b(false), err
		}
		if last == "" {
			return b(true), st.UpdateLaunch(ctx, in.LaunchID, cur.Progress, true)
		}
		// A pause reaches the journeys enrolled from now on; a cancel ends the launch.
		if c.Status, err = st.CampaignStatus(ctx, c.ID); err != nil {
			return b(false), err
		}
		if c.Status == store.CampaignCancelled {
			return b(true), st.UpdateLaunch(ctx, in.LaunchID, cur.Progress, true)
		}
		if f := in.Audience.Filter; f != nil {
			page = slices.DeleteFunc(page, func(c store.Customer) bool { return !f.Eval(c.Facts(), nil) })
		}
		// Enrolling a page takes seconds: heartbeat meanwhile with where
		// the last page left the launch.
		done := cursor{After: cur.After, Progress: cur.Progress.Clone()}
		beat := func() { activity.RecordHeartbeat(ctx, done) }
		cur.Progress.Audience += len(page) + skipped
		cur.Progress.Skip("unknown_customer", skipped)
		if err := a.enrollPage(ctx, entrance{launchID: in.LaunchID, localTime: localTime}, c, page, &cur.Progress, beat); err != nil {
			return b(false), err
		}
		cur.After = last
		activity.RecordHeartbeat(ctx, cur)
		if err := st.UpdateLaunch(ctx, in.LaunchID, cur.Progress, false); err != nil {
			return b(false), err
		}
	}
	return b(false), nil
}

// page returns the customers of the next page of size after the id
// `after`, and the last audience id the page covers ("" when the audience
// is exhausted). Listed ids that name no customer are counted as skipped.
// A segment's members are read as the launch reaches them: who joined
// meanwhile is in.
func (a *Activities) page(ctx context.Context, audience store.Audience, listed []string, after string, size int) (customers []store.Customer, last string, skipped int, err error) {
	st := a.Enroller.Store
	switch {
	case audience.Segment != "":
		customers, err = st.SegmentCustomersAfter(ctx, audience.Segment, after, size)
	case audience.All:
		customers, err = st.CustomersAfter(ctx, after, size)
	default:
		return a.listedPage(ctx, listed, after, size)
	}
	if len(customers) > 0 {
		last = customers[len(customers)-1].ID
	}
	return customers, last, 0, err
}

// listedPage is page for a listed audience (sorted).
func (a *Activities) listedPage(ctx context.Context, listed []string, after string, size int) (customers []store.Customer, last string, skipped int, err error) {
	i := sort.SearchStrings(listed, after)
	for i < len(listed) && listed[i] <= after {
		i++
	}
	chunk := listed[i:min(i+size, len(listed))]
	if len(chunk) == 0 {
		return nil, "", 0, nil
	}
	customers, err = a.Enroller.Store.CustomersIn(ctx, chunk)
	return customers, chunk[len(chunk)-1], len(chunk) - len(customers), err
}

// enrollPage enrolls the customers with bounded concurrency, as the
// launch's entrance; those the launch enrolled before (this page, retried)
// count as enrolled.
func (a *Activities) enrollPage(ctx context.Context, in entrance, c store.Campaign, customers []store.Customer, p *store.LaunchProgress, beat func()) error {
	var mu sync.Mutex
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(a.Concurrency)
	for _, customer := range customers {
		g.Go(func() error {
			e, err := a.Enroller.enter(ctx, c, store.CustomerRef{ID: customer.ID, Timezone: customer.Timezone}, in)
			if err != nil {
				return err
			}
			beat()
			mu.Lock()
			defer mu.Unlock()
			switch {
			case e.Skipped != "":
				p.Skip(e.Skipped, 1)
			case e.Started:
				p.Enrolled++
			default:
				p.AlreadyEnrolled++
			}
			return nil
		})
	}
	return g.Wait()
}
