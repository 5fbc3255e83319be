// Package config reads omni's configuration from the environment. Every
// variable has a default that works on a developer machine.
package config

import (
	"log/slog"
	"os"
	"strconv"
)

// Config is omni's configuration.
type Config struct {
	// DATABASE_URL: the PostgreSQL database; created if missing.
	DatabaseURL string
	// TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE: the Temporal frontend.
	TemporalAddress   string
	TemporalNamespace string
	// OMNI_TASK_QUEUE: the task queue workers poll and journeys run on.
	TaskQueue string
	// OMNI_HTTP_ADDR: where the API listens (and serves /metrics).
	HTTPAddr string
	// OMNI_METRICS_ADDR: where `omni worker`, which has no API, serves
	// /metrics.
	MetricsAddr string
	// OMNI_TEMPORAL_UI: the Temporal Web UI, for links printed at start.
	TemporalUI string
	// OMNI_DEFAULT_TIMEZONE: the time zone of customers without one, for
	// delays until a local time and quiet hours.
	DefaultTimezone string
	// OMNI_DEMO: "1" loads demo customers and launches a demo campaign at
	// `omni dev` start; "0" does not.
	Demo bool
	// OMNI_LAUNCH_PAGE_SIZE and OMNI_LAUNCH_CONCURRENCY: how a launch pages
	// through its audience and how many journey starts it has in flight.
	LaunchPageSize    int
	LaunchConcurrency int
	// SENDGRID_WEBHOOK_PUBLIC_KEY: the verification key of SendGrid's signed
	// Event Webhook; unset, its events are accepted unverified.
	SendGridWebhookKey string
	// TWILIO_AUTH_TOKEN: verifies X-Twilio-Signature on Twilio's webhooks;
	// unset, they are accepted unverified.
	TwilioAuthToken string
	// OMNI_PUBLIC_URL: the scheme and host providers call omni at, e.g.
	// https://omni.example.com (Twilio signs the URL it called).
	PublicURL string
	// OMNI_SEND_CONCURRENCY: how many sends of one channel a worker has in
	// flight at once.
	SendConcurrency int
	// OMNI_WORKFLOW_POLLERS, OMNI_ACTIVITY_POLLERS and
	// OMNI_STICKY_CACHE_SIZE tune the workers (see worker.Tuning); unset
	// keeps the SDK's defaults.
	WorkflowPollers int
	ActivityPollers int
	StickyCacheSize int
	// Email through SendGrid when SENDGRID_API_KEY is set, else the sandbox.
	SendGrid SendGrid
	// SMS through Twilio when TWILIO_ACCOUNT_SID is set, else the sandbox.
	Twilio Twilio
	// Push through Firebase Cloud Messaging when FCM_PROJECT_ID or
	// GOOGLE_APPLICATION_CREDENTIALS is set, else the sandbox.
	FCM FCM
	// LOG_LEVEL: debug, info, warn or error.
	LogLevel slog.Level
}

// FromEnv reads the configuration.
func FromEnv() Config {
	c := Config{
		DatabaseURL:        env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/omni?sslmode=disable"),
		TemporalAddress:    env("TEMPORAL_ADDRESS", "127.0.0.1:7233"),
		TemporalNamespace:  env("TEMPORAL_NAMESPACE", "default"),
		TaskQueue:          env("OMNI_TASK_QUEUE", "omni"),
		HTTPAddr:           env("OMNI_HTTP_ADDR", ":8080"),
		MetricsAddr:        env("OMNI_METRICS_ADDR", ":9090"),
		TemporalUI:         env("OMNI_TEMPORAL_UI", "http://localhost:8233"),
		DefaultTimezone:    env("OMNI_DEFAULT_TIMEZONE", "UTC"),
		Demo:               env("OMNI_DEMO", "1") != "0",
		SendGridWebhookKey: os.Getenv("SENDGRID_WEBHOOK_PUBLIC_KEY"),
		TwilioAuthToken:    os.Getenv("TWILIO_AUTH_TOKEN"),
		PublicURL:          os.Getenv("OMNI_PUBLIC_URL"),
		LaunchPageSize:     envInt("OMNI_LAUNCH_PAGE_SIZE", 500),
		LaunchConcurrency:  envInt("OMNI_LAUNCH_CONCURRENCY", 16),
		SendConcurrency:    envInt("OMNI_SEND_CONCURRENCY", 50),
		WorkflowPollers:    envInt("OMNI_WORKFLOW_POLLERS", 0),
		ActivityPollers:    envInt("OMNI_ACTIVITY_POLLERS", 0),
		StickyCacheSize:    envInt("OMNI_STICKY_CACHE_SIZE", 0),
		SendGrid: SendGrid{
			APIKey:     os.Getenv("SENDGRID_API_KEY"),
			APIURL:     env("SENDGRID_API_URL", "https://api.sendgrid.com"),
			From:       env("SENDGRID_FROM", "omni <omni@example.com>"),
			ASMGroupID: envInt("SENDGRID_ASM_GROUP_ID", 0),
			Rate:       envFloat("SENDGRID_RATE", 1000),
		},
		Twilio: Twilio{
			AccountSID:          os.Getenv("TWILIO_ACCOUNT_SID"),
			From:                os.Getenv("TWILIO_FROM"),
			MessagingServiceSID: os.Getenv("TWILIO_MESSAGING_SERVICE_SID"),
			Rate:                envFloat("TWILIO_RATE", 100),
		},
		FCM: FCM{
			ProjectID:   os.Getenv("FCM_PROJECT_ID"),
			Credentials: os.Getenv("GOOGLE_APPLICATION_CREDENTIALS"),
			Rate:        envFloat("FCM_RATE", 10000),
		},
	}
	_ = c.LogLevel.UnmarshalText([]byte(env("LOG_LEVEL", "info")))
	return c
}

// SendGrid configures email through SendGrid's v3 Mail Send API.
type SendGrid struct {
	// SENDGRID_API_KEY: an API key with Mail Send permission.
	APIKey string
	// SENDGRID_API_URL: https://api.sendgrid.com, or https://api.eu.sendgrid.com
	// for EU data residency.
	APIURL string
	// SENDGRID_FROM: the sender, "Name <address>" or an address, verified
	// in SendGrid.
	From string
	// SENDGRID_ASM_GROUP_ID: the unsubscribe group of every message; 0 for
	// none.
	ASMGroupID int
	// SENDGRID_RATE: email sends per second across all workers. SendGrid
	// publishes no fixed Mail Send limit and answers 429 with
	// X-RateLimit-Reset, which sends honour.
	Rate float64
}

// Twilio configures SMS through Twilio. TWILIO_AUTH_TOKEN authenticates
// the API calls and verifies Twilio's webhooks.
type Twilio struct {
	// TWILIO_ACCOUNT_SID: the account (AC…).
	AccountSID string
	// TWILIO_FROM: the sending number (E.164), unless
	// TWILIO_MESSAGING_SERVICE_SID (MG…) names a Messaging Service.
	From                string
	MessagingServiceSID string
	// TWILIO_RATE: SMS sends per second across all workers; Twilio queues
	// what exceeds your senders' throughput (1 segment/s per US long code),
	// and answers 429 beyond its API concurrency.
	Rate float64
}

// FCM configures push through Firebase Cloud Messaging; credentials are
// Google's application default credentials.
type FCM struct {
	// FCM_PROJECT_ID: the Firebase project; "" takes the credentials'.
	ProjectID string
	// GOOGLE_APPLICATION_CREDENTIALS: a service account key file.
	Credentials string
	// FCM_RATE: push sends per second across all workers; FCM's default
	// quota is 600,000 messages a minute per project.
	Rate float64
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func envFloat(key string, def float64) float64 {
	if f, err := strconv.ParseFloat(os.Getenv(key), 64); err == nil && f > 0 {
		return f
	}
	return def
}

func envInt(key string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(key)); err == nil && n > 0 {
		return n
	}
	return def
}
