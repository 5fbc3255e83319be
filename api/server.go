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
	// Metrics is the process's registry, served at /metrics; without one
	// the API serves its own (requests and runtime only).
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	// Codec decodes and encodes payloads at /codec for the Temporal UI at
	// TemporalUI (its origin is allowed by CORS) and the Temporal CLI.
	Codec      converter.PayloadCodec
	TemporalUI string
	// CodecKey is, until API keys with scopes guard every route, the one
	// bearer key the codec endpoint accepts; empty, it accepts none.
	CodecKey string
}

// Handler returns the API's routes.
func (s *Server) Handler() *echo.Echo {
	m := s.Metrics
	if m == nil {
		m = metrics.New()
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(s.Logger)
	e.JSONSerializer = jsonSerializer{}
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
			s.Logger.Debug("request", "method", v.Method, "uri", v.URI, "status", v.Status, "latency", v.Latency, "request_id", v.RequestID)
			route := v.RoutePath
			if route == "" {
				route = "unmatched"
			}
			m.ObserveRequest(v.Method, route, v.Status, v.Latency)
			return nil
		},
	}))
	e.Use(codecCORS(s.TemporalUI))

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(m.Handler()))
	e.GET("/openapi.yaml", func(c echo.Context) error { return c.Blob(http.StatusOK, "application/yaml", openAPI) })

	v1 := e.Group("/v1")
	v1.POST("/customers", s.upsertCustomers)
	v1.GET("/customers/:id", s.getCustomer)
	v1.GET("/customers/:id/timeline", s.getTimeline)
	v1.GET("/customers/:id/offers", s.getOffers)
	v1.POST("/coupons/:code/redeem", s.redeemCoupon)
	v1.POST("/campaigns", s.createCampaign)
	v1.GET("/campaigns/:id", s.getCampaign)
	v1.POST("/campaigns/:id/launch", s.launchCampaign)
	v1.POST("/campaigns/:id/enroll", s.enrollCustomer)
	v1.POST("/campaigns/:id/preview", s.previewCampaign)
	v1.GET("/campaigns/:id/stats", s.getStats)
	v1.GET("/campaigns/:id/stats.csv", s.getStatsCSV)
	v1.GET("/campaigns/:id/journeys.csv", s.getJourneysCSV)
	v1.POST("/campaigns/:id/pause", s.controlCampaign(journey.Pause))
	v1.POST("/campaigns/:id/resume", s.controlCampaign(journey.Resume))
	v1.POST("/campaigns/:id/cancel", s.controlCampaign(journey.Cancel))
	v1.POST("/responses", s.postResponse)
	v1.POST("/webhooks/sendgrid", s.sendgridWebhook)
	e.POST(twilio.StatusPath, s.twilioStatus)
	e.POST(twilio.InboundPath, s.twilioInbound)
	codecRoutes(e, s.Codec, s.codecKey())
	return e
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 only when PostgreSQL and Temporal both answer.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
	defer cancel()
	checks := map[string]string{"postgres": "ok", "temporal": "ok"}
	status := http.StatusOK
	if err := s.Store.Ping(ctx); err != nil {
		checks["postgres"], status = err.Error(), http.StatusServiceUnavailable
	}
	if _, err := s.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		checks["temporal"], status = err.Error(), http.StatusServiceUnavailable
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
