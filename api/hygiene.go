package api

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/channels/twilio"
)

// Media types of request bodies: JSON everywhere, except where a provider
// posts its own format (Twilio's webhooks post forms).
const (
	jsonType = "application/json"
	formType = "application/x-www-form-urlencoded"
)

var formRoutes = map[string]bool{twilio.StatusPath: true, twilio.InboundPath: true}

// cleanInput refuses, before a handler runs, what no handler could use: a
// body of another media type than its route takes (415; this also stops a
// browser's cross-site text/plain POST, which needs no CORS preflight), and
// a NUL character or invalid UTF-8 in a path parameter, a query parameter
// or anywhere in the body (400 at its path), which PostgreSQL cannot store.
// It also decodes the path parameters Echo leaves percent-encoded.
func cleanInput(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := cleanPath(c); err != nil {
			return err
		}
		if err := cleanQuery(c.Request().URL.Query()); err != nil {
			return err
		}
		if err := cleanBody(c); err != nil {
			return err
		}
		return next(c)
	}
}

func badText(p campaign.Problem) *Error {
	return invalid("invalid_request", "the request holds text that cannot be stored", p)
}

// textProblem says what is wrong with s as text to store, or "".
func textProblem(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "not valid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "contains a NUL character, which cannot be stored"
	}
	return ""
}

// cleanPath checks the path parameters. Echo matches routes on the raw
// path when it has escapes Go would write differently (%2F, %3A) and then
// hands the parameters over still escaped: they are decoded here, so that
// every id a client percent-encodes reaches its handler as it is stored.
func cleanPath(c echo.Context) error {
	names, values := c.ParamNames(), append([]string(nil), c.ParamValues()...)
	raw := c.Request().URL.RawPath != ""
	for i, name := range names {
		if i >= len(values) {
			break
		}
		if raw {
			v, err := url.PathUnescape(values[i])
			if err != nil {
				return badText(campaign.Problem{Path: name, Message: "not a percent-encoded path segment"})
			}
			values[i] = v
		}
		if msg := textProblem(values[i]); msg != "" {
			return badText(campaign.Problem{Path: name, Message: msg})
		}
	}
	c.SetParamValues(values...)
	return nil
}

// cleanQuery checks query or form parameters, each at its name.
func cleanQuery(params url.Values) error {
	for name, values := range params {
		path := name
		if textProblem(name) != "" {
			path = strconv.Quote(name)
		}
		for _, v := range append([]string{name}, values...) {
			if msg := textProblem(v); msg != "" {
				return badText(campaign.Problem{Path: path, Message: msg})
			}
		}
	}
	return nil
}

// cleanBody checks the body's media type and text, and leaves the body to
// be read again by the handler.
func cleanBody(c echo.Context) error {
	r := c.Request()
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return nil
	}
	ct := r.Header.Get(echo.HeaderContentType)
	if ct == "" && r.ContentLength == 0 {
		return nil // a POST without a body: pause, resume, cancel
	}
	want := jsonType
	if formRoutes[c.Path()] {
		want = formType
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != want || params["charset"] != "" && !strings.EqualFold(params["charset"], "utf-8") {
		return &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
			Message: "this endpoint takes " + want + " (in UTF-8); the request says Content-Type: " + strconv.Quote(ct)}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err // BodyLimit's 413, or a broken connection
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if want == formType {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil // the handler says what is wrong with the form
		}
		return cleanQuery(form)
	}
	if p := campaign.TextProblem(body); p != nil {
		return badText(*p)
	}
	return nil
}
