// Package metrics is omni's Prometheus registry: the Temporal SDK's client
// and worker metrics (through the SDK's contrib/tally), the API's requests,
// and the Go runtime and process. One per process, served at /metrics.
package metrics

import (
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/uber-go/tally/v4"
	tallyprom "github.com/uber-go/tally/v4/prometheus"
	"go.temporal.io/sdk/client"
	sdktally "go.temporal.io/sdk/contrib/tally"
)

// Metrics holds the process's registry and omni's own metrics.
type Metrics struct {
	registry *prometheus.Registry
	requests *prometheus.HistogramVec
}

// New makes a registry with the runtime's and the API's metrics.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "omni_http_request_duration_seconds",
			Help:    "API requests by method, route and status, and how long they took.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route", "status"}),
	}
	m.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), m.requests)
	return m
}

// Temporal is the metrics handler for the Temporal client, and so for its
// workers (task latencies, schedule-to-start, pollers, sticky cache,
// activity and workflow outcomes, by task queue and type), reported into
// the registry every second. Close the closer on shutdown.
func (m *Metrics) Temporal(logger *slog.Logger) (client.MetricsHandler, io.Closer) {
	reporter := tallyprom.NewReporter(tallyprom.Options{
		Registerer:       m.registry,
		DefaultTimerType: tallyprom.HistogramTimerType,
		OnRegisterError:  func(err error) { logger.Warn("temporal metric not registered", "error", err) },
	})
	// Prometheus's naming rules, except that label values keep their
	// dashes, so task queues read as they are named (omni-email).
	sanitize := sdktally.PrometheusSanitizeOptions
	sanitize.ValueCharacters = tally.ValidCharacters{Ranges: tally.AlphanumericRange, Characters: []rune{'_', '-', '.', ':'}}
	scope, closer := tally.NewRootScope(tally.ScopeOptions{
		CachedReporter:  reporter,
		Separator:       tallyprom.DefaultSeparator,
		SanitizeOptions: &sanitize,
	}, time.Second)
	return sdktally.NewMetricsHandler(sdktally.NewPrometheusNamingScope(scope)), closer
}

// Handler serves the registry in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// ObserveRequest records one API request; route is the route's pattern
// (/v1/customers/:id), never the path, so that customer ids do not become
// label values.
func (m *Metrics) ObserveRequest(method, route string, status int, took time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Observe(took.Seconds())
}
