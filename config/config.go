// Package config reads omni's configuration from the environment. Every
// variable has a default that works on a developer machine; a value that
// does not parse, or is out of range, stops the process with the
// variable's name rather than fall back to the default.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"

	"github.com/omni-orchestrator/omni/codec"
)

// Config is omni's configuration.
type Config struct {
	// DATABASE_URL: the PostgreSQL database; created if missing.
	DatabaseURL string `env:"DATABASE_URL" envDefault:"postgres://postgres@127.0.0.1:5432/omni?sslmode=disable"`
	// Temporal is how to reach the Temporal frontend: TEMPORAL_ADDRESS
	// (default 127.0.0.1:7233), TEMPORAL_NAMESPACE (default "default"),
	// TEMPORAL_API_KEY, TEMPORAL_TLS_* and TEMPORAL_PROFILE, read by the
	// SDK's envconfig as the Temporal CLI reads them (see temporal).
	Temporal client.Options `env:"-"`
	// OMNI_PAYLOAD_KEYS: the keys that encrypt payloads in Temporal,
	// id:base64key pairs separated by commas, the first encrypting; nil
	// when unset (see package codec).
	Codec *codec.Codec `env:"-"`
	// OMNI_TASK_QUEUE: the task queue workers poll and journeys run on.
	TaskQueue string `env:"OMNI_TASK_QUEUE" envDefault:"omni"`
	// OMNI_HTTP_ADDR: where the API listens (and serves /metrics).
	HTTPAddr string `env:"OMNI_HTTP_ADDR" envDefault:":8080"`
	// OMNI_METRICS_ADDR: where `omni worker`, which has no API, serves
	// /metrics.
	MetricsAddr string `env:"OMNI_METRICS_ADDR" envDefault:":9090"`
	// OMNI_TEMPORAL_UI: the Temporal Web UI, for links printed at start
	// and the origin the codec endpoint answers (CORS).
	TemporalUI string `env:"OMNI_TEMPORAL_UI" envDefault:"http://localhost:8233"`
	// OMNI_DEV_CODEC_ADDR: where `omni dev` serves the codec endpoint to
	// the dev server's UI without a key; a loopback address only.
	DevCodecAddr string `env:"OMNI_DEV_CODEC_ADDR" envDefault:"127.0.0.1:8081"`
	// OMNI_DEFAULT_TIMEZONE: the time zone of customers without one, for
	// delays until a local time and quiet hours.
	DefaultTimezone string `env:"OMNI_DEFAULT_TIMEZONE" envDefault:"UTC"`
	// OMNI_DEMO: true loads demo customers and launches a demo campaign at
	// `omni dev` start; false (or 0) does not.
	Demo bool `env:"OMNI_DEMO" envDefault:"true"`
	// OMNI_LAUNCH_PAGE_SIZE and OMNI_LAUNCH_CONCURRENCY: how a launch pages
	// through its audience and how many journey starts it has in flight.
	LaunchPageSize    int `env:"OMNI_LAUNCH_PAGE_SIZE" envDefault:"500"`
	LaunchConcurrency int `env:"OMNI_LAUNCH_CONCURRENCY" envDefault:"16"`
	// OMNI_HTTP_READ_TIMEOUT, OMNI_HTTP_WRITE_TIMEOUT and
	// OMNI_HTTP_IDLE_TIMEOUT bound how long the HTTP servers (the API, the
	// worker's /metrics) wait for a request (headers within 10 seconds of
	// it), take to answer one, and keep an idle connection open, so that
	// slow or silent clients cannot hold connections. A journeys export
	// moves its own deadline on while the client reads.
	HTTPReadTimeout  time.Duration `env:"OMNI_HTTP_READ_TIMEOUT" envDefault:"30s"`
	HTTPWriteTimeout time.Duration `env:"OMNI_HTTP_WRITE_TIMEOUT" envDefault:"60s"`
	HTTPIdleTimeout  time.Duration `env:"OMNI_HTTP_IDLE_TIMEOUT" envDefault:"120s"`
	// SENDGRID_WEBHOOK_PUBLIC_KEY: the verification key of SendGrid's signed
	// Event Webhook; unset, its events are refused (401) unless
	// OMNI_WEBHOOKS_UNVERIFIED.
	SendGridWebhookKey string `env:"SENDGRID_WEBHOOK_PUBLIC_KEY"`
	// SENDGRID_WEBHOOK_MAX_AGE: how far the timestamp of a signed SendGrid
	// request may be from now, either way; older (replayed) ones are refused.
	SendGridWebhookMaxAge time.Duration `env:"SENDGRID_WEBHOOK_MAX_AGE" envDefault:"10m"`
	// TWILIO_AUTH_TOKEN: authenticates Twilio API calls and verifies
	// X-Twilio-Signature on Twilio's webhooks; unset, they are refused
	// (401) unless OMNI_WEBHOOKS_UNVERIFIED.
	TwilioAuthToken string `env:"TWILIO_AUTH_TOKEN"`
	// OMNI_WEBHOOKS_UNVERIFIED: true takes the webhooks of providers
	// without a key unverified, as `omni dev` does; anybody who reaches the
	// API can then forge clicks, opt-outs and opt-ins.
	WebhooksUnverified bool `env:"OMNI_WEBHOOKS_UNVERIFIED"`
	// OMNI_PUSH_LINK_SCHEMES: the app schemes push links may use besides
	// https, comma-separated (myapp for myapp://products/42).
	PushLinkSchemes []string `env:"OMNI_PUSH_LINK_SCHEMES"`
	// OMNI_PUBLIC_URL: the scheme and host providers call omni at, e.g.
	// https://omni.example.com (Twilio signs the URL it called).
	PublicURL string `env:"OMNI_PUBLIC_URL"`
	// OMNI_KEY_RATE: requests a second one API key may make to one API
	// process, in bursts of as many; 0 for no limit.
	KeyRate float64 `env:"OMNI_KEY_RATE" envDefault:"0"`
	// OMNI_COUPON_FAILURES: failed coupon redemptions a minute one key,
	// and one source address, may make before redemptions answer 429.
	CouponFailures int `env:"OMNI_COUPON_FAILURES" envDefault:"10"`
	// OMNI_SEND_CONCURRENCY: how many sends of one channel a worker has in
	// flight at once.
	SendConcurrency int `env:"OMNI_SEND_CONCURRENCY" envDefault:"50"`
	// OMNI_SEND_CONFIRM_WINDOW: how long a send that may have reached its
	// provider (the call got no answer) waits for the provider's webhook
	// to confirm it before sending again, where the provider confirms by
	// webhook (SendGrid); 0 sends again at once.
	SendConfirmWindow time.Duration `env:"OMNI_SEND_CONFIRM_WINDOW" envDefault:"3m"`
	// OMNI_EVENTS_RETENTION: how long customers' events are kept (counted
	// from their arrival); older ones are deleted by the workers, a batch
	// at a time. 0 keeps them for ever.
	EventsRetention time.Duration `env:"OMNI_EVENTS_RETENTION" envDefault:"8760h"`
	// OMNI_SHUTDOWN_TIMEOUT: on SIGTERM, how long the worker lets its
	// in-flight sends finish and the API its requests.
	ShutdownTimeout time.Duration `env:"OMNI_SHUTDOWN_TIMEOUT" envDefault:"20s"`
	// OMNI_WORKFLOW_POLLERS, OMNI_ACTIVITY_POLLERS and
	// OMNI_STICKY_CACHE_SIZE tune the workers (see worker.Tuning); 0 keeps
	// the SDK's defaults.
	WorkflowPollers int `env:"OMNI_WORKFLOW_POLLERS"`
	ActivityPollers int `env:"OMNI_ACTIVITY_POLLERS"`
	StickyCacheSize int `env:"OMNI_STICKY_CACHE_SIZE"`
	// Email through SendGrid when SENDGRID_API_KEY is set, else the sandbox.
	SendGrid SendGrid `env:"-"`
	// SMS through Twilio when TWILIO_ACCOUNT_SID is set, else the sandbox.
	Twilio Twilio `env:"-"`
	// Push through Firebase Cloud Messaging when FCM_PROJECT_ID or
	// GOOGLE_APPLICATION_CREDENTIALS is set, else the sandbox.
	FCM FCM `env:"-"`
	// LOG_LEVEL: debug, info, warn or error.
	LogLevel slog.Level `env:"LOG_LEVEL" envDefault:"info"`
}

// SendGrid configures email through SendGrid's v3 Mail Send API.
type SendGrid struct {
	// SENDGRID_API_KEY: an API key with Mail Send permission.
	APIKey string `env:"SENDGRID_API_KEY"`
	// SENDGRID_API_URL: https://api.sendgrid.com, or https://api.eu.sendgrid.com
	// for EU data residency.
	APIURL string `env:"SENDGRID_API_URL" envDefault:"https://api.sendgrid.com"`
	// SENDGRID_FROM: the sender, "Name <address>" or an address, verified
	// in SendGrid.
	From string `env:"SENDGRID_FROM" envDefault:"omni <omni@example.com>"`
	// SENDGRID_ASM_GROUP_ID: the unsubscribe group of every message; 0 for
	// none.
	ASMGroupID int `env:"SENDGRID_ASM_GROUP_ID"`
	// SENDGRID_RATE: email sends per second across all workers. SendGrid
	// publishes no fixed Mail Send limit and answers 429 with
	// X-RateLimit-Reset, which sends honour.
	Rate float64 `env:"SENDGRID_RATE" envDefault:"1000"`
}

// Twilio configures SMS through Twilio; TWILIO_AUTH_TOKEN (Config) is
// its secret.
type Twilio struct {
	// TWILIO_ACCOUNT_SID: the account (AC…).
	AccountSID string `env:"TWILIO_ACCOUNT_SID"`
	// TWILIO_FROM: the sending number (E.164), unless
	// TWILIO_MESSAGING_SERVICE_SID (MG…) names a Messaging Service.
	From                string `env:"TWILIO_FROM"`
	MessagingServiceSID string `env:"TWILIO_MESSAGING_SERVICE_SID"`
	// TWILIO_RATE: SMS sends per second across all workers; Twilio queues
	// what exceeds your senders' throughput (1 segment/s per US long code),
	// and answers 429 beyond its API concurrency.
	Rate float64 `env:"TWILIO_RATE" envDefault:"100"`
}

// FCM configures push through Firebase Cloud Messaging; credentials are
// Google's application default credentials.
type FCM struct {
	// FCM_PROJECT_ID: the Firebase project; "" takes the credentials'.
	ProjectID string `env:"FCM_PROJECT_ID"`
	// GOOGLE_APPLICATION_CREDENTIALS: a service account key file.
	Credentials string `env:"GOOGLE_APPLICATION_CREDENTIALS"`
	// FCM_RATE: push sends per second across all workers; FCM's default
	// quota is 600,000 messages a minute per project.
	Rate float64 `env:"FCM_RATE" envDefault:"10000"`
}

// FromEnv reads the configuration, or says which variables are wrong.
func FromEnv() (Config, error) {
	c, err := parse[Config]()
	sg, sgErr := parse[SendGrid]()
	tw, twErr := parse[Twilio]()
	fcm, fcmErr := parse[FCM]()
	tc, tcErr := temporal()
	keys, keysErr := payloadKeys()
	if err := errors.Join(err, sgErr, twErr, fcmErr, tcErr, keysErr); err != nil {
		return c, err
	}
	c.SendGrid, c.Twilio, c.FCM, c.Temporal, c.Codec = sg, tw, fcm, tc, keys
	for i, scheme := range c.PushLinkSchemes {
		c.PushLinkSchemes[i] = strings.ToLower(strings.TrimSpace(scheme)) // schemes are case-insensitive
	}
	return c, c.validate()
}

// temporal reads the Temporal connection the way the Temporal CLI does:
// the profile (TEMPORAL_PROFILE, default "default") of the config file
// (TEMPORAL_CONFIG_FILE, default ~/.config/temporalio/temporal.toml) if
// there is one, then TEMPORAL_* variables over it; omni's defaults fill
// in what neither sets.
func temporal() (client.Options, error) {
	// envconfig ignores a boolean it cannot read; a typo must not turn
	// TLS off.
	var errs []error
	for _, name := range []string{"TEMPORAL_TLS", "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION"} {
		if v, ok := os.LookupEnv(name); ok && !slices.Contains([]string{"1", "0", "true", "false"}, strings.ToLower(v)) {
			errs = append(errs, fmt.Errorf("%s=%q: want true or false", name, v))
		}
	}
	if len(errs) > 0 {
		return client.Options{}, errors.Join(errs...)
	}
	o, err := envconfig.LoadClientOptions(envconfig.LoadClientOptionsRequest{})
	if err != nil {
		return o, fmt.Errorf("the Temporal connection (TEMPORAL_* variables, TEMPORAL_PROFILE): %w", err)
	}
	if o.HostPort == "" {
		o.HostPort = "127.0.0.1:7233"
	}
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	return o, nil
}

// payloadKeys reads OMNI_PAYLOAD_KEYS; its errors never repeat the value.
func payloadKeys() (*codec.Codec, error) {
	v := os.Getenv("OMNI_PAYLOAD_KEYS")
	if v == "" {
		return nil, nil
	}
	c, err := codec.New(v)
	if err != nil {
		return nil, fmt.Errorf("OMNI_PAYLOAD_KEYS: %w", err)
	}
	return c, nil
}

// parse reads T's variables. The library names a field whose value does
// not parse; operators set variables, so the error names the variable
// (each struct is parsed on its own, so that field names are unique).
func parse[T any]() (T, error) {
	v, err := env.ParseAs[T]()
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return v, err
	}
	errs := make([]error, len(agg.Errors))
	for i, e := range agg.Errors {
		errs[i] = e
		var pe env.ParseError
		if errors.As(e, &pe) {
			if f, ok := reflect.TypeFor[T]().FieldByName(pe.Name); ok {
				name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
				errs[i] = fmt.Errorf("%s=%q: %w", name, os.Getenv(name), pe.Err)
			}
		}
	}
	return v, errors.Join(errs...)
}

// validate checks what parses but cannot work.
func (c Config) validate() error {
	var errs []error
	atLeast := func(name string, v, min int) {
		if v < min {
			errs = append(errs, fmt.Errorf("%s=%d: must be at least %d", name, v, min))
		}
	}
	atLeast("OMNI_LAUNCH_PAGE_SIZE", c.LaunchPageSize, 1)
	atLeast("OMNI_LAUNCH_CONCURRENCY", c.LaunchConcurrency, 1)
	atLeast("OMNI_SEND_CONCURRENCY", c.SendConcurrency, 1)
	atLeast("OMNI_WORKFLOW_POLLERS", c.WorkflowPollers, 0)
	atLeast("OMNI_ACTIVITY_POLLERS", c.ActivityPollers, 0)
	atLeast("OMNI_STICKY_CACHE_SIZE", c.StickyCacheSize, 0)
	atLeast("SENDGRID_ASM_GROUP_ID", c.SendGrid.ASMGroupID, 0)
	atLeast("OMNI_COUPON_FAILURES", c.CouponFailures, 1)
	if c.KeyRate < 0 {
		errs = append(errs, fmt.Errorf("OMNI_KEY_RATE=%v: must be 0 (no limit) or more (requests per second)", c.KeyRate))
	}
	for _, r := range []struct {
		name string
		rate float64
	}{{"SENDGRID_RATE", c.SendGrid.Rate}, {"TWILIO_RATE", c.Twilio.Rate}, {"FCM_RATE", c.FCM.Rate}} {
		if r.rate <= 0 {
			errs = append(errs, fmt.Errorf("%s=%v: must be more than 0 (messages per second)", r.name, r.rate))
		}
	}
	if host, _, err := net.SplitHostPort(c.DevCodecAddr); err != nil || !(host == "localhost" || net.ParseIP(host).IsLoopback()) {
		errs = append(errs, fmt.Errorf("OMNI_DEV_CODEC_ADDR=%q: must be a loopback host:port (it serves the codec without a key)", c.DevCodecAddr))
	}
	if _, err := time.LoadLocation(c.DefaultTimezone); err != nil {
		errs = append(errs, fmt.Errorf("OMNI_DEFAULT_TIMEZONE=%q: %w", c.DefaultTimezone, err))
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{"OMNI_HTTP_READ_TIMEOUT", c.HTTPReadTimeout}, {"OMNI_HTTP_WRITE_TIMEOUT", c.HTTPWriteTimeout},
		{"OMNI_HTTP_IDLE_TIMEOUT", c.HTTPIdleTimeout}, {"SENDGRID_WEBHOOK_MAX_AGE", c.SendGridWebhookMaxAge}} {
		if d.d <= 0 {
			errs = append(errs, fmt.Errorf("%s=%v: must be a positive duration such as 30s", d.name, d.d))
		}
	}
	for _, scheme := range c.PushLinkSchemes {
		if !appScheme.MatchString(scheme) || unsafeSchemes[scheme] {
			errs = append(errs, fmt.Errorf("OMNI_PUSH_LINK_SCHEMES: %q is not an app scheme (such as myapp; https is always allowed)", scheme))
		}
	}
	return errors.Join(errs...)
}

// appScheme is a URL scheme (RFC 3986), lower-case as FromEnv leaves it.
var appScheme = regexp.MustCompile(`^[a-z][a-z0-9+.-]*$`)

// unsafeSchemes are URL schemes no push link may use: they run code, carry
// content, reach files or travel in clear.
var unsafeSchemes = map[string]bool{"javascript": true, "vbscript": true, "data": true, "blob": true, "file": true, "about": true, "http": true}
