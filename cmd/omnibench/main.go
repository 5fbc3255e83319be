// Command omnibench measures omni against the Temporal server it runs on,
// in one run: it starts a Temporal dev server, a fresh PostgreSQL database,
// an omni worker and API with sandbox channels, and prints a table (also
// written as JSON under bench/results/):
//
//   - raw starts: the server's workflow-start rate for a no-op workflow,
//     at the launch's concurrency;
//   - enrollment: a launch of the reference campaign to BENCH_N customers;
//     raw, baseline and omni alternate over BENCH_ROUNDS rounds (default 2);
//   - journeys: the reference campaign (email, wait BENCH_WAIT for a click,
//     push, exit) run to completion for all of them;
//   - baseline: a hand-written workflow of the same shape (two activities,
//     one timer, no database), and omni's ratio to it;
//   - codec: the same journeys with payloads in clear (a client and workers
//     without the payload codec, on a task queue of their own), and the
//     ratio of omni's journeys, encrypted as always, to them;
//   - cost: history events and billable actions per journey, from histories;
//   - responses: latency from POST /v1/responses to the journey acting on it,
//     at BENCH_RATE per second, with BENCH_N journeys waiting;
//   - memory: the worker's RSS with BENCH_N journeys waiting.
//
// `omnibench history` measures the read models on a year of history
// instead (see history.go), `omnibench events` event ingestion and
// event-triggered journeys (events.go). `make bench` runs all three. Nothing here passes or
// fails on time.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"golang.org/x/sync/errgroup"

	"github.com/omni-orchestrator/omni/api"
	"github.com/omni-orchestrator/omni/auth"
	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/channels/sandbox"
	"github.com/omni-orchestrator/omni/codec"
	"github.com/omni-orchestrator/omni/enroll"
	"github.com/omni-orchestrator/omni/journey"
	"github.com/omni-orchestrator/omni/responses"
	"github.com/omni-orchestrator/omni/store"
	"github.com/omni-orchestrator/omni/worker"
)

// Result is one run's figures, as written to bench/results.
type Result struct {
	Date         time.Time `json:"date"`
	CPUs         int       `json:"cpus"`
	N            int       `json:"n"`
	Rounds       int       `json:"rounds"`
	Wait         string    `json:"wait"`
	Concurrency  int       `json:"concurrency"`
	RawStarts    float64   `json:"raw_starts_per_second"`
	Enrollment   float64   `json:"enrolled_per_second"`
	EnrollRatio  float64   `json:"enrollment_to_raw_starts"`
	Journeys     float64   `json:"journeys_per_second"`
	Baseline     float64   `json:"baseline_per_second"`
	JourneyRatio float64   `json:"journeys_to_baseline"`
	// Journeys without the payload codec, and omni's (with it) ratio to
	// them.
	PlainJourneys float64 `json:"journeys_without_codec_per_second"`
	CodecRatio    float64 `json:"journeys_with_codec_to_without"`
	Cost          struct {
		Journey  Cost `json:"journey"`
		Baseline Cost `json:"baseline"`
		Launch   Cost `json:"launch"`
	} `json:"cost"`
	Responses struct {
		Count int     `json:"count"`
		Rate  int     `json:"per_second"`
		P50   float64 `json:"p50_ms"`
		P99   float64 `json:"p99_ms"`
		Max   float64 `json:"max_ms"`
	} `json:"responses"`
	Memory struct {
		Waiting int     `json:"journeys_waiting"`
		RSS     float64 `json:"rss_mib"`
		Heap    float64 `json:"heap_in_use_mib"`
	} `json:"memory"`
}

// Cost is what one workflow's history holds.
type Cost struct {
	Events  int `json:"events"`
	Actions int `json:"billable_actions"`
}

func main() {
	run := run
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "history":
			run = history
		case "events":
			run = events
		}
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "omnibench:", err)
		os.Exit(1)
	}
}

func run() error {
	n := envInt("BENCH_N", 2000)
	rate := envInt("BENCH_RATE", 20)
	rounds := envInt("BENCH_ROUNDS", 2)
	wait := 5 * time.Second
	if d, err := time.ParseDuration(os.Getenv("BENCH_WAIT")); err == nil && d > 0 {
		wait = d
	}
	const concurrency = 16 // the launch's default OMNI_LAUNCH_CONCURRENCY
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	fmt.Fprintf(os.Stderr, "omnibench: N=%d, wait %v, responses at %d/s; starting Temporal dev server and database\n", n, wait, rate)
	key, err := codec.GenerateKey("bench")
	if err != nil {
		return err
	}
	cdc, err := codec.New(key)
	if err != nil {
		return err
	}
	// omni's client encrypts, as in production; plain is the same client
	// without the codec, for the codec's cost, the raw starts and the
	// baseline.
	opts := client.Options{Logger: log.NewStructuredLogger(quiet)}
	cdc.Apply(&opts)
	srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath:  temporalCLI(),
		ClientOptions: &opts,
		LogLevel:      "error",
	})
	if err != nil {
		return fmt.Errorf("start Temporal dev server: %w", err)
	}
	defer func() { _ = srv.Stop() }()
	tc := srv.Client()
	if err := worker.EnsureSearchAttributes(ctx, tc, "default"); err != nil {
		return err
	}
	plain, err := client.DialContext(ctx, client.Options{HostPort: srv.FrontendHostPort(), Logger: log.NewStructuredLogger(quiet)})
	if err != nil {
		return err
	}
	defer plain.Close()
	server := env("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
	db := fmt.Sprintf("omni_bench_%d", time.Now().Unix())
	st, err := store.Open(ctx, server+"/"+db+"?sslmode=disable")
	if err != nil {
		return err
	}
	defer dropDatabase(server, db)
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}

	const taskQueue = "omni"
	omni := func(tc client.Client, taskQueue string) (*enroll.Enroller, worker.Workers) {
		enroller := &enroll.Enroller{Store: st, Temporal: tc, TaskQueue: taskQueue, DefaultTimezone: "UTC"}
		return enroller, worker.New(worker.Deps{Store: st, Temporal: tc, Senders: sandbox.All(quiet), Enroller: enroller},
			worker.Options{TaskQueue: taskQueue, SendConcurrency: 50, PageSize: 500, Concurrency: concurrency})
	}
	enroller, workers := omni(tc, taskQueue)
	plainEnroller, plainWorkers := omni(plain, taskQueue+"-plain")
	workers = append(workers, plainWorkers...)
	base := sdkworker.New(plain, "baseline", sdkworker.Options{})
	base.RegisterWorkflow(Baseline)
	base.RegisterWorkflow(Noop)
	base.RegisterActivity(SendEmail)
	base.RegisterActivity(SendPush)
	workers = append(workers, base)
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

	res := Result{Date: time.Now().UTC(), CPUs: runtime.NumCPU(), N: n, Rounds: rounds, Wait: wait.String(), Concurrency: concurrency}
	if err := seedCustomers(ctx, st, n); err != nil {
		return err
	}

	// The dev server's speed drifts as its history store fills up, so the
	// phases alternate over BENCH_ROUNDS rounds (raw, baseline, omni,
	// omni without the codec; then raw, without the codec, omni,
	// baseline; ...) and each figure sums over the rounds.
	var rawTime, baseTime, enrollTime, journeyTime, plainTime time.Duration
	for round := range rounds {
		step(fmt.Sprintf("round %d of %d: raw starts", round+1, rounds))
		start := time.Now()
		noops, err := startAll(ctx, plain, n, concurrency, "noop", Noop)
		if err != nil {
			return err
		}
		rawTime += time.Since(start)
		if err := waitAll(ctx, noops); err != nil {
			return err
		}
		phases := []func() error{
			func() error {
				step("baseline")
				start := time.Now()
				runs, err := startAll(ctx, plain, n, concurrency, "baseline", Baseline, wait)
				if err == nil {
					err = waitAll(ctx, runs)
				}
				baseTime += time.Since(start)
				if err == nil {
					res.Cost.Baseline, err = cost(ctx, tc, runs[0].GetID())
				}
				return err
			},
			func() error {
				step("enrollment and journeys")
				enrolled, total, launchID, campaignID, err := runReference(ctx, st, enroller, fmt.Sprintf("reference-%d", round+1), wait, n)
				enrollTime += enrolled
				journeyTime += total
				if err == nil {
					res.Cost.Journey, err = cost(ctx, tc, journey.ID(campaignID, customerID(1)))
				}
				if err == nil {
					res.Cost.Launch, err = cost(ctx, tc, launchID)
				}
				return err
			},
			func() error {
				step("journeys without the payload codec")
				_, total, _, _, err := runReference(ctx, st, plainEnroller, fmt.Sprintf("reference-plain-%d", round+1), wait, n)
				plainTime += total
				return err
			},
		}
		if round%2 == 1 {
			slices.Reverse(phases)
		}
		for _, phase := range phases {
			if err := phase(); err != nil {
				return err
			}
		}
	}
	total := float64(n * rounds)
	res.RawStarts, res.Baseline = total/rawTime.Seconds(), total/baseTime.Seconds()
	res.Enrollment, res.Journeys = total/enrollTime.Seconds(), total/journeyTime.Seconds()
	res.EnrollRatio, res.JourneyRatio = res.Enrollment/res.RawStarts, res.Journeys/res.Baseline
	res.PlainJourneys = total / plainTime.Seconds()
	res.CodecRatio = res.Journeys / res.PlainJourneys

	step("responses and memory")
	if err := responseLatency(ctx, st, enroller, apiClient, httpSrv.URL, tc, n, rate, &res); err != nil {
		return err
	}

	printTable(os.Stdout, res)
	return saveJSON(res, fmt.Sprintf("%s-n%d.json", res.Date.Format("2006-01-02T150405Z"), n))
}

// runReference launches the reference campaign (as a campaign of its own
// per phase and round) to every customer and returns how long enrollment
// took, how long until every journey completed, and the launch and
// campaign ids.
func runReference(ctx context.Context, st *store.Store, enroller *enroll.Enroller, id string, wait time.Duration, n int) (enrolled, total time.Duration, launchID, campaignID string, err error) {
	ref, err := createCampaign(ctx, st, fmt.Sprintf(reference, id, wait))
	if err != nil {
		return 0, 0, "", "", err
	}
	start := time.Now()
	launch, err := enroller.StartLaunch(ctx, ref, store.Audience{All: true}, store.Delivery{})
	if err != nil {
		return 0, 0, "", "", err
	}
	err = poll(func() (bool, error) {
		if enrolled == 0 {
			ls, err := st.Launches(ctx, ref.ID)
			if err != nil || len(ls) == 0 || ls[0].Status != "finished" {
				return false, err
			}
			enrolled = time.Since(start)
		}
		counts, err := st.JourneyCounts(ctx, ref.ID)
		return counts[journey.Completed] == n, err
	})
	return enrolled, time.Since(start), launch.ID, ref.ID, err
}

// reference is the reference campaign: email, wait for a click, push to
// those who did not click, exit.
const reference = `{"id": %q, "start_at": "email", "steps": {
	"email": {"send": {"channel": "email", "template": {"subject": "Hi {{id}}", "body": "<p>News for you</p>"}}, "next": "wait"},
	"wait":  {"wait": {"for": ["clicked"], "timeout": %q}, "on": {"clicked": "done", "timeout": "push"}},
	"push":  {"send": {"channel": "push", "template": {"title": "Still there?", "body": "News for you"}}, "next": "done"},
	"done":  {"exit": {}}}}`

// latencyCampaign waits long for the click the benchmark posts.
const latencyCampaign = `{"id": "latency", "start_at": "email", "steps": {
	"email": {"send": {"channel": "email", "template": {"subject": "Hi", "body": "Hi"}}, "next": "wait"},
	"wait":  {"wait": {"for": ["clicked"], "timeout": "1h"}, "next": "done"},
	"done":  {"exit": {}}}}`

// Baseline is the reference journey's shape by hand: an activity, a timer
// that a signal could cut short, an activity; no database.
func Baseline(ctx workflow.Context, wait time.Duration) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	if err := workflow.ExecuteActivity(ctx, SendEmail).Get(ctx, nil); err != nil {
		return err
	}
	clicked := false
	workflow.Go(ctx, func(ctx workflow.Context) {
		workflow.GetSignalChannel(ctx, "response").Receive(ctx, nil)
		clicked = true
	})
	if _, err := workflow.AwaitWithTimeout(ctx, wait, func() bool { return clicked }); err != nil || clicked {
		return err
	}
	return workflow.ExecuteActivity(ctx, SendPush).Get(ctx, nil)
}

// Noop measures the server's raw start rate.
func Noop(workflow.Context) error { return nil }

// SendEmail and SendPush stand for the baseline's sends.
func SendEmail(context.Context) error { return nil }

// SendPush stands for the baseline's second send.
func SendPush(context.Context) error { return nil }

func customerID(i int) string { return fmt.Sprintf("c%07d", i) }

func seedCustomers(ctx context.Context, st *store.Store, n int) error {
	for from := 1; from <= n; from += 1000 {
		var patches []store.CustomerPatch
		for i := from; i < from+1000 && i <= n; i++ {
			email, token := customerID(i)+"@example.com", "fcm-token-"+customerID(i)
			patches = append(patches, store.CustomerPatch{ID: customerID(i), Email: &email, PushToken: &token})
		}
		if _, err := st.UpsertCustomers(ctx, patches); err != nil {
			return err
		}
	}
	return nil
}

func createCampaign(ctx context.Context, st *store.Store, def string) (store.Campaign, error) {
	d, ps := campaign.Parse([]byte(def))
	if len(ps) > 0 {
		return store.Campaign{}, fmt.Errorf("campaign: %v", ps)
	}
	return st.CreateCampaign(ctx, d)
}

// startAll starts n workflows with bounded concurrency, as a launch does.
func startAll(ctx context.Context, tc client.Client, n, concurrency int, prefix string, wf any, args ...any) ([]client.WorkflowRun, error) {
	runs := make([]client.WorkflowRun, n)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for i := range n {
		g.Go(func() error {
			var err error
			runs[i], err = tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
				ID: fmt.Sprintf("%s:%d:%d", prefix, time.Now().UnixNano(), i), TaskQueue: "baseline",
			}, wf, args...)
			return err
		})
	}
	return runs, g.Wait()
}

// waitAll waits for every run, many at a time, so that the waiting adds
// no round trips of its own to the time measured.
func waitAll(ctx context.Context, runs []client.WorkflowRun) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(64)
	for _, r := range runs {
		g.Go(func() error { return r.Get(ctx, nil) })
	}
	return g.Wait()
}

// cost counts a workflow's history events and its billable actions by
// Temporal Cloud's rules (docs.temporal.io/cloud/actions): a start, each
// activity attempt, each timer, each signal, each search-attribute upsert
// (TemporalChangeVersion exempt), and one for all the markers of a
// workflow task ("Temporal Cloud counts all RecordMarkers from each
// Workflow Task as one action": local activities, and versions too as we
// read it). Activity heartbeats are not in histories; omni's sends
// heartbeat only when the database fails them.
func cost(ctx context.Context, tc client.Client, workflowID string) (Cost, error) {
	var c Cost
	markerTasks := map[int64]bool{}
	it := tc.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return c, err
		}
		c.Events++
		c.Actions += actions(ev, markerTasks)
	}
	return c, nil
}

func actions(ev *historypb.HistoryEvent, markerTasks map[int64]bool) int {
	switch ev.GetEventType() {
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, enumspb.EVENT_TYPE_TIMER_STARTED,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
		return 1
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
		return int(max(1, ev.GetActivityTaskStartedEventAttributes().GetAttempt()))
	case enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
		fields := ev.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes().GetIndexedFields()
		if _, ok := fields["TemporalChangeVersion"]; ok && len(fields) == 1 {
			return 0
		}
		return 1
	case enumspb.EVENT_TYPE_MARKER_RECORDED:
		task := ev.GetMarkerRecordedEventAttributes().GetWorkflowTaskCompletedEventId()
		if markerTasks[task] {
			return 0
		}
		markerTasks[task] = true
		return 1
	}
	return 0
}

// responseLatency enrolls n customers in a campaign that waits for a click,
// measures memory with all of them waiting, then posts a click for each at
// rate per second and times each journey from the post to its completion.
func responseLatency(ctx context.Context, st *store.Store, enroller *enroll.Enroller, apiClient *http.Client, apiURL string, tc client.Client, n, rate int, res *Result) error {
	c, err := createCampaign(ctx, st, latencyCampaign)
	if err != nil {
		return err
	}
	if _, err := enroller.StartLaunch(ctx, c, store.Audience{All: true}, store.Delivery{}); err != nil {
		return err
	}
	if err := poll(func() (bool, error) {
		steps, err := st.JourneySteps(ctx, c.ID)
		return steps["wait"] == n, err
	}); err != nil {
		return err
	}
	debug.FreeOSMemory() // what earlier phases left behind is not the journeys'
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.Memory.Waiting, res.Memory.RSS, res.Memory.Heap = n, rssMiB(), float64(ms.HeapInuse)/(1<<20)

	latencies := make([]time.Duration, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for i := range n {
		<-tick.C
		wg.Go(func() {
			customer := customerID(i + 1)
			body := fmt.Sprintf(`{"event_id": "click-%d", "customer_id": %q, "campaign_id": %q, "channel": "email", "type": "clicked"}`, i, customer, c.ID)
			posted := time.Now()
			r, err := apiClient.Post(apiURL+"/v1/responses", "application/json", strings.NewReader(body))
			if err == nil {
				r.Body.Close()
				if r.StatusCode != http.StatusCreated {
					err = fmt.Errorf("POST /v1/responses: %s", r.Status)
				}
			}
			if err == nil {
				err = tc.GetWorkflow(ctx, journey.ID(c.ID, customer), "").Get(ctx, nil)
			}
			latencies[i] = time.Since(posted)
			if err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	slices.Sort(latencies)
	ms2 := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	res.Responses.Count, res.Responses.Rate = n, rate
	res.Responses.P50, res.Responses.P99, res.Responses.Max = ms2(latencies[n/2]), ms2(latencies[n*99/100]), ms2(latencies[n-1])
	return nil
}

// rssMiB is this process's resident set: worker, API and driver together,
// like `omni dev`.
func rssMiB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}

// dropDatabase drops the run's database once its store is closed.
func dropDatabase(server, db string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, server+"/postgres?sslmode=disable")
	if err != nil {
		fmt.Fprintln(os.Stderr, "omnibench: database", db, "left behind:", err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)"); err != nil {
		fmt.Fprintln(os.Stderr, "omnibench: database", db, "left behind:", err)
	}
}

func poll(done func() (bool, error)) error {
	deadline := time.Now().Add(30 * time.Minute)
	for {
		ok, err := done()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up waiting after 30 minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func printTable(w io.Writer, r Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "omni bench\t%s, %d CPUs, N=%d × %d rounds, wait %s\t\n", r.Date.Format(time.RFC3339), r.CPUs, r.N, r.Rounds, r.Wait)
	fmt.Fprintf(tw, "raw workflow starts\t%.0f /s (concurrency %d)\t\n", r.RawStarts, r.Concurrency)
	fmt.Fprintf(tw, "enrollment\t%.0f customers/s\t%.2f× raw starts\n", r.Enrollment, r.EnrollRatio)
	fmt.Fprintf(tw, "baseline workflow\t%.1f completed/s\t\n", r.Baseline)
	fmt.Fprintf(tw, "omni journeys\t%.1f completed/s\t%.2f× baseline\n", r.Journeys, r.JourneyRatio)
	fmt.Fprintf(tw, "  without the payload codec\t%.1f completed/s\tencrypted %.2f× without\n", r.PlainJourneys, r.CodecRatio)
	fmt.Fprintf(tw, "cost per journey\t%d events, %d actions\tbaseline %d events, %d actions\n",
		r.Cost.Journey.Events, r.Cost.Journey.Actions, r.Cost.Baseline.Events, r.Cost.Baseline.Actions)
	fmt.Fprintf(tw, "launch history\t%d events\tfor %d customers\n", r.Cost.Launch.Events, r.N)
	fmt.Fprintf(tw, "responses\tp50 %.0f ms, p99 %.0f ms, max %.0f ms\t%d at %d/s\n", r.Responses.P50, r.Responses.P99, r.Responses.Max, r.Responses.Count, r.Responses.Rate)
	fmt.Fprintf(tw, "memory\t%.0f MiB RSS, %.0f MiB heap\t%d journeys waiting\n", r.Memory.RSS, r.Memory.Heap, r.Memory.Waiting)
	_ = tw.Flush()
}

// saveJSON writes a run's figures under BENCH_OUT (bench/results).
func saveJSON(r any, name string) error {
	dir := env("BENCH_OUT", filepath.Join("bench", "results"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	file := filepath.Join(dir, name)
	fmt.Println("written to", file)
	return os.WriteFile(file, append(data, '\n'), 0o644)
}

func step(name string) { fmt.Fprintf(os.Stderr, "omnibench: %s…\n", name) }

// temporalCLI is the CLI `make` installs, as OMNI_TEMPORAL_CLI names it.
func temporalCLI() string {
	if p := os.Getenv("OMNI_TEMPORAL_CLI"); p != "" {
		return p
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "omni", "bin", "temporal-v1.5.1", "temporal")
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func envInt(key string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(key)); err == nil && n > 0 {
		return n
	}
	return def
}

// keyedClient is an HTTP client that calls the API with a new admin key.
func keyedClient(ctx context.Context, st *store.Store, base http.RoundTripper) (*http.Client, error) {
	_, key, err := auth.Create(ctx, st, "omnibench", auth.Scopes, nil)
	return &http.Client{Transport: bearer{key: key, base: base}}, err
}

// bearer sends an API key with every request.
type bearer struct {
	key  string
	base http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.key)
	return b.base.RoundTrip(r)
}
