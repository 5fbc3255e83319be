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
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"
	_ "time/tzdata" // customer time zones resolve in minimal containers too

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/omni-orchestrator/omni/activities"
	"github.com/omni-orchestrator/omni/api"
	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/channels"
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
`

func main() {
	cfg := config.FromEnv()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	slog.SetDefault(logger)
	if len(os.Args) != 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var err error
	switch os.Args[1] {
	case "migrate":
		err = migrate(ctx, cfg)
	case "worker":
		err = serve(ctx, cfg, logger, true, false)
	case "api":
		err = serve(ctx, cfg, logger, false, true)
	case "dev":
		if err = migrate(ctx, cfg); err == nil {
			err = serve(ctx, cfg, logger, true, true)
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

// serve runs the worker, the API or both until ctx ends.
func serve(ctx context.Context, cfg config.Config, logger *slog.Logger, runWorker, runAPI bool) error {
	if _, err := time.LoadLocation(cfg.DefaultTimezone); err != nil {
		return fmt.Errorf("OMNI_DEFAULT_TIMEZONE: %w", err)
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	m := metrics.New()
	temporalMetrics, closer := m.Temporal(logger)
	defer closer.Close()
	tc, err := client.DialContext(ctx, client.Options{
		HostPort:       cfg.TemporalAddress,
		Namespace:      cfg.TemporalNamespace,
		Logger:         log.NewStructuredLogger(logger.With("component", "temporal")),
		MetricsHandler: temporalMetrics,
	})
	if err != nil {
		return fmt.Errorf("no Temporal server answers at %s (%w); `make run` starts a dev server, or set TEMPORAL_ADDRESS", cfg.TemporalAddress, err)
	}
	defer tc.Close()
	enroller := &enroll.Enroller{Store: st, Temporal: tc, TaskQueue: cfg.TaskQueue, DefaultTimezone: cfg.DefaultTimezone}

	if runWorker {
		if err := worker.EnsureSearchAttributes(ctx, tc, cfg.TemporalNamespace); err != nil {
			logger.Warn("search attributes not registered; journeys will not start until an operator adds CampaignId and CustomerId (Keyword)", "error", err)
		}
		provs, err := providers(ctx, cfg, logger)
		if err != nil {
			return err
		}
		acts := &activities.Activities{Store: st, Senders: map[string]channels.Sender{}}
		for ch, p := range provs {
			acts.Senders[ch] = p.sender
		}
		launch := &enroll.Activities{Enroller: enroller, PageSize: cfg.LaunchPageSize, Concurrency: cfg.LaunchConcurrency}
		ctl := &control.Activities{Store: st, Temporal: tc, PageSize: cfg.LaunchPageSize, Concurrency: cfg.LaunchConcurrency}
		tuning := worker.Tuning{WorkflowPollers: cfg.WorkflowPollers, ActivityPollers: cfg.ActivityPollers, StickyCacheSize: cfg.StickyCacheSize}
		tuning.Apply()
		workers := []sdkworker.Worker{worker.New(tc, cfg.TaskQueue, tuning, acts, launch, ctl)}
		for _, ch := range campaign.Channels {
			workers = append(workers, worker.NewChannel(tc, cfg.TaskQueue, ch, tuning, acts, provs[ch].rate, cfg.SendConcurrency))
		}
		for _, w := range workers {
			if err := w.Start(); err != nil {
				return fmt.Errorf("start worker: %w", err)
			}
			defer w.Stop()
		}
		logger.Info("worker polling", "task_queue", cfg.TaskQueue, "temporal", cfg.TemporalAddress)
	}

	errc := make(chan error, 1)
	listen := func(name string, srv *http.Server) {
		go func() {
			if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	if !runAPI {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", m.Handler())
		srv := &http.Server{Addr: cfg.MetricsAddr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		listen("metrics", srv)
		defer srv.Close()
		logger.Info("metrics listening", "addr", cfg.MetricsAddr)
	}
	if runAPI {
		hooks := api.Webhooks{TwilioAuthToken: cfg.TwilioAuthToken, PublicURL: cfg.PublicURL}
		if cfg.SendGridWebhookKey != "" {
			if hooks.SendGridKey, err = api.ParseSendGridKey(cfg.SendGridWebhookKey); err != nil {
				return err
			}
		}
		if hooks.SendGridKey == nil || hooks.TwilioAuthToken == "" {
			logger.Warn("provider webhooks are accepted unverified; set SENDGRID_WEBHOOK_PUBLIC_KEY and TWILIO_AUTH_TOKEN in production")
		}
		srv := &http.Server{Addr: cfg.HTTPAddr, Handler: (&api.Server{Store: st, Temporal: tc, Enroller: enroller,
			Responses: &responses.Recorder{Store: st, Temporal: tc}, Webhooks: hooks, Metrics: m, Logger: logger}).Handler(),
			ReadHeaderTimeout: 10 * time.Second}
		listen("api", srv)
		defer func() {
			shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = srv.Shutdown(shutdown)
		}()
		logger.Info("api listening", "addr", cfg.HTTPAddr)
	}

	if runWorker && runAPI {
		if cfg.Demo {
			if _, err := demo.Load(ctx, enroller); err != nil {
				return fmt.Errorf("load demo: %w", err)
			}
		}
		printWelcome(cfg)
	}
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
		return nil
	case err := <-errc:
		return err
	}
}

func printWelcome(cfg config.Config) {
	port := cfg.HTTPAddr
	if port != "" && port[0] == ':' {
		port = "localhost" + port
	}
	ui := cfg.TemporalUI + "/namespaces/" + cfg.TemporalNamespace + "/workflows"
	fmt.Printf(`
omni is running.
  API:          http://%[1]s   (spec: http://%[1]s/openapi.yaml)
  Temporal UI:  %[2]s
`, port, ui)
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
