package enroll

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/workflow"
	"golang.org/x/sync/errgroup"

	"github.com/omni-orchestrator/omni/store"
)

// LaunchInput names the campaign version and the audience to enroll.
type LaunchInput struct {
	LaunchID   string
	CampaignID string
	Version    int
	Audience   store.Audience
}

// Launch enrolls an audience in a campaign. The work happens in one
// heartbeating activity, so the launch's own history stays a handful of
// events whatever the audience size.
func Launch(ctx workflow.Context, in LaunchInput) (store.LaunchProgress, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 24 * time.Hour,
		HeartbeatTimeout:    time.Minute,
	})
	var a *Activities
	var p store.LaunchProgress
	err := workflow.ExecuteActivity(ctx, a.EnrollAudience, in).Get(ctx, &p)
	return p, err
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

// EnrollAudience pages through the audience in customer id order and
// enrolls each customer, recording progress on the launch after each page.
func (a *Activities) EnrollAudience(ctx context.Context, in LaunchInput) (store.LaunchProgress, error) {
	st := a.Enroller.Store
	var cur cursor
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &cur); err != nil {
			return cur.Progress, err
		}
	}
	c, err := st.CampaignVersion(ctx, in.CampaignID, in.Version)
	if err != nil {
		return cur.Progress, fmt.Errorf("campaign %s v%d: %w", in.CampaignID, in.Version, err)
	}
	listed := append([]string(nil), in.Audience.CustomerIDs...)
	sort.Strings(listed)
	for {
		page, last, skipped, err := a.page(ctx, in.Audience.All, listed, cur.After)
		if err != nil {
			return cur.Progress, err
		}
		if last == "" {
			break
		}
		// A pause reaches the journeys enrolled from now on; a cancel ends the launch.
		if c.Status, err = st.CampaignStatus(ctx, c.ID); err != nil || c.Status == store.CampaignCancelled {
			return cur.Progress, err
		}
		cur.Progress.Skip("unknown_customer", skipped)
		if err := a.enrollPage(ctx, c, page, &cur.Progress); err != nil {
			return cur.Progress, err
		}
		cur.After = last
		activity.RecordHeartbeat(ctx, cur)
		if err := st.UpdateLaunch(ctx, in.LaunchID, cur.Progress, false); err != nil {
			return cur.Progress, err
		}
	}
	return cur.Progress, st.UpdateLaunch(ctx, in.LaunchID, cur.Progress, true)
}

// page returns the customers of the next page after the id `after`, and the
// last audience id the page covers ("" when the audience is exhausted).
// Listed ids that name no customer are counted as skipped.
func (a *Activities) page(ctx context.Context, all bool, listed []string, after string) (customers []store.CustomerRef, last string, skipped int, err error) {
	st := a.Enroller.Store
	if all {
		customers, err = st.CustomersAfter(ctx, after, a.PageSize)
		if len(customers) > 0 {
			last = customers[len(customers)-1].ID
		}
		return customers, last, 0, err
	}
	i := sort.SearchStrings(listed, after)
	for i < len(listed) && listed[i] <= after {
		i++
	}
	chunk := listed[i:min(i+a.PageSize, len(listed))]
	if len(chunk) == 0 {
		return nil, "", 0, nil
	}
	customers, err = st.CustomersIn(ctx, chunk)
	return customers, chunk[len(chunk)-1], len(chunk) - len(customers), err
}

// enrollPage enrolls the customers with bounded concurrency.
func (a *Activities) enrollPage(ctx context.Context, c store.Campaign, customers []store.CustomerRef, p *store.LaunchProgress) error {
	var mu sync.Mutex
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(a.Concurrency)
	for _, customer := range customers {
		g.Go(func() error {
			e, err := a.Enroller.Enroll(ctx, c, customer, nil)
			if err != nil {
				return err
			}
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
