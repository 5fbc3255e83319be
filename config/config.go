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
	// OMNI_HTTP_ADDR: where the API listens.
	HTTPAddr string
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
		TemporalUI:         env("OMNI_TEMPORAL_UI", "http://localhost:8233"),
		DefaultTimezone:    env("OMNI_DEFAULT_TIMEZONE", "UTC"),
		Demo:               env("OMNI_DEMO", "1") != "0",
		SendGridWebhookKey: os.Getenv("SENDGRID_WEBHOOK_PUBLIC_KEY"),
		TwilioAuthToken:    os.Getenv("TWILIO_AUTH_TOKEN"),
		PublicURL:          os.Getenv("OMNI_PUBLIC_URL"),
		LaunchPageSize:     envInt("OMNI_LAUNCH_PAGE_SIZE", 500),
		LaunchConcurrency:  envInt("OMNI_LAUNCH_CONCURRENCY", 16),
	}
	_ = c.LogLevel.UnmarshalText([]byte(env("LOG_LEVEL", "info")))
	return c
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
