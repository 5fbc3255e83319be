// Command omnibench measures omni against the Temporal servers it runs on,
// in one run, for each of BENCH_SERVERS in turn: the Temporal dev server,
// and a Temporal server persisting to PostgreSQL (the compose file's
// topology; see server.go). Against each it starts a fresh PostgreSQL
// database, omni workers and an API with sandbox channels, and prints a
// table; both servers' figures go side by side into one JSON file under
// bench/results/. Over BENCH_ROUNDS rounds (default 2) the phases
// alternate their order:
//
//   - raw starts: the server's workflow-start rate for a no-op workflow,
//     at the launch's concurrency, and the same started like a journey
//     (its encrypted input, search attributes and summary);
//   - enrollment: a launch of the reference campaign to BENCH_N customers;
//   - journeys: the reference campaign (email, wait BENCH_WAIT for a click,
//     push, exit) run to completion for all of them;
//   - baseline: a hand-written workflow of the same shape (two activities,
//     one timer, no database), and omni's ratio to it; also behind a
//     workflow.GetVersion;
//   - experiments: eager workflow start, two workers on one task queue,
//     one worker with twice the pollers, and the journeys without the
//     payload codec, each as a ratio to what it changes;
//   - cost: history events, billable actions and start-input bytes per
//     journey, from histories;
//   - responses: latency from POST /v1/responses to the journey acting on
//     it, at BENCH_RATE per second, with BENCH_WAITING journeys waiting;
//   - memory: the process's RSS with those journeys waiting.
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
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/proto"

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
	"github.com/omni-orchestrator/omni/workflows"
)

// Result is one run's figures, as written to bench/results.
type Result struct {
	Server       string    `json:"server"`
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
	// Journeys with two workers on one task queue, and their ratio to one
	// worker's.
	TwoWorkers  float64      `json:"journeys_two_workers_per_second"`
	ScaleOut    float64      `json:"two_workers_to_one"`
	Experiments []Experiment `json:"experiments"`
	Cost        struct {
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

// Experiment is one variant measured in the same rounds as what it is
// compared with: what it changed, and the ratio of their rates.
type Experiment struct {
	Name         string  `json:"name"`
	Changed      string  `json:"changed"`
	Measures     string  `json:"measures"`
	PerSecond    float64 `json:"per_second"`
	ComparedWith string  `json:"compared_with"`
	Ratio        float64 `json:"ratio"`
}

// Cost is what one workflow's history holds.
type Cost struct {
	Events  int `json:"events"`
	Actions int `json:"billable_actions"`
	// InputBytes is the size of the workflow's start input as stored.
	InputBytes int `json:"start_input_bytes"`
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

// Report is one run's figures, as written to bench/results: the same
// measurements against the Temporal dev server and against a Temporal
// server persisting to PostgreSQL, side by side.
type Report struct {
	Date     time.Time `json:"date"`
	CPUs     int       `json:"cpus"`
	Dev      *Result   `json:"dev_server,omitempty"`
	Postgres *Result   `json:"postgres_server,omitempty"`
}

func run() error {
	cfg := config{
		n:       envInt("BENCH_N", 2000),
		rate:    envInt("BENCH_RATE", 100),
		rounds:  envInt("BENCH_ROUNDS", 2),
		wait:    5 * time.Second,
		servers: strings.Split(env("BENCH_SERVERS", "dev,postgres"), ","),
		skip:    strings.Split(os.Getenv("BENCH_SKIP"), ","),
	}
	cfg.waiting = envInt("BENCH_WAITING", cfg.n)
	if d, err := time.ParseDuration(os.Getenv("BENCH_WAIT")); err == nil && d > 0 {
		cfg.wait = d
	}
	ctx := context.Background()
	pgServer := pgServer()
	key, err := codec.GenerateKey("bench")
	if err != nil {
		return err
	}
	cdc, err := codec.New(key)
	if err != nil {
		return err
	}
	report := Report{Date: time.Now().UTC(), CPUs: runtime.NumCPU()}
	for _, server := range cfg.servers {
		var hostPort string
		var stop func()
		switch server {
		case "dev":
			step("starting the Temporal dev server")
			srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
				ExistingPath:  temporalCLI(),
				ClientOptions: &client.Options{Logger: quietLogger()},
				LogLevel:      "error",
			})
			if err != nil {
				return fmt.Errorf("start Temporal dev server: %w", err)
			}
			hostPort, stop = srv.FrontendHostPort(), func() { _ = srv.Stop() }
		case "postgres":
			step("starting the Temporal server on PostgreSQL (" + temporalServer() + ")")
			srv, err := startPostgresTemporal(ctx, temporalServer(), pgServer)
			if err != nil {
				return err
			}
			hostPort, stop = srv.hostPort, srv.Stop
			step("Temporal server on PostgreSQL at " + hostPort + ", its log in " + srv.dir)
		default:
			return fmt.Errorf("BENCH_SERVERS: %q is neither dev nor postgres", server)
		}
		res, err := measureServer(ctx, cfg, server, hostPort, pgServer, cdc)
		stop()
		if err != nil {
			return fmt.Errorf("%s server: %w", server, err)
		}
		printTable(os.Stdout, res)
		if server == "dev" {
			report.Dev = &res
		} else {
			report.Postgres = &res
		}
		// Written after each server, so a run cut short keeps what it
		// measured.
		if err := saveJSON(report, fmt.Sprintf("%s-n%d.json", report.Date.Format("2006-01-02T150405Z"), cfg.n)); err != nil {
			return err
		}
	}
	return nil
}

type config struct {
	n, waiting, rate, rounds int
	wait                     time.Duration
	servers, skip            []string
}

// measureServer runs every phase against the server at hostPort, with a fresh
// omni database of its own.
func measureServer(ctx context.Context, cfg config, server, hostPort, pgServer string, cdc *codec.Codec) (Result, error) {
	n := cfg.n
	const concurrency = 16 // the launch's default OMNI_LAUNCH_CONCURRENCY
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	fmt.Fprintf(os.Stderr, "omnibench: %s server, N=%d, wait %v, responses at %d/s with %d waiting\n", server, n, cfg.wait, cfg.rate, cfg.waiting)

	// omni's clients encrypt, as in production; plain is a client without
	// the codec, for the codec's cost, the raw starts and the baseline.
	dial := func(encrypted bool) (client.Client, error) {
		opts := client.Options{HostPort: hostPort, Logger: quietLogger()}
		if encrypted {
			cdc.Apply(&opts)
		}
		return client.DialContext(ctx, opts)
	}
	var clients []client.Client
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	newClient := func(encrypted bool) client.Client {
		c, err := dial(encrypted)
		if err != nil {
			panic(err) // the server answered the first dial; see below
		}
		clients = append(clients, c)
		return c
	}
	tc, err := dial(true)
	if err != nil {
		return Result{}, err
	}
	clients = append(clients, tc)
	// A fresh server knows its namespace within its cache's refresh.
	if err := retry(time.Minute, func() error { return worker.EnsureSearchAttributes(ctx, tc, "default") }); err != nil {
		return Result{}, err
	}
	plain := newClient(false)
	st, _, done, err := freshStore(ctx, pgServer, "omni_bench")
	if err != nil {
		return Result{}, err
	}
	defer done()

	// Each variant of omni has its task queue and workers: as deployed
	// (one worker), without the codec, with eager workflow start, and two
	// workers (each its own client and connection, as two processes
	// would have) sharing one queue.
	var workers worker.Workers
	omni := func(tc client.Client, taskQueue string, eager bool, pollers int) *enroll.Enroller {
		enroller := &enroll.Enroller{Store: st, Temporal: tc, TaskQueue: taskQueue, DefaultTimezone: "UTC", EagerStart: eager}
		workers = append(workers, worker.New(worker.Deps{Store: st, Temporal: tc, Senders: sandbox.All(quiet), Enroller: enroller},
			worker.Options{TaskQueue: taskQueue, SendConcurrency: 50, PageSize: 500, Concurrency: concurrency,
				Tuning: worker.Tuning{WorkflowPollers: pollers, ActivityPollers: pollers}})...)
		return enroller
	}
	enroller := omni(tc, "omni", false, 0)
	plainEnroller := omni(plain, "omni-plain", false, 0)
	eagerEnroller := omni(tc, "omni-eager", true, 0)
	twoEnroller := omni(newClient(true), "omni-two", false, 0)
	omni(newClient(true), "omni-two", false, 0)
	// As many pollers as two workers have (the SDK's 2 each, twice), in
	// one: whether a second worker helps by its pollers or its process.
	pollersEnroller := omni(newClient(true), "omni-pollers", false, 4)
	base := sdkworker.New(plain, "baseline", sdkworker.Options{})
	base.RegisterWorkflow(Baseline)
	base.RegisterWorkflow(VersionedBaseline)
	base.RegisterWorkflow(Noop)
	base.RegisterActivity(SendEmail)
	base.RegisterActivity(SendPush)
	shaped := sdkworker.New(tc, "baseline-shaped", sdkworker.Options{})
	shaped.RegisterWorkflow(NoopJourney)
	workers = append(workers, base, shaped)
	if err := workers.Start(); err != nil {
		return Result{}, err
	}
	defer workers.Stop()
	if err := searchAttributesAccepted(ctx, tc); err != nil {
		return Result{}, err
	}
	httpSrv := httptest.NewServer((&api.Server{Store: st, Temporal: tc, Enroller: enroller,
		Responses: &responses.Recorder{Store: st, Temporal: tc, Enroller: enroller}, Logger: quiet}).Handler())
	defer httpSrv.Close()
	apiClient, err := keyedClient(ctx, st, http.DefaultTransport)
	if err != nil {
		return Result{}, err
	}

	res := Result{Server: server, Date: time.Now().UTC(), CPUs: runtime.NumCPU(), N: n, Rounds: cfg.rounds, Wait: cfg.wait.String(), Concurrency: concurrency}
	if err := seedCustomers(ctx, st, n); err != nil {
		return res, err
	}
	shapedInput, err := journeyShapedInput(cfg.wait)
	if err != nil {
		return res, err
	}
	shapedOptions := client.StartWorkflowOptions{
		TaskQueue:             "baseline-shaped",
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(journey.CampaignIDAttr.ValueSet(shapedInput.CampaignID), journey.CustomerIDAttr.ValueSet(shapedInput.CustomerID)),
		StaticSummary:         fmt.Sprintf("%s v%d for customer %s", shapedInput.CampaignID, shapedInput.Version, shapedInput.CustomerID),
	}

	// Servers' speed drifts as their stores fill up, so the phases
	// alternate over BENCH_ROUNDS rounds (in one order, then reversed)
	// and each figure sums over the rounds.
	took := map[string]time.Duration{}
	starts := func(name string, c client.Client, opts client.StartWorkflowOptions, wf any, args ...any) phase {
		return phase{name, func() error {
			step(name)
			start := time.Now()
			runs, err := startAll(ctx, c, n, concurrency, opts, strings.ReplaceAll(name, " ", "-"), wf, args...)
			took[name] += time.Since(start)
			if err == nil {
				err = waitAll(ctx, runs)
			}
			return err
		}}
	}
	baseline := func(name string, wf any) phase {
		return phase{name, func() error {
			step(name)
			start := time.Now()
			runs, err := startAll(ctx, plain, n, concurrency, client.StartWorkflowOptions{TaskQueue: "baseline"}, strings.ReplaceAll(name, " ", "-"), wf, cfg.wait)
			if err == nil {
				err = waitAll(ctx, runs)
			}
			took[name] += time.Since(start)
			if err == nil && name == "baseline" {
				res.Cost.Baseline, err = cost(ctx, tc, runs[0].GetID())
			}
			return err
		}}
	}
	launches := 0
	reference := func(name string, e *enroll.Enroller) phase {
		return phase{name, func() error {
			step(name)
			launches++
			id := fmt.Sprintf("%s-%d", strings.ReplaceAll(name, " ", "-"), launches)
			enrolled, total, launchID, campaignID, err := runReference(ctx, st, e, id, cfg.wait, n)
			took[name+" enrollment"] += enrolled
			took[name] += total
			if err == nil && name == "omni" {
				res.Cost.Journey, err = cost(ctx, tc, journey.ID(campaignID, customerID(1)))
				if err == nil {
					res.Cost.Launch, err = cost(ctx, tc, launchID)
				}
			}
			return err
		}}
	}
	for round := range cfg.rounds {
		step(fmt.Sprintf("%s server, round %d of %d", server, round+1, cfg.rounds))
		phases := []phase{
			starts("raw", plain, client.StartWorkflowOptions{TaskQueue: "baseline"}, Noop),
			starts("raw journey-shaped", tc, shapedOptions, NoopJourney, shapedInput),
			baseline("baseline", Baseline),
			baseline("baseline with a version", VersionedBaseline),
			reference("omni", enroller),
			reference("omni eager", eagerEnroller),
			reference("omni two workers", twoEnroller),
			reference("omni four pollers", pollersEnroller),
			reference("omni without the codec", plainEnroller),
		}
		phases = slices.DeleteFunc(phases, func(p phase) bool { return cfg.skips(server, p.name) })
		if round%2 == 1 {
			slices.Reverse(phases)
		}
		for _, phase := range phases {
			if err := phase.run(); err != nil {
				return res, err
			}
		}
	}
	total := float64(n * cfg.rounds)
	rate := func(name string) float64 { // 0 for a phase skipped
		if took[name] == 0 {
			return 0
		}
		return total / took[name].Seconds()
	}
	res.RawStarts, res.Baseline = rate("raw"), rate("baseline")
	res.Enrollment, res.Journeys = rate("omni enrollment"), rate("omni")
	res.EnrollRatio, res.JourneyRatio = ratio(res.Enrollment, res.RawStarts), ratio(res.Journeys, res.Baseline)
	res.PlainJourneys = rate("omni without the codec")
	res.CodecRatio = ratio(res.Journeys, res.PlainJourneys)
	res.TwoWorkers = rate("omni two workers")
	res.ScaleOut = ratio(res.TwoWorkers, res.Journeys)
	experiment := func(name, changed, of string, perSecond float64, against string, to float64) {
		if perSecond == 0 || to == 0 {
			return
		}
		res.Experiments = append(res.Experiments, Experiment{Name: name, Changed: changed, Measures: of,
			PerSecond: perSecond, ComparedWith: against, Ratio: perSecond / to})
	}
	experiment("raw journey-shaped", "no-op workflow started with a journey's start: its input encrypted, the CampaignId and CustomerId search attributes, the static summary",
		"starts", rate("raw journey-shaped"), "raw", res.RawStarts)
	experiment("omni enrollment", "as deployed: a launch (rows written before and after each start) of the reference campaign",
		"enrollment", res.Enrollment, "raw journey-shaped", rate("raw journey-shaped"))
	experiment("omni eager enrollment", "the launch's starts ask for eager workflow start (Enroller.EagerStart)",
		"enrollment", rate("omni eager enrollment"), "omni enrollment", res.Enrollment)
	experiment("omni eager enrollment", "as above",
		"enrollment", rate("omni eager enrollment"), "raw", res.RawStarts)
	experiment("baseline with a version", "the baseline with a workflow.GetVersion first (a marker and its TemporalChangeVersion upsert)",
		"journeys", rate("baseline with a version"), "baseline", res.Baseline)
	experiment("omni eager", "journeys started with eager workflow start",
		"journeys", rate("omni eager"), "omni", res.Journeys)
	experiment("omni eager", "as above",
		"journeys", rate("omni eager"), "baseline", res.Baseline)
	experiment("omni two workers", "two workers (two clients, one task queue) instead of one",
		"journeys", res.TwoWorkers, "omni", res.Journeys)
	experiment("omni four pollers", "one worker with 4 workflow and 4 activity pollers (OMNI_WORKFLOW_POLLERS, OMNI_ACTIVITY_POLLERS) instead of the SDK's 2",
		"journeys", rate("omni four pollers"), "omni", res.Journeys)
	experiment("omni two workers", "as above",
		"journeys", res.TwoWorkers, "omni four pollers", rate("omni four pollers"))

	step("responses and memory")
	if err := seedCustomers(ctx, st, cfg.waiting); err != nil {
		return res, err
	}
	if err := responseLatency(ctx, st, enroller, apiClient, httpSrv.URL, tc, cfg.waiting, cfg.rate, &res); err != nil {
		return res, err
	}
	return res, nil
}

// searchAttributesAccepted waits until the server takes starts with the
// journeys' search attributes: a fresh server's frontend learns of the
// ones just registered within its cache's refresh.
func searchAttributesAccepted(ctx context.Context, tc client.Client) error {
	return retry(2*time.Minute, func() error {
		run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: fmt.Sprintf("probe:%d", time.Now().UnixNano()), TaskQueue: "baseline",
			TypedSearchAttributes: temporal.NewSearchAttributes(journey.CampaignIDAttr.ValueSet("probe"), journey.CustomerIDAttr.ValueSet("probe")),
		}, Noop)
		if err == nil {
			err = run.Get(ctx, nil)
		}
		return err
	})
}

// retry calls fn every second until it succeeds or for up to d.
func retry(d time.Duration, fn func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := fn()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(time.Second)
	}
}

// journeyShapedInput is what a launch starts a reference journey with.
func journeyShapedInput(wait time.Duration) (workflows.JourneyInput, error) {
	d, ps := campaign.Parse(fmt.Appendf(nil, reference, "shaped", wait))
	if len(ps) > 0 {
		return workflows.JourneyInput{}, fmt.Errorf("campaign: %v", ps)
	}
	return workflows.JourneyInput{CampaignID: "shaped", Version: 1, CustomerID: customerID(1), Definition: *d, Timezone: "UTC"}, nil
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

// VersionedBaseline is Baseline behind a workflow.GetVersion, as journeys
// begin: a marker, and the SDK's upsert of TemporalChangeVersion.
func VersionedBaseline(ctx workflow.Context, wait time.Duration) error {
	workflow.GetVersion(ctx, "bench", workflow.DefaultVersion, 1)
	return Baseline(ctx, wait)
}

// Noop measures the server's raw start rate.
func Noop(workflow.Context) error { return nil }

// NoopJourney is Noop started like a journey, with a journey's input.
func NoopJourney(workflow.Context, workflows.JourneyInput) error { return nil }

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

// startAll starts n workflows with opts (an ID of their own each) with
// bounded concurrency, as a launch does.
func startAll(ctx context.Context, tc client.Client, n, concurrency int, opts client.StartWorkflowOptions, prefix string, wf any, args ...any) ([]client.WorkflowRun, error) {
	runs := make([]client.WorkflowRun, n)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for i := range n {
		g.Go(func() error {
			o := opts
			o.ID = fmt.Sprintf("%s:%d:%d", prefix, time.Now().UnixNano(), i)
			var err error
			runs[i], err = tc.ExecuteWorkflow(ctx, o, wf, args...)
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
		if a := ev.GetWorkflowExecutionStartedEventAttributes(); a != nil {
			c.InputBytes = proto.Size(a.GetInput())
		}
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

// freshStore opens a new, migrated omni database on the PostgreSQL
// server, named after prefix and the time; done closes and drops it.
func freshStore(ctx context.Context, server, prefix string) (st *store.Store, url string, done func(), err error) {
	db := fmt.Sprintf("%s_%d", prefix, time.Now().Unix())
	url = server + "/" + db + "?sslmode=disable"
	if st, err = store.Open(ctx, url); err != nil {
		return nil, "", nil, err
	}
	done = func() { st.Close(); dropDatabase(server, db) }
	if err := st.Migrate(ctx); err != nil {
		done()
		return nil, "", nil, err
	}
	return st, url, done, nil
}

// pgServer is the PostgreSQL server the benchmarks make their databases on.
func pgServer() string { return env("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432") }

// dropDatabase drops a run's database once its store is closed.
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
	fmt.Fprintf(tw, "omni bench, %s server\t%s, %d CPUs, N=%d × %d rounds, wait %s\t\n", r.Server, r.Date.Format(time.RFC3339), r.CPUs, r.N, r.Rounds, r.Wait)
	fmt.Fprintf(tw, "raw workflow starts\t%.0f /s (concurrency %d)\t\n", r.RawStarts, r.Concurrency)
	fmt.Fprintf(tw, "enrollment\t%.0f customers/s\t%.2f× raw starts\n", r.Enrollment, r.EnrollRatio)
	fmt.Fprintf(tw, "baseline workflow\t%.1f completed/s\t\n", r.Baseline)
	fmt.Fprintf(tw, "omni journeys\t%.1f completed/s\t%.2f× baseline\n", r.Journeys, r.JourneyRatio)
	fmt.Fprintf(tw, "  without the payload codec\t%.1f completed/s\tencrypted %.2f× without\n", r.PlainJourneys, r.CodecRatio)
	fmt.Fprintf(tw, "  with two workers\t%.1f completed/s\t%.2f× one worker\n", r.TwoWorkers, r.ScaleOut)
	for _, e := range r.Experiments {
		fmt.Fprintf(tw, "%s (%s)\t%.1f /s\t%.2f× %s\n", e.Name, e.Measures, e.PerSecond, e.Ratio, e.ComparedWith)
	}
	fmt.Fprintf(tw, "cost per journey\t%d events, %d actions, start input %d bytes\tbaseline %d events, %d actions, %d bytes\n",
		r.Cost.Journey.Events, r.Cost.Journey.Actions, r.Cost.Journey.InputBytes, r.Cost.Baseline.Events, r.Cost.Baseline.Actions, r.Cost.Baseline.InputBytes)
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

// temporalServer is the Temporal server `make bench` builds, as
// OMNI_TEMPORAL_SERVER names it.
func temporalServer() string {
	if p := os.Getenv("OMNI_TEMPORAL_SERVER"); p != "" {
		return p
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "omni", "bin", "temporal-server-v1.29.1", "temporal-server")
}

func quietLogger() log.Logger {
	return log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
}

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

// skips says whether BENCH_SKIP leaves out the phase on server: an entry
// is a word of phase names, for every server, or server:word.
func (c config) skips(server, phase string) bool {
	return slices.ContainsFunc(c.skip, func(s string) bool {
		if on, word, ok := strings.Cut(s, ":"); ok {
			return on == server && strings.Contains(phase, word)
		}
		return s != "" && strings.Contains(phase, s)
	})
}

// ratio is a/b, 0 where either was not measured.
func ratio(a, b float64) float64 {
	if a == 0 || b == 0 {
		return 0
	}
	return a / b
}

// phase is one measurement of a round, by name.
type phase struct {
	name string
	run  func() error
}
