package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Timing is when a schedule launches: once At; or recurring, by Cron (in
// Timezone) or Every (from At), from At if given, until Until.
type Timing struct {
	At       *time.Time `json:"at,omitempty"`
	Cron     string     `json:"cron,omitempty"`
	Every    string     `json:"every,omitempty"`
	Timezone string     `json:"timezone,omitempty"`
	Until    *time.Time `json:"until,omitempty"`
}

// Recurring reports whether the timing launches more than once.
func (t Timing) Recurring() bool { return t.Cron != "" || t.Every != "" }

// LaunchSchedule is what each run of a schedule launches: the campaign's
// latest version at the run's time, to the audience, with the delivery.
// Temporal holds the schedule itself (its timing, whether it is paused,
// its next runs).
type LaunchSchedule struct {
	ID         string    `json:"id" db:"id"`
	CampaignID string    `json:"campaign_id" db:"campaign_id"`
	Seq        int       `json:"-" db:"seq"`
	Audience   Audience  `json:"audience" db:"audience"`
	Timing     Timing    `json:"schedule" db:"timing"`
	CreatedAt  time.Time `json:"created_at" db:"created_at"`
	Delivery
}

const scheduleColumns = `id, campaign_id, seq, audience, timing, created_at,
	coalesce(local_time, '') AS local_time, coalesce(rate_per_minute, 0) AS rate_per_minute`

// CreateSchedule records a schedule of the campaign under the next number
// of its schedules, schedule:<campaign>:<n>; numbers are never used again,
// so neither are the ids of the runs' launches.
func (s *Store) CreateSchedule(ctx context.Context, ls LaunchSchedule) (LaunchSchedule, error) {
	var out LaunchSchedule
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('schedules:' || $1))`, ls.CampaignID); err != nil {
			return err
		}
		var seq int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(seq), 0) + 1 FROM launch_schedules WHERE campaign_id = $1`, ls.CampaignID).Scan(&seq); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `
INSERT INTO launch_schedules (id, campaign_id, seq, audience, timing, local_time, rate_per_minute)
VALUES ($1, $2, $3, $4, $5, nullif($6, ''), nullif($7, 0)) RETURNING `+scheduleColumns,
			fmt.Sprintf("schedule:%s:%d", ls.CampaignID, seq), ls.CampaignID, seq, ls.Audience, ls.Timing, ls.LocalTime, ls.RatePerMinute)
		var err error
		out, err = collectOne(rows, pgx.RowToStructByName[LaunchSchedule])
		return err
	})
	return out, err
}

// RemoveSchedule forgets a schedule that never reached Temporal.
func (s *Store) RemoveSchedule(ctx context.Context, id string) error {
	_, err := s.db.Exec(ctx, `DELETE FROM launch_schedules WHERE id = $1`, id)
	return err
}

// Schedule returns a schedule, deleted or not, or ErrNotFound.
func (s *Store) Schedule(ctx context.Context, id string) (LaunchSchedule, error) {
	rows, _ := s.db.Query(ctx, `SELECT `+scheduleColumns+` FROM launch_schedules WHERE id = $1`, id)
	return collectOne(rows, pgx.RowToStructByName[LaunchSchedule])
}

// Schedules lists a campaign's schedules that are not deleted, oldest
// first.
func (s *Store) Schedules(ctx context.Context, campaignID string) ([]LaunchSchedule, error) {
	rows, _ := s.db.Query(ctx, `SELECT `+scheduleColumns+` FROM launch_schedules
WHERE campaign_id = $1 AND deleted_at IS NULL ORDER BY seq`, campaignID)
	return pgx.CollectRows(rows, pgx.RowToStructByName[LaunchSchedule])
}

// DeleteSchedule marks a campaign's schedule deleted, or answers
// ErrNotFound; its runs' launches stay.
func (s *Store) DeleteSchedule(ctx context.Context, campaignID, id string) error {
	tag, err := s.db.Exec(ctx, `UPDATE launch_schedules SET deleted_at = now()
WHERE id = $1 AND campaign_id = $2 AND deleted_at IS NULL`, id, campaignID)
	if err == nil && tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return err
}

// ScheduleRuns lists the launches of a schedule's latest runs, newest
// first.
func (s *Store) ScheduleRuns(ctx context.Context, scheduleID string, limit int) ([]Launch, error) {
	rows, _ := s.db.Query(ctx, `SELECT `+launchColumns+` FROM launches
WHERE schedule_id = $1 ORDER BY created_at DESC LIMIT $2`, scheduleID, limit)
	return pgx.CollectRows(rows, pgx.RowToStructByName[Launch])
}
