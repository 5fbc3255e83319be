package api

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"go.temporal.io/sdk/converter"
)

// The codec endpoint follows the Temporal UI's codec-server convention:
// POST {"payloads": [...]} (protobuf JSON) to /codec/decode or
// /codec/encode and get the payloads back decoded or encoded, so that the
// UI (with /codec as its codec endpoint) and the CLI (--codec-endpoint)
// show what omni's encrypted payloads hold.
const codecPrefix = "/codec/"

// codecHandler serves the codec endpoint with the SDK's handler.
func codecHandler(codec converter.PayloadCodec) echo.HandlerFunc {
	h := converter.NewPayloadCodecHTTPHandler(codec)
	return func(c echo.Context) error {
		// The SDK's handler answers bad input in plain text; the API
		// answers it in its one error shape.
		w := &codecWriter{ResponseWriter: c.Response().Writer}
		h.ServeHTTP(w, c.Request())
		if w.status != 0 {
			return &Error{Status: w.status, Code: codeFor(w.status), Message: strings.TrimSpace(w.failure.String())}
		}
		return nil
	}
}

// codecWriter passes a success through and keeps an error's status and
// text.
type codecWriter struct {
	http.ResponseWriter
	status  int
	failure bytes.Buffer
}

func (w *codecWriter) WriteHeader(status int) {
	if status != http.StatusOK {
		w.status = status
		return
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *codecWriter) Write(b []byte) (int, error) {
	if w.status != 0 {
		return w.failure.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

// codecCORS lets the Temporal UI at uiURL call the codec endpoint from
// the browser, with the headers it sends. It goes before any check of
// keys: a preflight request carries none.
func codecCORS(uiURL string) echo.MiddlewareFunc {
	u, err := url.Parse(uiURL)
	if uiURL == "" || err != nil || u.Host == "" {
		// Echo's CORS allows every origin when given none.
		return func(next echo.HandlerFunc) echo.HandlerFunc { return next }
	}
	return middleware.CORSWithConfig(middleware.CORSConfig{
		Skipper:      func(c echo.Context) bool { return !strings.HasPrefix(c.Request().URL.Path, codecPrefix) },
		AllowOrigins: []string{u.Scheme + "://" + u.Host},
		AllowMethods: []string{http.MethodPost},
		AllowHeaders: []string{echo.HeaderAuthorization, "X-Namespace", echo.HeaderContentType},
		MaxAge:       600,
	})
}

// CodecHandler serves the codec endpoint alone and without a key, to the
// Temporal UI at uiURL: `omni dev` serves it on a loopback address to the
// dev server's UI, which cannot send a key (it sends only its own login's
// token, and the dev server has no login).
func CodecHandler(codec converter.PayloadCodec, uiURL string, logger *slog.Logger) http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(logger)
	e.JSONSerializer = jsonSerializer{}
	e.Use(codecCORS(uiURL))
	e.Use(middleware.BodyLimit(MaxBodyBytes))
	h := codecHandler(codec)
	e.POST(codecPrefix+"encode", h)
	e.POST(codecPrefix+"decode", h)
	return e
}
