// Command omni runs the omnichannel orchestrator.
//
//	omni dev       worker and API in one process, migrations and demo data first
//	omni worker    the Temporal worker
//	omni api       the HTTP API
//	omni migrate   apply database migrations and exit
//	omni keys      create, list and revoke API keys
//
// Configuration comes from the environment; see package config.
package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // customer time zones resolve in minimal containers too

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"golang.org/x/sync/errgroup"

	"github.com/omni-orchestrator/omni/api"
	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/channels"
	"github.com/omni-orchestrator/omni/channels/sendgrid"
	"github.com/omni-orchestrator/omni/channels/twilio"
	"github.com/omni-orchestrator/omni/codec"
	"github.com/omni-orchestrator/omni/config"
	"github.com/omni-orchestrator/omni/control"
	"github.com/omni-orchestrator/omni/demo"
	"github.com/omni-orchestrator/omni/enroll"
	"github.com/omni-orchestrator/omni/metrics"
	"github.com/omni-orchestrator/omni/responses"
	"github.com/omni-orchestrator/omni/store"
	"github.com/omni-orchestrator/omni/worker"
)

const usage = `usage: omni <command>

commands:
  dev       migrate, then run worker and API in one process (and load the demo unless OMNI_DEMO=0)
  worker    run the Temporal worker
  api       run the HTTP API
  migrate   apply database migrations and exit
  keys      create, list and revoke API keys (omni keys for more)
`

func main() {
	cfg, err := config.FromEnv()
	if err != nil {
		fmt.Fprintf(os.Stderr, "omni: configuration: %v\n", err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	slog.SetDefault(logger)
	if len(os.Args) < 2 || len(os.Args) > 2 && os.Args[1] != "keys" {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	switch os.Args[1] {
	case "keys":
		switch err := keys(ctx, cfg, os.Args[2:], os.Stdout, os.Stderr); {
		case errors.Is(err, errUsage):
			fmt.Fprint(os.Stderr, keysUsage)
			os.Exit(2)
		case err != nil:
			fmt.Fprintf(os.Stderr, "omni keys: %v\n", err)
			os.Exit(1)
		}
	case "migrate":
		err = migrate(ctx, cfg)
	case "worker":
		err = serve(ctx, cfg, logger, (*process).runWorker, (*process).runReconciler, (*process).runRetention, (*process).runMetrics)
	case "api":
		err = serve(ctx, cfg, logger, (*process).runAPI)
	case "dev":
		// Providers cannot reach a developer's machine; what posts their
		// webhooks there is the developer, without the providers' keys.
		cfg.WebhooksUnverified = true
		logger.Info("omni dev takes the webhooks of providers without a key unverified, as OMNI_WEBHOOKS_UNVERIFIED=true does")
		if cfg.Codec == nil {
			cfg.Codec, err = devCodec(logger)
		}
		if err == nil {
			err = migrate(ctx, cfg)
		}
		if err == nil {
			err = serve(ctx, cfg, logger, (*process).runWorker, (*process).runReconciler, (*process).runRetention, (*process).runAPI, (*process).runDevCodec, (*process).runDev)
		}
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		logger.Error("omni stopped", "error", err)
		os.Exit(1)
	}
}

func migrate(ctx context.Context, cfg config.Config) error {
	st, err := store.OpenWaiting(ctx, cfg.DatabaseURL, slog.Default())
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	slog.Info("database migrated", "database", redact(cfg.DatabaseURL))
	return reportIDs(ctx, st, slog.Default())
}

// storedIDs are the ids the store holds that rules now check on the way
// in: ones stored before cannot be fixed for the operator (other systems
// know customers by them), so migrate reports them.
var storedIDs = []struct {
	what, table, column string
	rule                campaign.IDRule
}{
	{"customer ids", "customers", "id", campaign.CustomerID},
	{"campaign ids", "campaigns", "id", campaign.CampaignID},
	{"campaign offer ids", "campaigns", "offer_id", campaign.OfferID},
}

// reportIDs warns of stored ids that break their rule, with their count
// and a few examples: launches skip such customers (invalid_customer_id),
// and the API refuses them in requests.
func reportIDs(ctx context.Context, st *store.Store, logger *slog.Logger) error {
	for _, s := range storedIDs {
		bad, err := st.IDsNotMatching(ctx, s.table, s.column, s.rule.Pattern, 5)
		if err != nil {
			return fmt.Errorf("check stored %s: %w", s.what, err)
		}
		if bad.Count == 0 {
			continue
		}
		examples := make([]string, len(bad.Examples))
		for i, id := range bad.Examples {
			examples[i] = strconv.Quote(id) // shows control characters, keeps the log line one line
		}
		logger.Warn("stored ids break the rule ids now follow; launches skip such customers and the API refuses them in requests",
			"what", s.what, "count", bad.Count, "examples", strings.Join(examples, ", "), "rule", s.rule.Rule)
	}
	return nil
}

// dialWaiting connects to Temporal, trying again every few seconds while
// the server does not answer (a process started with, or before, its
// server), until ctx ends.
func dialWaiting(ctx context.Context, o client.Options, logger *slog.Logger) (client.Client, error) {
	for wait := time.Second; ; wait = min(2*wait, 10*time.Second) {
		tc, err := client.DialContext(ctx, o)
		if err == nil {
			return tc, nil
		}
		logger.Warn("waiting for Temporal", "address", o.HostPort, "error", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
	}
}

// process is what every runner of a process shares.
type process struct {
	cfg      config.Config
	logger   *slog.Logger
	store    *store.Store
	temporal client.Client
	metrics  *metrics.Metrics
	enroller *enroll.Enroller
}

// A runner runs one part of a process until ctx ends, then stops it and
// returns nil; it returns an error when its part cannot run.
type runner func(*process, context.Context) error

// serve connects to PostgreSQL and Temporal and runs the runners side by
// side; when one fails, the others stop.
func serve(ctx context.Context, cfg config.Config, logger *slog.Logger, runners ...runner) error {
	// A worker or API without keys would write customers' data into
	// Temporal in clear, and could not read what the others encrypted.
	if cfg.Codec == nil {
		return errors.New("OMNI_PAYLOAD_KEYS is not set: omni encrypts personal data in Temporal and needs a key, e.g. OMNI_PAYLOAD_KEYS=k1:$(openssl rand -base64 32), the same in every worker and API (see the README, Personal data in Temporal)")
	}
	st, err := store.OpenWaiting(ctx, cfg.DatabaseURL, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	m := metrics.New()
	temporalMetrics, closer := m.Temporal(logger)
	defer closer.Close()
	opts := cfg.Temporal
	opts.Logger, opts.MetricsHandler = log.NewStructuredLogger(logger.With("component", "temporal")), temporalMetrics
	cfg.Codec.Apply(&opts)
	tc, err := dialWaiting(ctx, opts, logger)
	if err != nil {
		return fmt.Errorf("no Temporal server answers at %s (%w); `make run` starts a dev server, or set TEMPORAL_ADDRESS (and TEMPORAL_API_KEY or TEMPORAL_TLS_* for a secured one)", opts.HostPort, err)
	}
	defer tc.Close()
	p := &process{cfg: cfg, logger: logger, store: st, temporal: tc, metrics: m,
		enroller: &enroll.Enroller{Store: st, Temporal: tc, TaskQueue: cfg.TaskQueue, DefaultTimezone: cfg.DefaultTimezone}}
	g, ctx := errgroup.WithContext(ctx)
	for _, run := range runners {
		g.Go(func() error { return run(p, ctx) })
	}
	return g.Wait()
}

// runWorker polls the task queues: journeys, launches and controls, and
// each channel's sends.
func (p *process) runWorker(ctx context.Context) error {
	if err := worker.EnsureSearchAttributes(ctx, p.temporal, p.cfg.Temporal.Namespace); err != nil {
		p.logger.Warn("search attributes not registered; journeys will not start until an operator adds CampaignId and CustomerId (Keyword)", "error", err)
	}
	provs, err := providers(ctx, p.cfg, p.logger)
	if err != nil {
		return err
	}
	deps := worker.Deps{Store: p.store, Temporal: p.temporal, Senders: map[string]channels.Sender{}, Enroller: p.enroller}
	o := worker.Options{
		TaskQueue: p.cfg.TaskQueue,
		Tuning:    worker.Tuning{WorkflowPollers: p.cfg.WorkflowPollers, ActivityPollers: p.cfg.ActivityPollers, StickyCacheSize: p.cfg.StickyCacheSize},
		Rates:     map[string]float64{}, SendConcurrency: p.cfg.SendConcurrency,
		ConfirmWindow: p.cfg.SendConfirmWindow, StopTimeout: p.cfg.ShutdownTimeout,
		PageSize: p.cfg.LaunchPageSize, Concurrency: p.cfg.LaunchConcurrency, LinkSchemes: p.cfg.PushLinkSchemes,
	}
	for ch, prov := range provs {
		deps.Senders[ch], o.Rates[ch] = prov.sender, prov.rate
	}
	workers := worker.New(deps, o)
	if err := workers.Start(); err != nil {
		return err
	}
	defer workers.Stop()
	p.logger.Info("worker polling", "task_queue", p.cfg.TaskQueue, "temporal", p.cfg.Temporal.HostPort)
	<-ctx.Done()
	return nil
}

// runReconciler makes good, every reconcileEvery, the starts of journeys,
// launches and controls that a process dying between writing their row
// and starting their workflow cut short.
func (p *process) runReconciler(ctx context.Context) error {
	tick := time.NewTicker(reconcileEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		n, err := p.enroller.Reconcile(ctx, reconcileGrace)
		m, cerr := control.Reconcile(ctx, p.store, p.temporal, p.cfg.TaskQueue, reconcileGrace)
		if err := errors.Join(err, cerr); err != nil && ctx.Err() == nil {
			p.logger.Warn("reconcile starts", "error", err)
		}
		if n+m > 0 {
			p.logger.Info("started what a cut-short start left behind", "journeys_and_launches", n, "controls", m)
		}
	}
}

// runRetention deletes, every pruneEvery, the events older than
// OMNI_EVENTS_RETENTION, pruneBatch at a time so that no statement holds
// many locks or runs into the statement timeout.
func (p *process) runRetention(ctx context.Context) error {
	if p.cfg.EventsRetention == 0 {
		return nil
	}
	tick := time.NewTicker(pruneEvery)
	defer tick.Stop()
	for {
		total := 0
		for {
			n, err := p.store.PruneEvents(ctx, time.Now().Add(-p.cfg.EventsRetention), pruneBatch)
			if err != nil {
				if ctx.Err() == nil {
					p.logger.Warn("prune events", "error", err)
				}
				break
			}
			if total += n; n < pruneBatch {
				break
			}
		}
		if total > 0 {
			p.logger.Info("pruned events past their retention", "events", total, "retention", p.cfg.EventsRetention)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

const (
	pruneEvery = 10 * time.Minute
	pruneBatch = 10_000
)

// A start normally takes milliseconds; one whose row is reconcileGrace
// old without a run was cut short.
const (
	reconcileEvery = 15 * time.Second
	reconcileGrace = 30 * time.Second
)

// runMetrics serves /metrics for a process without the API.
func (p *process) runMetrics(ctx context.Context) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", p.metrics.Handler())
	p.logger.Info("metrics listening", "addr", p.cfg.MetricsAddr)
	return listen(ctx, "metrics", httpServer(p.cfg, p.cfg.MetricsAddr, mux), time.Second)
}

// httpServer serves h at addr with the configured timeouts: a client that
// sends its request slowly, or reads the answer slowly, or keeps an idle
// connection, is cut off instead of holding a connection for ever.
func httpServer(cfg config.Config, addr string, h http.Handler) *http.Server {
	return &http.Server{Addr: addr, Handler: h,
		ReadHeaderTimeout: min(10*time.Second, cfg.HTTPReadTimeout), ReadTimeout: cfg.HTTPReadTimeout,
		WriteTimeout: cfg.HTTPWriteTimeout, IdleTimeout: cfg.HTTPIdleTimeout}
}

// runAPI serves the HTTP API.
func (p *process) runAPI(ctx context.Context) error {
	hooks := api.Webhooks{
		SendGrid:  sendgrid.Webhook{MaxAge: p.cfg.SendGridWebhookMaxAge, Unverified: p.cfg.WebhooksUnverified},
		Twilio:    twilio.Webhook{AuthToken: p.cfg.TwilioAuthToken, Unverified: p.cfg.WebhooksUnverified},
		PublicURL: p.cfg.PublicURL,
	}
	if p.cfg.SendGridWebhookKey != "" {
		key, err := sendgrid.ParseWebhookKey(p.cfg.SendGridWebhookKey)
		if err != nil {
			return err
		}
		hooks.SendGrid.Key = key
	}
	if hooks.SendGrid.Key == nil || hooks.Twilio.AuthToken == "" {
		if p.cfg.WebhooksUnverified {
			p.logger.Warn("webhooks of providers without a key are taken unverified: anybody who reaches the API can forge clicks and opt-outs; set SENDGRID_WEBHOOK_PUBLIC_KEY and TWILIO_AUTH_TOKEN in production")
		} else {
			p.logger.Info("webhooks of providers without a key are refused (401); set SENDGRID_WEBHOOK_PUBLIC_KEY and TWILIO_AUTH_TOKEN to take them")
		}
	}
	srv := httpServer(p.cfg, p.cfg.HTTPAddr, (&api.Server{Store: p.store, Temporal: p.temporal, Enroller: p.enroller,
		Responses: &responses.Recorder{Store: p.store, Temporal: p.temporal, Enroller: p.enroller}, Webhooks: hooks, LinkSchemes: p.cfg.PushLinkSchemes,
		Metrics: p.metrics, Logger: p.logger, Limits: api.Limits{KeyRate: p.cfg.KeyRate, CouponFailures: p.cfg.CouponFailures},
		Codec: p.cfg.Codec, TemporalUI: p.cfg.TemporalUI}).Handler())
	p.logger.Info("api listening", "addr", p.cfg.HTTPAddr)
	return listen(ctx, "api", srv, p.cfg.ShutdownTimeout)
}

// runDevCodec serves the codec endpoint on a loopback address without a
// key, for the dev server's UI (`make run` points it here): the UI cannot
// send a key, and on this machine the dev server and .data hold the same
// data in reach anyway.
func (p *process) runDevCodec(ctx context.Context) error {
	p.logger.Info("codec endpoint for the Temporal UI listening", "addr", p.cfg.DevCodecAddr)
	return listen(ctx, "dev codec", httpServer(p.cfg, p.cfg.DevCodecAddr, api.CodecHandler(p.cfg.Codec, p.cfg.TemporalUI, p.logger)), time.Second)
}

// devPayloadKey is where `omni dev` keeps the payload key it generates on
// first start, beside the dev server's state: the journeys in
// .data/temporal.db decrypt only with it.
const devPayloadKey = ".data/dev-payload-key"

// devCodec is omni dev's codec when OMNI_PAYLOAD_KEYS is not set: the key
// in devPayloadKey, generated on first start.
func devCodec(logger *slog.Logger) (*codec.Codec, error) {
	data, err := os.ReadFile(devPayloadKey)
	if errors.Is(err, fs.ErrNotExist) {
		if data, err = writeDevPayloadKey(); err == nil {
			logger.Info("generated the dev payload key; Temporal payloads are encrypted with it", "file", devPayloadKey)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("dev payload key: %w", err)
	}
	c, err := codec.New(strings.TrimSpace(string(data)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", devPayloadKey, err)
	}
	return c, nil
}

// writeDevPayloadKey generates a key into devPayloadKey, readable by its
// owner only.
func writeDevPayloadKey() ([]byte, error) {
	key, err := codec.GenerateKey("dev")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(devPayloadKey), 0o700); err != nil {
		return nil, err
	}
	return []byte(key), os.WriteFile(devPayloadKey, []byte(key+"\n"), 0o600)
}

// runDev makes sure of a local admin key, loads the demo (unless
// OMNI_DEMO=0) and says where things are.
func (p *process) runDev(ctx context.Context) error {
	key, err := devKey(ctx, p.store, p.logger, devKeyFile)
	if err != nil {
		return fmt.Errorf("the dev API key (%s): %w", devKeyFile, err)
	}
	if p.cfg.Demo {
		if _, err := demo.Load(ctx, p.enroller); err != nil {
			return fmt.Errorf("load demo: %w", err)
		}
	}
	printWelcome(p.cfg, key)
	return nil
}

// listen serves srv until ctx ends, then lets in-flight requests finish
// for up to grace.
func listen(ctx context.Context, name string, srv *http.Server, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return fmt.Errorf("%s: %w", name, err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	return srv.Shutdown(shutdown)
}

func printWelcome(cfg config.Config, key string) {
	port := cfg.HTTPAddr
	if port != "" && port[0] == ':' {
		port = "localhost" + port
	}
	ui := cfg.TemporalUI + "/namespaces/" + cfg.Temporal.Namespace + "/workflows"
	fmt.Printf(`
omni is running.
  API:          http://%[1]s   (spec: http://%[1]s/openapi.yaml)
  Temporal UI:  %[2]s
  API key:      an admin key for this machine, kept in %[3]s; in your shell:
                  export OMNI_KEY=%[4]s
                payloads are encrypted; the UI decodes them through http://%[5]s/codec
                (make run sets it; on a dev server started otherwise, set it under the UI's Data Encoder)
`, port, ui, devKeyFile, key, cfg.DevCodecAddr)
	if cfg.Demo {
		fmt.Printf(`
The demo campaign %[3]q is running for 5 customers (email, wait 2 minutes for a click,
then a push to those who clicked and an SMS to the others):
  journeys:     %[2]s?query=%[4]s
  a customer:   curl -s http://%[1]s/v1/customers/ada -H "Authorization: Bearer $OMNI_KEY"
  send a click: curl -s -X POST http://%[1]s/v1/responses -H "Authorization: Bearer $OMNI_KEY" \
                  -H 'Content-Type: application/json' \
                  -d '{"event_id":"demo-click-ada","customer_id":"ada","campaign_id":"%[3]s","channel":"email","type":"clicked"}'
`, port, ui, demo.CampaignID, url.QueryEscape(`CampaignId="`+demo.CampaignID+`"`))
	}
	fmt.Println("\nCtrl-C stops omni.")
}

// redact hides a password in a database URL for logging.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable DATABASE_URL)"
	}
	return u.Redacted()
}
