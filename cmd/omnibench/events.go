package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/omni-orchestrator/omni/api"
	"github.com/omni-orchestrator/omni/channels/sandbox"
	"github.com/omni-orchestrator/omni/codec"
	"github.com/omni-orchestrator/omni/enroll"
	"github.com/omni-orchestrator/omni/responses"
	"github.com/omni-orchestrator/omni/worker"
)

// EventsResult is one `omnibench events` run's figures.
type EventsResult struct {
	Date      time.Time `json:"date"`
	CPUs      int       `json:"cpus"`
	Customers int       `json:"customers"`
	Campaigns int       `json:"triggered_campaigns"`
	Batch     int       `json:"batch"`
	Rounds    int       `json:"rounds"`
	// Ingestion is POST /v1/events with batches of Batch events, each
	// checked against every campaign its name triggers; Insert the same
	// rows as one multi-row INSERT a batch into a table of the same shape.
	Ingestion float64 `json:"events_per_second"`
	Insert    float64 `json:"insert_rows_per_second"`
	Ratio     float64 `json:"ingestion_to_insert"`
	// FirstSend is the time from POST /v1/events of a triggering event to
	// the triggered journey's first message recorded sent, at Rate a
	// second.
	FirstSend Latency `json:"event_to_first_send"`
	// Answered is the same events' POST /v1/events round trip: stored,
	// and the journey entered.
	Answered Latency `json:"event_answered"`
	Rate     int     `json:"rate_per_second"`
}

// triggeredCampaign is a campaign that event name enters when where holds.
func triggeredCampaign(id, name, where string) string {
	return fmt.Sprintf(`{"id": %q, "offer_id": "BENCH", "start_at": "email-1",
  "trigger": {"event": %q, "where": %s},
  "entry": {"reentry": "always"},
  "steps": {"email-1": {"send": {"channel": "email", "template": {"subject": "Hi", "body": "{{event.sku}}"}}, "next": "done"},
            "done": {"exit": {}}}}`, id, name, where)
}

// events measures event ingestion and the latency of event-triggered
// journeys: EVENTS_CUSTOMERS customers (100,000); EVENTS_CAMPAIGNS
// campaigns (10) triggered by product_viewed under a condition on the
// event's price and the customer's attributes that one event in a
// thousand meets, so each event is tested against all of them and a few
// enter; EVENTS_ROUNDS rounds (3) of EVENTS_BATCHES batches (10) of 1,000
// events, alternating with the same rows inserted plainly; then signed_up
// events at EVENTS_RATE a second (50) for EVENTS_SECONDS (20), each
// entering a campaign whose first step is an email.
func events() error {
	customers := envInt("EVENTS_CUSTOMERS", 100_000)
	campaigns := envInt("EVENTS_CAMPAIGNS", 10)
	rounds := envInt("EVENTS_ROUNDS", 3)
	batches := envInt("EVENTS_BATCHES", 10)
	rate := envInt("EVENTS_RATE", 50)
	seconds := envInt("EVENTS_SECONDS", 20)
	const batch = api.MaxEventsPerCall
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	key, err := codec.GenerateKey("bench")
	if err != nil {
		return err
	}
	cdc, err := codec.New(key)
	if err != nil {
		return err
	}
	opts := client.Options{Logger: log.NewStructuredLogger(quiet)}
	cdc.Apply(&opts)
	step("starting Temporal dev server and database")
	srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{ExistingPath: temporalCLI(), ClientOptions: &opts, LogLevel: "error"})
	if err != nil {
		return fmt.Errorf("start Temporal dev server: %w", err)
	}
	defer func() { _ = srv.Stop() }()
	tc := srv.Client()
	if err := worker.EnsureSearchAttributes(ctx, tc, "default"); err != nil {
		return err
	}
	st, url, done, err := freshStore(ctx, pgServer(), "omni_events")
	if err != nil {
		return err
	}
	defer done()
	enroller := &enroll.Enroller{Store: st, Temporal: tc, TaskQueue: "omni", DefaultTimezone: "UTC"}
	workers := worker.New(worker.Deps{Store: st, Temporal: tc, Senders: sandbox.All(quiet), Enroller: enroller},
		worker.Options{TaskQueue: "omni", SendConcurrency: 50})
	if err := workers.Start(); err != nil {
		return err
	}
	defer workers.Stop()
	httpSrv := httptest.NewServer((&api.Server{Store: st, Temporal: tc, Enroller: enroller,
		Responses: &responses.Recorder{Store: st, Temporal: tc, Enroller: enroller}, Logger: quiet}).Handler())
	defer httpSrv.Close()
	apiClient, err := keyedClient(ctx, st, http.DefaultTransport)
	if err != nil {
		return err
	}
	post := func(path string, body any) (int, []byte, error) {
		data, _ := json.Marshal(body)
		if s, ok := body.(string); ok {
			data = []byte(s)
		}
		res, err := apiClient.Post(httpSrv.URL+path, "application/json", bytes.NewReader(data))
		if err != nil {
			return 0, nil, err
		}
		defer res.Body.Close()
		out, err := io.ReadAll(res.Body)
		return res.StatusCode, out, err
	}

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	step(fmt.Sprintf("loading %d customers and %d triggered campaigns", customers, campaigns))
	if _, err := conn.Exec(ctx, `INSERT INTO customers (id, email, attributes)
SELECT 'c' || i, 'c' || i || '@example.com', jsonb_build_object('tier', i % 10) FROM generate_series(1, $1) i`, customers); err != nil {
		return err
	}
	for i := range campaigns {
		// One event in a thousand is priced over 990, and a tenth of the
		// customers are tier i.
		where := fmt.Sprintf(`{"all": [{"property": "price", "gt": 990}, {"attribute": "tier", "equals": %d}]}`, i)
		if code, out, err := post("/v1/campaigns", triggeredCampaign(fmt.Sprintf("viewed-%d", i), "product_viewed", where)); err != nil || code != 201 {
			return fmt.Errorf("define campaign: %d %s %v", code, out, err)
		}
	}
	if code, out, err := post("/v1/campaigns", triggeredCampaign("welcome", "signed_up", `{"exists": true, "property": "plan"}`)); err != nil || code != 201 {
		return fmt.Errorf("define campaign: %d %s %v", code, out, err)
	}
	// The plain table has the events table's columns and indexes.
	if _, err := conn.Exec(ctx, `CREATE TABLE plain_events (LIKE events INCLUDING ALL)`); err != nil {
		return err
	}

	res := EventsResult{Date: time.Now().UTC(), CPUs: runtime.NumCPU(), Customers: customers, Campaigns: campaigns,
		Batch: batch, Rounds: rounds, Rate: rate}
	rng := rand.New(rand.NewPCG(1, 2))
	seq := 0
	makeBatch := func() []map[string]any {
		out := make([]map[string]any, batch)
		for i := range out {
			seq++
			out[i] = map[string]any{"event_id": fmt.Sprintf("v-%d", seq), "customer_id": fmt.Sprintf("c%d", 1+rng.IntN(customers)),
				"name": "product_viewed", "properties": map[string]any{"sku": fmt.Sprintf("sku-%d", rng.IntN(5000)), "price": rng.IntN(1000)}}
		}
		return out
	}
	var ingestTime, insertTime time.Duration
	var ingested, inserted int
	for r := range rounds {
		step(fmt.Sprintf("round %d of %d: %d batches through the API, then the same rows inserted", r+1, rounds, batches))
		var round [][]map[string]any
		for range batches {
			round = append(round, makeBatch())
		}
		start := time.Now()
		for _, b := range round {
			code, out, err := post("/v1/events", b)
			if err != nil || code != 200 {
				return fmt.Errorf("post events: %d %s %v", code, out, err)
			}
			var answer api.EventsAnswer
			if err := json.Unmarshal(out, &answer); err != nil || answer.Accepted != len(b) {
				return fmt.Errorf("post events: %d of %d accepted: %s", answer.Accepted, len(b), out)
			}
		}
		ingestTime += time.Since(start)
		ingested += batches * batch
		start = time.Now()
		for _, b := range round {
			if err := insertPlain(ctx, conn, b); err != nil {
				return err
			}
		}
		insertTime += time.Since(start)
		inserted += batches * batch
	}
	res.Ingestion = float64(ingested) / ingestTime.Seconds()
	res.Insert = float64(inserted) / insertTime.Seconds()
	res.Ratio = res.Ingestion / res.Insert

	step(fmt.Sprintf("signed_up at %d/s for %ds, each entering a journey that sends an email", rate, seconds))
	n := rate * seconds
	posted, answered := make([]time.Time, n), make([]float64, n)
	tick := time.NewTicker(time.Second / time.Duration(rate))
	var wg sync.WaitGroup
	for i := range n {
		<-tick.C
		posted[i] = time.Now()
		wg.Go(func() {
			body := map[string]any{"event_id": fmt.Sprintf("s-%d", i), "customer_id": fmt.Sprintf("c%d", i+1),
				"name": "signed_up", "properties": map[string]any{"plan": "pro", "sku": "welcome"}}
			if code, out, err := post("/v1/events", body); err != nil || code != 201 {
				fmt.Fprintf(os.Stderr, "omnibench: signed_up %d: %d %s %v\n", i, code, out, err)
			}
			answered[i] = float64(time.Since(posted[i]).Microseconds()) / 1000
		})
	}
	tick.Stop()
	wg.Wait()
	res.Answered = latency(answered)
	var ms []float64
	deadline := time.Now().Add(time.Minute)
	for len(ms) < n && time.Now().Before(deadline) {
		time.Sleep(time.Second)
		rows, _ := conn.Query(ctx, `SELECT substr(customer_id, 2)::int - 1, sent_at FROM messages
WHERE campaign_id = 'welcome' AND sent_at IS NOT NULL`)
		sent, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct {
			I  int
			At time.Time
		}])
		if err != nil {
			return err
		}
		ms = ms[:0]
		for _, s := range sent {
			ms = append(ms, float64(s.At.Sub(posted[s.I]).Microseconds())/1000)
		}
	}
	if len(ms) < n {
		return fmt.Errorf("%d of %d triggered journeys sent their first message within a minute", len(ms), n)
	}
	res.FirstSend = latency(ms)

	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "events (%d customers, %d triggered campaigns, batches of %d, %d CPUs)\t\n", customers, campaigns, batch, res.CPUs)
	fmt.Fprintf(tw, "ingestion through the API\t%.0f events/s\n", res.Ingestion)
	fmt.Fprintf(tw, "plain multi-row INSERT\t%.0f rows/s\n", res.Insert)
	fmt.Fprintf(tw, "ratio\t%.2f×\n", res.Ratio)
	fmt.Fprintf(tw, "event answered\tp50 %.0f ms, p99 %.0f ms, max %.0f ms\n", res.Answered.P50, res.Answered.P99, res.Answered.Max)
	fmt.Fprintf(tw, "event to first send\tp50 %.0f ms, p99 %.0f ms, max %.0f ms\t%d at %d/s\n", res.FirstSend.P50, res.FirstSend.P99, res.FirstSend.Max, n, rate)
	if err := tw.Flush(); err != nil {
		return err
	}
	return saveJSON(res, "events-"+res.Date.Format("20060102-150405")+".json")
}

// insertPlain writes a batch's rows as one multi-row INSERT, the least a
// store of events must do.
func insertPlain(ctx context.Context, conn *pgx.Conn, b []map[string]any) error {
	var sql bytes.Buffer
	sql.WriteString(`INSERT INTO plain_events (event_id, customer_id, name, occurred_at, properties) VALUES `)
	args := make([]any, 0, 4*len(b))
	for i, e := range b {
		if i > 0 {
			sql.WriteString(",")
		}
		fmt.Fprintf(&sql, "($%d, $%d, $%d, now(), $%d)", 4*i+1, 4*i+2, 4*i+3, 4*i+4)
		args = append(args, e["event_id"], e["customer_id"], e["name"], e["properties"])
	}
	sql.WriteString(" ON CONFLICT (event_id) DO NOTHING")
	_, err := conn.Exec(ctx, sql.String(), args...)
	return err
}
