// Package api is omni's HTTP API: marketers define and launch campaigns,
// channel systems report responses, everybody reads the customer view.
package api

import (
	"context"
	_ "embed"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/omni-orchestrator/omni/auth"
	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/channels/twilio"
	"github.com/omni-orchestrator/omni/enroll"
	"github.com/omni-orchestrator/omni/journey"
	"github.com/omni-orchestrator/omni/metrics"
	"github.com/omni-orchestrator/omni/responses"
	"github.com/omni-orchestrator/omni/store"
)

//go:embed openapi.yaml
var openAPI []byte

// MaxBodyBytes bounds request bodies; larger ones get 413.
const MaxBodyBytes = "2M"

// Server holds the API's dependencies.
type Server struct {
	Store     *store.Store
	Temporal  client.Client
	Enroller  *enroll.Enroller
	Responses *responses.Recorder
	Webhooks  Webhooks
	// LinkSchemes are the app schemes push links may use besides https.
	LinkSchemes campaign.LinkSchemes
	Limits      Limits
	// Metrics is the process's registry, served at /metrics; without one
	// the API serves its own (requests and runtime only).
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	// Codec decodes and encodes payloads at /codec for the Temporal UI at
	// TemporalUI (its origin is allowed by CORS) and the Temporal CLI.
	Codec      converter.PayloadCodec
	TemporalUI string

	keys    *auth.Keys
	callers *callers
}

// route is a route the API serves and who may call it: a key with scope,
// or, where public says why, anybody.
type route struct {
	method, path string
	scope        auth.Scope
	public       string
	handle       echo.HandlerFunc
}

func scoped(method, path string, scope auth.Scope, h echo.HandlerFunc) route {
	return route{method: method, path: path, scope: scope, handle: h}
}

func public(method, path, why string, h echo.HandlerFunc) route {
	return route{method: method, path: path, public: why, handle: h}
}

// routes is every route of the API, each with the scope a key needs for
// it or the reason it is public. Handler registers these and nothing
// else, and a test fails when a served route is not in this table, so no
// route is ever open by accident. Adding a route is adding its line here
// (and its operation, with that scope as its security, to openapi.yaml).
func (s *Server) routes() []route {
	const get, post, del = http.MethodGet, http.MethodPost, http.MethodDelete
	return []route{
		public(get, "/healthz", "a liveness probe", s.healthz),
		public(get, "/readyz", "a readiness probe", s.readyz),
		public(get, "/metrics", "operational figures without personal data, for a scraper", echo.WrapHandler(s.Metrics.Handler())),
		public(get, "/openapi.yaml", "the published API description", func(c echo.Context) error { return c.Blob(http.StatusOK, "application/yaml", openAPI) }),
		public(post, "/v1/webhooks/sendgrid", "SendGrid signs it", s.sendgridWebhook),
		public(post, twilio.StatusPath, "Twilio signs it", s.twilioStatus),
		public(post, twilio.InboundPath, "Twilio signs it", s.twilioInbound),

		scoped(post, "/v1/customers", auth.CustomersWrite, s.upsertCustomers),
		scoped(get, "/v1/customers/:id", auth.CustomersRead, s.getCustomer),
		scoped(get, "/v1/customers/:id/timeline", auth.CustomersRead, s.getTimeline),
		scoped(get, "/v1/customers/:id/offers", auth.CustomersRead, s.getOffers),
		// The codec decodes what journeys hold of customers.
		scoped(post, codecPrefix+"decode", auth.CustomersRead, codecHandler(s.Codec)),
		scoped(post, codecPrefix+"encode", auth.CustomersRead, codecHandler(s.Codec)),

		scoped(post, "/v1/campaigns", auth.CampaignsWrite, s.createCampaign),
		scoped(get, "/v1/campaigns/:id", auth.CampaignsRead, s.getCampaign),
		scoped(post, "/v1/campaigns/:id/launch", auth.CampaignsWrite, s.launchCampaign),
		scoped(get, "/v1/campaigns/:id/schedules", auth.CampaignsRead, s.getSchedules),
		scoped(del, "/v1/campaigns/:id/schedules/:schedule_id", auth.CampaignsWrite, s.deleteSchedule),
		scoped(post, "/v1/campaigns/:id/enroll", auth.CampaignsWrite, s.enrollCustomer),
		scoped(post, "/v1/campaigns/:id/preview", auth.CampaignsWrite, s.previewCampaign),
		scoped(post, "/v1/campaigns/:id/pause", auth.CampaignsWrite, s.controlCampaign(journey.Pause)),
		scoped(post, "/v1/campaigns/:id/resume", auth.CampaignsWrite, s.controlCampaign(journey.Resume)),
		scoped(post, "/v1/campaigns/:id/cancel", auth.CampaignsWrite, s.controlCampaign(journey.Cancel)),
		scoped(get, "/v1/campaigns/:id/stats", auth.CampaignsRead, s.getStats),
		scoped(get, "/v1/campaigns/:id/stats.csv", auth.CampaignsRead, s.getStatsCSV),
		scoped(get, "/v1/campaigns/:id/journeys.csv", auth.CampaignsRead, s.getJourneysCSV),

		// Segments are campaign material; their members are customers.
		scoped(post, "/v1/segments", auth.CampaignsWrite, s.defineSegment),
		scoped(get, "/v1/segments/:id", auth.CampaignsRead, s.getSegment),
		scoped(get, "/v1/segments/:id/customers", auth.CustomersRead, s.getSegmentCustomers),

		scoped(post, "/v1/responses", auth.EventsWrite, s.postResponse),
		scoped(post, "/v1/events", auth.EventsWrite, s.postEvents),
		scoped(post, "/v1/segment", auth.EventsWrite, s.postSegment),
		scoped(post, "/v1/coupons/:code/redeem", auth.EventsWrite, s.redeemCoupon),

		scoped(post, "/v1/keys", auth.Admin, s.createKey),
		scoped(get, "/v1/keys", auth.Admin, s.listKeys),
		scoped(del, "/v1/keys/:id", auth.Admin, s.revokeKey),
		scoped(get, "/v1/audit", auth.Admin, s.getAudit),
	}
}

// Route is what the route table says of a route: its scope, or why it is
// public.
type Route struct {
	Method, Path string
	Scope        auth.Scope
	Public       string
}

// Routes is the route table, without the handlers.
func Routes() []Route {
	var out []Route
	for _, r := range (&Server{Metrics: metrics.New()}).routes() {
		out = append(out, Route{Method: r.method, Path: r.path, Scope: r.scope, Public: r.public})
	}
	return out
}

// Handler returns the API's routes.
func (s *Server) Handler() *echo.Echo {
	if s.Metrics == nil {
		s.Metrics = metrics.New()
	}
	e := s.echo()
	s.keys = auth.NewKeys(s.Store, s.Logger)
	s.callers = newCallers(s.Limits)
	authenticate := s.authenticate()
	// A key is checked before the body is read: a caller without one
	// learns nothing of what its input would have got.
	for _, r := range s.routes() {
		if r.public != "" {
			e.Add(r.method, r.path, r.handle, cleanInput)
			continue
		}
		e.Add(r.method, r.path, r.handle, authenticate, s.callers.throttle, s.audit, authorize(r.scope), cleanInput)
	}
	return e
}

// echo is the API without routes: the error shape, request ids, limits
// and the request log and metrics.
func (s *Server) echo() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(s.Logger)
	e.JSONSerializer = jsonSerializer{}
	// A caller's address is X-Forwarded-For's nearest address outside
	// loopback and private networks (a proxy in front), else the
	// connection's: callers on the internet cannot choose theirs.
	e.IPExtractor = echo.ExtractIPFromXFFHeader()
	e.Use(middleware.RequestID())
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisableStackAll: true, DisablePrintStack: true,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.Logger.Error("panic", "path", c.Path(), "error", err, "stack", string(stack))
			return err
		}}))
	e.Use(middleware.BodyLimit(MaxBodyBytes))
	e.Use(middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogMethod: true, LogURI: true, LogStatus: true, LogLatency: true, LogRequestID: true, LogRoutePath: true,
		HandleError: true, // the status the error handler answers, not 200
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			s.Logger.Debug("request", "method", v.Method, "uri", v.URI, "status", v.Status, "latency", v.Latency,
				"request_id", v.RequestID, "key_id", keyOf(c).ID)
			route := v.RoutePath
			if route == "" {
				route = "unmatched"
			}
			s.Metrics.ObserveRequest(v.Method, route, v.Status, v.Latency)
			return nil
		},
	}))
	// The Temporal UI's preflight requests carry no key: CORS answers
	// them before any route's key is checked.
	e.Use(codecCORS(s.TemporalUI))
	return e
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 only when PostgreSQL and Temporal both answer. A
// dependency that does not answer is "unavailable": its error, which can
// name hosts, users and databases, goes to the log, not to whoever asks.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
	defer cancel()
	checks := map[string]string{"postgres": "ok", "temporal": "ok"}
	status := http.StatusOK
	down := func(dependency string, err error) {
		s.Logger.WarnContext(ctx, "not ready", "dependency", dependency, "error", err)
		checks[dependency], status = "unavailable", http.StatusServiceUnavailable
	}
	if err := s.Store.Ping(ctx); err != nil {
		down("postgres", err)
	}
	if _, err := s.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		down("temporal", err)
	}
	return c.JSON(status, map[string]any{"status": http.StatusText(status), "checks": checks})
}

// jsonSerializer writes JSON without escaping <, > and &: message bodies
// are HTML, and marketers read them in API answers.
type jsonSerializer struct{ echo.DefaultJSONSerializer }

func (jsonSerializer) Serialize(c echo.Context, i any, indent string) error {
	enc := json.NewEncoder(c.Response())
	enc.SetEscapeHTML(false)
	if indent != "" {
		enc.SetIndent("", indent)
	}
	return enc.Encode(i)
}
