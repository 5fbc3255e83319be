// Command omni runs the omnichannel orchestrator.
//
//	omni dev       worker and API in one process, migrations and demo data first
//	omni worker    the Temporal worker
//	omni api       the HTTP API
//	omni migrate   apply database migrations and exit
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
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // customer time zones resolve in minimal containers too

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"golang.org/x/sync/errgroup"

	"github.com/omni-orchestrator/omni/api"
	"github.com/omni-orchestrator/omni/channels"
	"github.com/omni-orchestrator/omni/channels/sendgrid"
	"github.com/omni-orchestrator/omni/channels/twilio"
	"github.com/omni-orchestrator/omni/codec"
	"github.com/omni-orchestrator/omni/config"
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
`

func main() {
	cfg, err := config.FromEnv()
	if err != nil {
		fmt.Fprintf(os.Stderr, "omni: configuration: %v\n", err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	slog.SetDefault(logger)
	if len(os.Args) != 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	switch os.Args[1] {
	case "migrate":
		err = migrate(ctx, cfg)
	case "worker":
		err = serve(ctx, cfg, logger, (*process).runWorker, (*process).runMetrics)
	case "api":
		err = serve(ctx, cfg, logger, (*process).runAPI)
	case "dev":
		if cfg.Codec == nil {
			cfg.Codec, err = devCodec(logger)
		}
		if err == nil {
			err = migrate(ctx, cfg)
		}
		if err == nil {
			err = serve(ctx, cfg, logger, (*process).runWorker, (*process).runAPI, (*process).runDevCodec, (*process).runDemo)
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
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	slog.Info("database migrated", "database", redact(cfg.DatabaseURL))
	return nil
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
	st, err := store.Open(ctx, cfg.DatabaseURL)
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
	tc, err := client.DialContext(ctx, opts)
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
		PageSize: p.cfg.LaunchPageSize, Concurrency: p.cfg.LaunchConcurrency,
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

// runMetrics serves /metrics for a process without the API.
func (p *process) runMetrics(ctx context.Context) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", p.metrics.Handler())
	p.logger.Info("metrics listening", "addr", p.cfg.MetricsAddr)
	return listen(ctx, "metrics", &http.Server{Addr: p.cfg.MetricsAddr, Handler: mux, ReadHeaderTimeout: 10 * time.Second})
}

// runAPI serves the HTTP API.
func (p *process) runAPI(ctx context.Context) error {
	hooks := api.Webhooks{Twilio: twilio.Webhook{AuthToken: p.cfg.TwilioAuthToken}, PublicURL: p.cfg.PublicURL}
	if p.cfg.SendGridWebhookKey != "" {
		key, err := sendgrid.ParseWebhookKey(p.cfg.SendGridWebhookKey)
		if err != nil {
			return err
		}
		hooks.SendGrid.Key = key
	}
	if hooks.SendGrid.Key == nil || hooks.Twilio.AuthToken == "" {
		p.logger.Warn("provider webhooks are accepted unverified; set SENDGRID_WEBHOOK_PUBLIC_KEY and TWILIO_AUTH_TOKEN in production")
	}
	srv := &http.Server{Addr: p.cfg.HTTPAddr, Handler: (&api.Server{Store: p.store, Temporal: p.temporal, Enroller: p.enroller,
		Responses: &responses.Recorder{Store: p.store, Temporal: p.temporal}, Webhooks: hooks, Metrics: p.metrics, Logger: p.logger,
		Codec: p.cfg.Codec, TemporalUI: p.cfg.TemporalUI}).Handler(),
		ReadHeaderTimeout: 10 * time.Second}
	p.logger.Info("api listening", "addr", p.cfg.HTTPAddr)
	return listen(ctx, "api", srv)
}

// runDevCodec serves the codec endpoint on a loopback address without a
// key, for the dev server's UI (`make run` points it here): the UI cannot
// send a key, and on this machine the dev server and .data hold the same
// data in reach anyway.
func (p *process) runDevCodec(ctx context.Context) error {
	p.logger.Info("codec endpoint for the Temporal UI listening", "addr", p.cfg.DevCodecAddr)
	return listen(ctx, "dev codec", &http.Server{Addr: p.cfg.DevCodecAddr, Handler: api.CodecHandler(p.cfg.Codec, p.cfg.TemporalUI, p.logger),
		ReadHeaderTimeout: 10 * time.Second})
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

// runDemo loads the demo (unless OMNI_DEMO=0) and says where things are.
func (p *process) runDemo(ctx context.Context) error {
	if p.cfg.Demo {
		if _, err := demo.Load(ctx, p.enroller); err != nil {
			return fmt.Errorf("load demo: %w", err)
		}
	}
	printWelcome(p.cfg)
	return nil
}

// listen serves srv until ctx ends, then lets in-flight requests finish
// for up to 10 seconds.
func listen(ctx context.Context, name string, srv *http.Server) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return fmt.Errorf("%s: %w", name, err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

func printWelcome(cfg config.Config) {
	port := cfg.HTTPAddr
	if port != "" && port[0] == ':' {
		port = "localhost" + port
	}
	ui := cfg.TemporalUI + "/namespaces/" + cfg.Temporal.Namespace + "/workflows"
	fmt.Printf(`
omni is running.
  API:          http://%[1]s   (spec: http://%[1]s/openapi.yaml)
  Temporal UI:  %[2]s
                payloads are encrypted; the UI decodes them through http://%[3]s/codec
                (make run sets it; on a dev server started otherwise, set it under the UI's Data Encoder)
`, port, ui, cfg.DevCodecAddr)
	if cfg.Demo {
		fmt.Printf(`
The demo campaign %[3]q is running for 5 customers (email, wait 2 minutes for a click,
then a push to those who clicked and an SMS to the others):
  journeys:     %[2]s?query=%[4]s
  a customer:   curl -s http://%[1]s/v1/customers/ada
  send a click: curl -s -X POST http://%[1]s/v1/responses -H 'Content-Type: application/json' \
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
