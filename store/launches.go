package store

import (
	"context"
	"maps"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omni-orchestrator/omni/campaign"
)

// Audience is who a launch enrolls: everybody, the listed customers, or
// the members of Segment as the launch reaches them, and of those the ones
// Filter selects.
type Audience struct {
	All         bool                `json:"all,omitempty"`
	CustomerIDs []string            `json:"customer_ids,omitempty"`
	Segment     string              `json:"segment,omitempty"`
	Filter      *campaign.Condition `json:"filter,omitempty"`
}

// Launch is one enrolment run of a campaign version and its progress.
type Launch struct {
	ID              string         `json:"id" db:"id"`
	CampaignID      string         `json:"campaign_id" db:"campaign_id"`
	Version         int            `json:"version" db:"version"`
	Audience        Audience       `json:"audience" db:"audience"`
	Status          string         `json:"status" db:"status"`
	AudienceSize    int            `json:"audience_size" db:"audience_size"`
	Enrolled        int            `json:"enrolled" db:"enrolled"`
	AlreadyEnrolled int            `json:"already_enrolled" db:"already_enrolled"`
	Skipped         int            `json:"skipped" db:"skipped"`
	SkippedReasons  map[string]int `json:"skipped_reasons" db:"skipped_reasons"`
	CreatedAt       time.Time      `json:"created_at" db:"created_at"`
	FinishedAt      *time.Time     `json:"finished_at,omitempty" db:"finished_at"`
	// RunID is the launch workflow's first run, once it is known to have
	// started.
	RunID string `json:"run_id,omitempty" db:"run_id"`
	// ScheduleID is the schedule the launch is a run of, if any.
	ScheduleID string `json:"schedule_id,omitempty" db:"schedule_id"`
	Delivery
}

// Delivery is how a launch delivers: at each customer's local time of day
// (LocalTime, "HH:MM": each journey waits for the customer's next such
// time before its first step), and at most RatePerMinute enrolments a
// minute (0: as fast as the workers go).
type Delivery struct {
	LocalTime     string `json:"local_time,omitempty" db:"local_time"`
	RatePerMinute int    `json:"rate_per_minute,omitempty" db:"rate_per_minute"`
}

// LaunchProgress is what a launch has done so far.
type LaunchProgress struct {
	// Audience counts the customers gone through that are in the audience
	// (the filter's matches, listed ids that name nobody included).
	Audience        int
	Enrolled        int
	AlreadyEnrolled int
	Skipped         int
	SkippedReasons  map[string]int
}

// Clone is a copy that shares nothing with p.
func (p LaunchProgress) Clone() LaunchProgress {
	p.SkippedReasons = maps.Clone(p.SkippedReasons)
	return p
}

// Skip counts n customers skipped for reason.
func (p *LaunchProgress) Skip(reason string, n int) {
	if n == 0 {
		return
	}
	if p.SkippedReasons == nil {
		p.SkippedReasons = map[string]int{}
	}
	p.Skipped += n
	p.SkippedReasons[reason] += n
}

// CreateLaunch records a launch before its workflow starts (a run of a
// schedule: as its workflow begins, with its run); a launch recorded
// already stays as it is.
func (s *Store) CreateLaunch(ctx context.Context, l Launch) error {
	_, err := s.db.Exec(ctx, `
INSERT INTO launches (id, campaign_id, version, audience, schedule_id, local_time, rate_per_minute, run_id)
VALUES ($1, $2, $3, $4, nullif($5, ''), nullif($6, ''), nullif($7, 0), nullif($8, ''))
ON CONFLICT (id) DO NOTHING`,
		l.ID, l.CampaignID, l.Version, l.Audience, l.ScheduleID, l.LocalTime, l.RatePerMinute, l.RunID)
	return err
}

// UpdateLaunch records progress; done marks the launch finished.
func (s *Store) UpdateLaunch(ctx context.Context, id string, p LaunchProgress, done bool) error {
	_, err := s.db.Exec(ctx, `
UPDATE launches SET enrolled = $2, already_enrolled = $3, skipped = $4, skipped_reasons = coalesce($6, '{}'::jsonb), audience_size = $7,
	status = CASE WHEN $5 AND status = 'running' THEN 'finished' ELSE status END,
	finished_at = CASE WHEN $5 THEN now() ELSE finished_at END
WHERE id = $1`, id, p.Enrolled, p.AlreadyEnrolled, p.Skipped, done, p.SkippedReasons, p.Audience)
	return err
}

// Launch returns one launch, or ErrNotFound.
func (s *Store) Launch(ctx context.Context, id string) (Launch, error) {
	rows, _ := s.db.Query(ctx, `SELECT `+launchColumns+` FROM launches WHERE id = $1`, id)
	return collectOne(rows, pgx.RowToStructByName[Launch])
}

const launchColumns = `id, campaign_id, version, audience, status, audience_size, enrolled, already_enrolled, skipped, skipped_reasons,
	created_at, finished_at, coalesce(run_id, '') AS run_id, coalesce(schedule_id, '') AS schedule_id,
	coalesce(local_time, '') AS local_time, coalesce(rate_per_minute, 0) AS rate_per_minute`

// StartedLaunch records that a launch's workflow runs.
func (s *Store) StartedLaunch(ctx context.Context, id, runID string) error {
	_, err := s.db.Exec(ctx, `UPDATE launches SET run_id = $2 WHERE id = $1`, id, runID)
	return err
}

// UnstartedLaunches lists running launches created at least olderThan ago
// whose workflow is not known to have started.
func (s *Store) UnstartedLaunches(ctx context.Context, olderThan time.Duration) ([]Launch, error) {
	rows, _ := s.db.Query(ctx, `SELECT `+launchColumns+` FROM launches
WHERE run_id IS NULL AND status = 'running' AND created_at < now() - make_interval(secs => $1) ORDER BY created_at`, olderThan.Seconds())
	return pgx.CollectRows(rows, pgx.RowToStructByName[Launch])
}

// Launches lists a campaign's launches, newest first.
func (s *Store) Launches(ctx context.Context, campaignID string) ([]Launch, error) {
	rows, _ := s.db.Query(ctx, `SELECT `+launchColumns+` FROM launches WHERE campaign_id = $1 ORDER BY created_at DESC LIMIT 20`, campaignID)
	return pgx.CollectRows(rows, pgx.RowToStructByName[Launch])
}

// CancelLaunches marks a campaign's running launches cancelled and returns
// their ids.
func (s *Store) CancelLaunches(ctx context.Context, campaignID string) ([]string, error) {
	rows, _ := s.db.Query(ctx, `UPDATE launches SET status = 'cancelled', finished_at = now()
WHERE campaign_id = $1 AND status = 'running' RETURNING id`, campaignID)
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
