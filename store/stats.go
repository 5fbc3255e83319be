package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Counter is one of a campaign's KPI counts. Journey counts (enrolled,
// converted, ended:<status>) have no channel or step; message counts (by
// status, and skipped:<reason>, failed:<class>) have both; response counts
// (by type) have a channel, and a step when they are about a message.
type Counter struct {
	Variant string `json:"variant" db:"variant"`
	Channel string `json:"channel" db:"channel"`
	Step    string `json:"step" db:"step"`
	Metric  string `json:"metric" db:"metric"`
	N       int64  `json:"n" db:"n"`
}

// CampaignCounters sums a campaign's counters, which triggers keep as its
// journeys, messages and responses are written: no scan of the journeys.
func (s *Store) CampaignCounters(ctx context.Context, campaignID string) ([]Counter, error) {
	rows, _ := s.db.Query(ctx, `SELECT variant, channel, step, metric, sum(n)::bigint AS n FROM campaign_counters
WHERE campaign_id = $1 GROUP BY variant, channel, step, metric HAVING sum(n) <> 0 ORDER BY variant, channel, step, metric`, campaignID)
	return pgx.CollectRows(rows, pgx.RowToStructByName[Counter])
}
