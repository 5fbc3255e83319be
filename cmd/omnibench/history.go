package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/omni-orchestrator/omni/api"
	"github.com/omni-orchestrator/omni/store"
)

// HistoryResult is one `omnibench history` run's figures.
type HistoryResult struct {
	Date      time.Time `json:"date"`
	CPUs      int       `json:"cpus"`
	Customers int       `json:"customers"`
	Broadcast int       `json:"broadcast_journeys"`
	Rows      struct {
		Journeys     int64 `json:"journeys"`
		Messages     int64 `json:"messages"`
		Responses    int64 `json:"responses"`
		Coupons      int64 `json:"coupons"`
		Suppressions int64 `json:"suppressions"`
	} `json:"rows"`
	LoadSeconds     float64              `json:"load_seconds"`
	DatabaseMiB     float64              `json:"database_mib"`
	CountersAgree   bool                 `json:"counters_agree_with_scan"`
	Latency         map[string]Latency   `json:"latency"`
	ViewsPerSecond  float64              `json:"customer_views_per_second"`
	ViewConcurrency int                  `json:"customer_view_concurrency"`
	Sizes           map[string]ViewShape `json:"sizes"`
}

// Latency is one endpoint's distribution over a sample, in milliseconds.
type Latency struct {
	Requests int     `json:"requests"`
	P50      float64 `json:"p50_ms"`
	P99      float64 `json:"p99_ms"`
	Max      float64 `json:"max_ms"`
}

// ViewShape is how much history the sampled customers carry.
type ViewShape struct {
	Customers     int     `json:"customers"`
	MeanJourneys  float64 `json:"mean_journeys"`
	MeanMessages  float64 `json:"mean_messages"`
	MaxMessages   int     `json:"max_messages"`
	MeanResponses float64 `json:"mean_responses"`
	MeanBytes     float64 `json:"mean_view_bytes"`
}

const weeks = 52

// history loads a year of history into a fresh database and measures the
// read models on it through the API: HISTORY_CUSTOMERS customers (100,000),
// each in some of 52 weekly campaigns (one in four an A/B test with a
// control group) by an engagement that varies from 10% to 64% of the
// campaigns, with their email and push messages, provider events,
// conversions, rejections (suppressions) and coupons — about 5 million
// messages and responses — plus one campaign sent to HISTORY_BROADCAST
// customers (1,000,000). Rows go in through the same triggers that keep
// the KPI counters live. It reports p50/p99 of the customer view, its
// timeline and offers for a random sample, for the customers with the
// most history and for customers with none, and of the stats of the
// broadcast and of a weekly campaign, next to the scan the counters spare.
func history() error {
	customers := envInt("HISTORY_CUSTOMERS", 100_000)
	broadcast := max(envInt("HISTORY_BROADCAST", 1_000_000), customers)
	samples := envInt("HISTORY_SAMPLES", 1000)
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	st, url, done, err := freshStore(ctx, pgServer(), "omni_history")
	if err != nil {
		return err
	}
	defer done()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return err
	}
	defer pool.Close()

	res := HistoryResult{Date: time.Now().UTC(), CPUs: runtime.NumCPU(), Customers: customers, Broadcast: broadcast,
		Latency: map[string]Latency{}, Sizes: map[string]ViewShape{}}
	start := time.Now()
	if err := loadHistory(ctx, st, pool, customers, broadcast); err != nil {
		return err
	}
	res.LoadSeconds = time.Since(start).Seconds()
	for table, n := range map[string]*int64{"journeys": &res.Rows.Journeys, "messages": &res.Rows.Messages,
		"responses": &res.Rows.Responses, "coupons": &res.Rows.Coupons, "suppressions": &res.Rows.Suppressions} {
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(n); err != nil {
			return err
		}
	}
	if err := pool.QueryRow(ctx, "SELECT pg_database_size(current_database()) / 1048576.0").Scan(&res.DatabaseMiB); err != nil {
		return err
	}

	httpSrv := httptest.NewServer((&api.Server{Store: st, Logger: quiet}).Handler())
	defer httpSrv.Close()
	client, err := keyedClient(ctx, st, &http.Transport{MaxIdleConnsPerHost: 16})
	if err != nil {
		return err
	}

	// Who to ask about: a random sample, the customers with the most
	// messages, and customers without any history.
	rng := rand.New(rand.NewPCG(1, 2))
	var random, fresh []string
	for range samples {
		random = append(random, historyCustomer(1+rng.IntN(customers)))
	}
	for i := range min(samples, 100) {
		fresh = append(fresh, fmt.Sprintf("n%07d", i+1))
	}
	if _, err := pool.Exec(ctx, `INSERT INTO customers (id, email) SELECT id, id || '@example.com' FROM unnest($1::text[]) id`, fresh); err != nil {
		return err
	}
	rows, _ := pool.Query(ctx, `SELECT customer_id FROM messages WHERE customer_id LIKE 'h%' GROUP BY customer_id ORDER BY count(*) DESC LIMIT 100`)
	heaviest, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	step("measuring the read models")
	endpoints := []struct {
		name string
		ids  []string
		path string
	}{
		{"customer view, random", random, "/v1/customers/%s"},
		{"customer view, heaviest", heaviest, "/v1/customers/%s"},
		{"customer view, no history", fresh, "/v1/customers/%s"},
		{"timeline page, random", random, "/v1/customers/%s/timeline"},
		{"offers, random", random, "/v1/customers/%s/offers?channel=shop"},
		{"offers, heaviest", heaviest, "/v1/customers/%s/offers?channel=shop"},
	}
	for _, e := range endpoints {
		if res.Latency[e.name], err = measure(client, httpSrv.URL, e.path, e.ids); err != nil {
			return err
		}
	}
	stats := []string{"broadcast", "weekly-04"}
	for _, id := range stats {
		ids := slices.Repeat([]string{id}, 200)
		if res.Latency["stats, "+id], err = measure(client, httpSrv.URL, "/v1/campaigns/%s/stats", ids); err != nil {
			return err
		}
	}
	// What the counters spare: the same figures counted from the rows.
	if res.Latency["stats by scan, broadcast"], err = measureScan(ctx, pool, "broadcast", 5); err != nil {
		return err
	}
	res.CountersAgree = true
	for _, id := range stats {
		agree, err := countersAgree(ctx, st, pool, id)
		if err != nil {
			return err
		}
		res.CountersAgree = res.CountersAgree && agree
	}
	// Measured after the latencies, so as not to warm the sampled rows.
	for name, ids := range map[string][]string{"random": random, "heaviest": heaviest, "no history": fresh} {
		shape, err := viewShape(ctx, pool, client, httpSrv.URL, ids)
		if err != nil {
			return err
		}
		res.Sizes[name] = shape
	}
	res.ViewConcurrency = 8
	res.ViewsPerSecond, err = throughput(client, httpSrv.URL, random, res.ViewConcurrency, 5*time.Second)
	if err != nil {
		return err
	}

	printHistory(os.Stdout, res)
	return saveJSON(res, fmt.Sprintf("%s-history-c%d.json", res.Date.Format("2006-01-02T150405Z"), customers))
}

func historyCustomer(i int) string { return fmt.Sprintf("h%07d", i) }

// weekly is the definition of week k's campaign; every fourth is an A/B
// test with a control group.
func weekly(k int) string {
	start := `"start_at": "mail"`
	split := ""
	if k%4 == 0 {
		start = `"start_at": "split"`
		split = `"split": {"experiment": {"variants": [{"name": "A", "weight": 45, "next": "mail"}, {"name": "B", "weight": 45, "next": "mail"}, {"name": "control", "weight": 10, "next": "done"}]}},`
	}
	return fmt.Sprintf(`{"id": "weekly-%02d", "name": "Week %d", "offer_id": "offer-%02d", "rules": {"goal": "converted", "exit_on": ["rejected"]}, %s, "steps": {%s
	"mail": {"send": {"channel": "email", "template": {"subject": "Week %d: for you, {{first_name}}", "body": "<p>Hello {{first_name}}, this week's offer.</p>"}}, "next": "wait"},
	"wait": {"wait": {"for": ["clicked"], "timeout": "72h"}, "on": {"timeout": "push"}, "next": "done"},
	"push": {"send": {"channel": "push", "template": {"title": "Still interested?", "body": "Week %d's offer ends soon"}}, "next": "done"},
	"done": {"exit": {}}}}`, k, k, k%20, start, split, k, k)
}

const broadcastCampaign = `{"id": "broadcast", "name": "Spring sale to everyone", "offer_id": "spring-sale", "rules": {"goal": "converted"}, "start_at": "mail", "steps": {
	"mail": {"send": {"channel": "email", "template": {"subject": "Spring sale", "body": "<p>Everything 20% off.</p>"}}, "next": "wait"},
	"wait": {"wait": {"for": ["converted"], "timeout": "168h"}, "next": "done"},
	"done": {"exit": {}}}}`

// The generator: deterministic (hashtext of ids) and set-based, one
// statement per campaign, table and chunk of customers ($1 campaign, $2 <
// customer id <= $3), so that the triggers fire per row as they do live
// and no transaction piles up versions of the same counter rows.
const (
	// Engagement decile e of a customer puts them in 10% + 6%·e of the weeks.
	loadJourneys = `
INSERT INTO journeys (workflow_id, campaign_id, version, customer_id, status, current_step, started_at, variant)
SELECT 'journey:' || $1 || ':' || id, $1, 1, id, 'active', 'mail', $4::timestamptz + (h % 86400) * interval '1 second',
	CASE WHEN $5::boolean THEN CASE WHEN h % 100 < 45 THEN 'A' WHEN h % 100 < 90 THEN 'B' ELSE 'control' END END
FROM (SELECT id, abs(hashtext(id || ':' || $1)) AS h FROM customers WHERE id > $2 AND id <= $3 AND id LIKE 'h%') c
WHERE h % 1000 < 100 + 60 * (abs(hashtext(id)) % 10)`
	broadcastJourneys = `
INSERT INTO journeys (workflow_id, campaign_id, version, customer_id, status, current_step, started_at)
SELECT 'journey:' || $1 || ':' || id, $1, 1, id, 'active', 'mail', $4::timestamptz + (abs(hashtext(id)) % 3600) * interval '1 second'
FROM customers WHERE id > $2 AND id <= $3`
	// Every journey outside the control group is mailed (92% sent, 4%
	// skipped without consent, 4% failed); $4% get the push after it.
	loadMessages = `
INSERT INTO messages (idempotency_key, journey_id, campaign_id, customer_id, step, channel, provider, provider_message_id,
	recipient, subject, body, status, reason, created_at, sent_at)
SELECT j.workflow_id || ':' || s.step || ':1', j.workflow_id, j.campaign_id, j.customer_id, s.step, s.channel,
	CASE WHEN x < 96 THEN s.provider END, CASE WHEN x < 92 THEN md5(j.workflow_id || s.step) END,
	CASE s.channel WHEN 'email' THEN j.customer_id || '@example.com' ELSE 'fcm-' || md5(j.customer_id) END,
	CASE s.channel WHEN 'email' THEN 'This week: for you, ' || j.customer_id ELSE 'Still interested?' END,
	CASE s.channel WHEN 'email' THEN '<p>Hello ' || j.customer_id || ', this week''s offer.</p>' || repeat('<p>Our selection for you.</p>', 8)
		ELSE 'This week''s offer ends soon' END,
	CASE WHEN x < 92 THEN 'sent' WHEN x < 96 THEN 'skipped' ELSE 'failed' END,
	CASE WHEN x < 92 THEN NULL WHEN x < 96 THEN 'no_consent' ELSE 'permanent: 550 mailbox unavailable' END,
	j.started_at + s.after, CASE WHEN x < 92 THEN j.started_at + s.after + interval '2 seconds' END
FROM journeys j, LATERAL (VALUES ('mail', 'email', 'sendgrid', interval '1 second'), ('push', 'push', 'fcm', interval '72 hours')) s(step, channel, provider, after),
	LATERAL (SELECT abs(hashtext(j.workflow_id || s.step)) % 100 AS x) r
WHERE j.campaign_id = $1 AND j.customer_id > $2 AND j.customer_id <= $3 AND j.variant IS DISTINCT FROM 'control'
	AND (s.step = 'mail' OR abs(hashtext(j.workflow_id || 'push?')) % 100 < $4)`
	// Provider events name their message, as the webhooks record them;
	// conversions and rejections come from the shop and the contact centre.
	loadResponses = `
INSERT INTO responses (event_id, customer_id, campaign_id, offer_id, channel, type, occurred_at, received_at, routed_at, data)
SELECT m.id || ':' || t.type, m.customer_id, m.campaign_id, c.offer_id, CASE WHEN t.webhook THEN m.channel ELSE t.channel END, t.type,
	m.created_at + t.after, m.created_at + t.after, m.created_at + t.after,
	CASE WHEN t.webhook THEN jsonb_build_object('message_id', m.id) ELSE '{}'::jsonb END
FROM messages m JOIN campaigns c ON c.id = m.campaign_id AND c.version = 1,
	(VALUES ('delivered', 70, true, '', interval '5 seconds'), ('opened', 30, true, '', interval '2 hours'),
		('clicked', 10, true, '', interval '3 hours'), ('converted', 3, false, 'shop', interval '1 day'),
		('rejected', 1, false, 'contact_center', interval '2 days')) t(type, pct, webhook, channel, after)
WHERE m.campaign_id = $1 AND m.customer_id > $2 AND m.customer_id <= $3 AND m.status = 'sent' AND (m.channel = 'email' OR t.type = 'delivered')
	AND abs(hashtext(m.id::text || t.type)) % 100 < t.pct`
	// Clicked journeys got a coupon; a converted one redeemed it in store.
	loadCoupons = `
INSERT INTO coupons (code, idempotency_key, customer_id, campaign_id, journey_id, offer_id, created_at, expires_at, redeemed_at, redeemed_channel, order_ref)
SELECT upper(substr(md5(r.event_id), 1, 10)), 'journey:' || r.campaign_id || ':' || r.customer_id || ':coupon:1', r.customer_id, r.campaign_id,
	'journey:' || r.campaign_id || ':' || r.customer_id, r.offer_id, r.occurred_at, r.occurred_at + interval '30 days',
	cv.occurred_at, CASE WHEN cv.occurred_at IS NOT NULL THEN 'pos' END, CASE WHEN cv.occurred_at IS NOT NULL THEN 'order-' || md5(cv.event_id) END
FROM responses r LEFT JOIN responses cv ON cv.customer_id = r.customer_id AND cv.campaign_id = r.campaign_id AND cv.type = 'converted'
WHERE r.campaign_id = $1 AND r.customer_id > $2 AND r.customer_id <= $3 AND r.type = 'clicked'
ON CONFLICT DO NOTHING`
	loadSuppressions = `
INSERT INTO suppressions (customer_id, offer_id, until, reason, event_id, created_at)
SELECT customer_id, offer_id, occurred_at + interval '30 days', 'rejected', event_id, occurred_at FROM responses
WHERE campaign_id = $1 AND customer_id > $2 AND customer_id <= $3 AND type = 'rejected'
ON CONFLICT (customer_id, offer_id) DO UPDATE SET until = greatest(suppressions.until, excluded.until)`
	// Journeys convert with their first conversion, exit on a rejection,
	// and otherwise complete — except this week's and last, still running.
	finishJourneys = `
UPDATE journeys j SET converted_at = r.converted, status = CASE WHEN r.rejected THEN 'exited' ELSE 'completed' END,
	exit_reason = CASE WHEN r.rejected THEN 'rejected' END, current_step = 'done', ended_at = j.started_at + interval '4 days'
FROM (SELECT j.workflow_id, min(r.occurred_at) FILTER (WHERE r.type = 'converted') AS converted, bool_or(r.type = 'rejected') AS rejected
	FROM journeys j LEFT JOIN responses r ON r.campaign_id = j.campaign_id AND r.customer_id = j.customer_id
	WHERE j.campaign_id = $1 AND j.customer_id > $2 AND j.customer_id <= $3 GROUP BY j.workflow_id) r
WHERE j.workflow_id = r.workflow_id AND $4::boolean`
)

// loadHistory writes the customers and a year of weekly campaigns, then
// the broadcast, printing its progress.
func loadHistory(ctx context.Context, st *store.Store, pool *pgxpool.Pool, customers, broadcast int) error {
	step(fmt.Sprintf("loading %d customers and a year of history (several minutes)", broadcast))
	if _, err := pool.Exec(ctx, `
INSERT INTO customers (id, email, push_token, timezone, locale, attributes, created_at)
SELECT CASE WHEN i <= $1 THEN 'h' ELSE 'b' END || lpad(i::text, 7, '0'), 'c' || i || '@example.com', 'fcm-' || md5(i::text),
	'Europe/Berlin', 'de-DE', jsonb_build_object('first_name', 'Kim', 'tier', (ARRAY['bronze', 'silver', 'gold'])[1 + i % 3], 'city', 'Köln'),
	now() - interval '400 days'
FROM generate_series(1, $2) i`, customers, broadcast); err != nil {
		return err
	}
	withHistory, err := chunks(ctx, pool, "h%")
	if err != nil {
		return err
	}
	yearAgo := time.Now().Add(-365 * 24 * time.Hour)
	for k := 1; k <= weeks; k++ {
		if _, err := createCampaign(ctx, st, weekly(k)); err != nil {
			return err
		}
		id := fmt.Sprintf("weekly-%02d", k)
		t := time.Now()
		start := yearAgo.Add(time.Duration(k-1) * 7 * 24 * time.Hour)
		audience := `{"all": true}`
		if k%4 == 0 {
			audience = `{"all": true, "filter": {"attribute": "tier", "in": ["gold", "silver"]}}`
		}
		if err := recordLaunch(ctx, pool, id, audience, start); err != nil {
			return err
		}
		if err := loadCampaign(ctx, pool, id, withHistory, []any{loadJourneys, start, k%4 == 0}, 40, k < weeks-1); err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		fmt.Fprintf(os.Stderr, "  %s in %v\n", id, time.Since(t).Round(time.Millisecond))
	}
	if _, err := createCampaign(ctx, st, broadcastCampaign); err != nil {
		return err
	}
	everybody, err := chunks(ctx, pool, "%")
	if err != nil {
		return err
	}
	t := time.Now()
	if err := recordLaunch(ctx, pool, "broadcast", `{"all": true}`, time.Now().Add(-3*24*time.Hour)); err != nil {
		return err
	}
	if err := loadCampaign(ctx, pool, "broadcast", everybody, []any{broadcastJourneys, time.Now().Add(-3 * 24 * time.Hour)}, 0, false); err != nil {
		return fmt.Errorf("broadcast: %w", err)
	}
	fmt.Fprintf(os.Stderr, "  broadcast in %v\n", time.Since(t).Round(time.Millisecond))
	_, err = pool.Exec(ctx, "ANALYZE")
	return err
}

// recordLaunch records the finished launch that enrolled a campaign's
// audience: what makes customers outside it eligible for its offer.
func recordLaunch(ctx context.Context, pool *pgxpool.Pool, campaignID, audience string, at time.Time) error {
	_, err := pool.Exec(ctx, `INSERT INTO launches (id, campaign_id, version, audience, status, created_at, finished_at)
VALUES ('launch:' || $1, $1, 1, $2, 'finished', $3, $3)`, campaignID, audience, at)
	return err
}

// chunks splits the customers whose ids are LIKE pattern into ranges of
// 2,000: each range is (previous bound, bound].
func chunks(ctx context.Context, db *pgxpool.Pool, pattern string) ([]string, error) {
	rows, _ := db.Query(ctx, `
SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS n, count(*) OVER () AS total FROM customers WHERE id LIKE $1) x
WHERE n % 2000 = 0 OR n = total ORDER BY id`, pattern)
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// loadCampaign writes one campaign's journeys (the query and its extra
// arguments in journeys), messages (push% of them also pushed),
// responses, coupons and suppressions, a chunk per core at a time;
// finished journeys end as their responses say.
func loadCampaign(ctx context.Context, pool *pgxpool.Pool, id string, bounds []string, journeys []any, push int, finished bool) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.NumCPU())
	for i, hi := range bounds {
		lo := ""
		if i > 0 {
			lo = bounds[i-1]
		}
		g.Go(func() error { return loadChunk(ctx, pool, id, lo, hi, journeys, push, finished) })
	}
	return g.Wait()
}

func loadChunk(ctx context.Context, pool *pgxpool.Pool, id, lo, hi string, journeys []any, push int, finished bool) error {
	for _, q := range [][]any{
		journeys,
		{loadMessages, push},
		{loadResponses},
		{loadCoupons},
		{loadSuppressions},
		{finishJourneys, finished},
	} {
		args := append([]any{id, lo, hi}, q[1:]...)
		// Two chunks whose transactions share a counter shard may deadlock;
		// PostgreSQL aborts one, which then runs again.
		_, err := pool.Exec(ctx, q[0].(string), args...)
		var pgErr *pgconn.PgError
		for errors.As(err, &pgErr) && pgErr.Code == "40P01" {
			_, err = pool.Exec(ctx, q[0].(string), args...)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// scanCounters counts from the rows what the triggers count as rows are
// written: what the stats would cost without counters.
const scanCounters = `
SELECT variant, channel, step, metric, sum(n)::bigint FROM (
	SELECT coalesce(variant, '') AS variant, '' AS channel, '' AS step, metric, count(*) AS n FROM (
		SELECT variant, 'enrolled' AS metric FROM journeys WHERE campaign_id = $1
		UNION ALL SELECT variant, 'converted' FROM journeys WHERE campaign_id = $1 AND converted_at IS NOT NULL
		UNION ALL SELECT variant, 'ended:' || status FROM journeys WHERE campaign_id = $1 AND status <> 'active') j
	GROUP BY 1, 4
	UNION ALL
	SELECT coalesce(j.variant, ''), m.channel, m.step, x.metric, count(*)
	FROM messages m LEFT JOIN journeys j ON j.workflow_id = m.journey_id, unnest(message_metrics(m.status, m.reason)) x(metric)
	WHERE m.campaign_id = $1 GROUP BY 1, 2, 3, 4
	UNION ALL
	SELECT coalesce(j.variant, ''), r.channel, coalesce(m.step, ''), r.type, count(*)
	FROM responses r LEFT JOIN journeys j ON j.workflow_id = 'journey:' || r.campaign_id || ':' || r.customer_id
	LEFT JOIN messages m ON m.id = (r.data->>'message_id')::uuid
	WHERE r.campaign_id = $1 GROUP BY 1, 2, 3, 4
) s GROUP BY 1, 2, 3, 4`

// measureScan times the scan n times.
func measureScan(ctx context.Context, db *pgxpool.Pool, campaignID string, n int) (Latency, error) {
	var ms []float64
	for range n {
		start := time.Now()
		if _, err := db.Exec(ctx, scanCounters, campaignID); err != nil {
			return Latency{}, err
		}
		ms = append(ms, float64(time.Since(start).Microseconds())/1000)
	}
	return latency(ms), nil
}

// countersAgree compares the campaign's counters with its scan.
func countersAgree(ctx context.Context, st *store.Store, db *pgxpool.Pool, campaignID string) (bool, error) {
	counted := map[store.Counter]bool{}
	cs, err := st.CampaignCounters(ctx, campaignID)
	if err != nil {
		return false, err
	}
	for _, c := range cs {
		counted[c] = true
	}
	rows, _ := db.Query(ctx, scanCounters, campaignID)
	scanned, err := pgx.CollectRows(rows, pgx.RowToStructByPos[store.Counter])
	if err != nil {
		return false, err
	}
	for _, c := range scanned {
		if !counted[c] {
			fmt.Fprintf(os.Stderr, "omnibench: %s: the scan counts %+v, the counters do not\n", campaignID, c)
			return false, nil
		}
	}
	return len(scanned) == len(cs), nil
}

// viewShape describes the history behind a sample of customers and the
// size of their views.
func viewShape(ctx context.Context, db *pgxpool.Pool, client *http.Client, base string, ids []string) (ViewShape, error) {
	s := ViewShape{Customers: len(ids)}
	err := db.QueryRow(ctx, `
SELECT coalesce(avg(j), 0), coalesce(avg(m), 0), coalesce(max(m), 0), coalesce(avg(r), 0) FROM (
	SELECT (SELECT count(*) FROM journeys WHERE customer_id = cid) AS j, (SELECT count(*) FROM messages WHERE customer_id = cid) AS m,
		(SELECT count(*) FROM responses WHERE customer_id = cid) AS r FROM unnest($1::text[]) cid) x`, ids).
		Scan(&s.MeanJourneys, &s.MeanMessages, &s.MaxMessages, &s.MeanResponses)
	if err != nil {
		return s, err
	}
	var bytes int
	for _, id := range ids {
		body, err := get(client, base+"/v1/customers/"+id)
		if err != nil {
			return s, err
		}
		bytes += len(body)
	}
	s.MeanBytes = float64(bytes) / float64(len(ids))
	return s, nil
}

// measure GETs the path for each id in turn (after a short warm-up) and
// returns the latency distribution.
func measure(client *http.Client, base, path string, ids []string) (Latency, error) {
	for _, id := range ids[:min(20, len(ids))] {
		if _, err := get(client, base+fmt.Sprintf(path, id)); err != nil {
			return Latency{}, err
		}
	}
	ms := make([]float64, 0, len(ids))
	for _, id := range ids {
		start := time.Now()
		if _, err := get(client, base+fmt.Sprintf(path, id)); err != nil {
			return Latency{}, err
		}
		ms = append(ms, float64(time.Since(start).Microseconds())/1000)
	}
	return latency(ms), nil
}

func latency(ms []float64) Latency {
	slices.Sort(ms)
	at := func(q float64) float64 { return ms[min(len(ms)-1, int(q*float64(len(ms))))] }
	return Latency{Requests: len(ms), P50: at(0.50), P99: at(0.99), Max: ms[len(ms)-1]}
}

// throughput is how many customer views concurrent clients get per second.
func throughput(client *http.Client, base string, ids []string, clients int, d time.Duration) (float64, error) {
	var (
		mu    sync.Mutex
		count int
		first error
		wg    sync.WaitGroup
	)
	deadline := time.Now().Add(d)
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; time.Now().Before(deadline); i += clients {
				_, err := get(client, base+"/v1/customers/"+ids[i%len(ids)])
				mu.Lock()
				count++
				if err != nil && first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return float64(count) / d.Seconds(), first
}

func get(client *http.Client, url string) ([]byte, error) {
	res, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err == nil && res.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %d %s", url, res.StatusCode, body)
	}
	return body, err
}

func printHistory(w io.Writer, r HistoryResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "omni history bench\t%s, %d CPUs\t\n", r.Date.Format(time.RFC3339), r.CPUs)
	fmt.Fprintf(tw, "history\t%d customers with a year of it, %d in the broadcast\t%.0f MiB\n", r.Customers, r.Broadcast, r.DatabaseMiB)
	fmt.Fprintf(tw, "rows\t%d journeys, %d messages, %d responses\t%d coupons, %d suppressions\n",
		r.Rows.Journeys, r.Rows.Messages, r.Rows.Responses, r.Rows.Coupons, r.Rows.Suppressions)
	fmt.Fprintf(tw, "load\t%.0f s through the counter triggers\t%.0f rows/s\n", r.LoadSeconds,
		float64(r.Rows.Journeys+r.Rows.Messages+r.Rows.Responses)/r.LoadSeconds)
	for _, name := range []string{"random", "heaviest", "no history"} {
		s := r.Sizes[name]
		fmt.Fprintf(tw, "customers: %s\t%d, each %.0f journeys, %.0f messages (max %d), %.0f responses\tview %.0f KiB\n",
			name, s.Customers, s.MeanJourneys, s.MeanMessages, s.MaxMessages, s.MeanResponses, s.MeanBytes/1024)
	}
	names := make([]string, 0, len(r.Latency))
	for name := range r.Latency {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		l := r.Latency[name]
		fmt.Fprintf(tw, "%s\tp50 %.1f ms, p99 %.1f ms, max %.1f ms\t%d requests\n", name, l.P50, l.P99, l.Max, l.Requests)
	}
	fmt.Fprintf(tw, "customer views\t%.0f /s\t%d concurrent clients\n", r.ViewsPerSecond, r.ViewConcurrency)
	fmt.Fprintf(tw, "counters agree with a scan\t%v\t\n", r.CountersAgree)
	_ = tw.Flush()
}
