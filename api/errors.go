package api

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
	"go.temporal.io/api/serviceerror"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/store"
)

// Error is the one shape of every error the API answers:
//
//	{"error": {"code": "invalid_request", "message": "...", "problems": [{"path": "steps.a.next", "message": "..."}]}}
type Error struct {
	Status   int               `json:"-"`
	Code     string            `json:"code"`
	Message  string            `json:"message"`
	Problems campaign.Problems `json:"problems,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func invalid(code, message string, problems ...campaign.Problem) *Error {
	return &Error{Status: http.StatusBadRequest, Code: code, Message: message, Problems: problems}
}

func notFound(format string, args ...any) *Error {
	return &Error{Status: http.StatusNotFound, Code: "not_found", Message: fmt.Sprintf(format, args...)}
}

func unprocessable(code, format string, args ...any) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: code, Message: fmt.Sprintf(format, args...)}
}

func unavailable(format string, args ...any) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: fmt.Sprintf(format, args...)}
}

// readJSON decodes the request body strictly into v.
func readJSON(c echo.Context, v any) error {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err // BodyLimit's 413, or a broken connection
	}
	if len(body) == 0 {
		return invalid("invalid_request", "a JSON body is required")
	}
	if p := campaign.DecodeStrict(body, v); p != nil {
		return invalid("invalid_request", "the body is not valid for this endpoint", *p)
	}
	return nil
}

// queryLimit reads a page's ?limit=: def when absent, else a whole number
// from 1 to most, or a 400 at limit.
func queryLimit(c echo.Context, def, most int) (int, error) {
	v := c.QueryParam("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > most {
		return 0, invalid("invalid_request", "bad limit", campaign.Problem{Path: "limit", Message: fmt.Sprintf("a whole number from 1 to %d", most)})
	}
	return n, nil
}

// errorHandler answers every error in the documented shape; unexpected
// errors are logged with the request id and answered without details.
func errorHandler(logger *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		var apiErr *Error
		var httpErr *echo.HTTPError
		switch {
		case errors.As(err, &apiErr):
		case errors.As(err, &httpErr):
			apiErr = &Error{Status: httpErr.Code, Code: codeFor(httpErr.Code), Message: fmt.Sprint(httpErr.Message)}
		case store.Unavailable(err):
			logger.Warn("database unavailable", "method", c.Request().Method, "path", c.Path(), "error", err)
			apiErr = unavailable("the database does not answer; nothing was changed, try again")
		case temporalUnavailable(err):
			logger.Warn("Temporal unavailable", "method", c.Request().Method, "path", c.Path(), "error", err)
			apiErr = unavailable("Temporal does not answer; try again")
		default:
			logger.Error("request failed", "method", c.Request().Method, "path", c.Path(),
				"request_id", c.Response().Header().Get(echo.HeaderXRequestID), "key_id", keyOf(c).ID, "error", err)
			apiErr = &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error; see the server log for request " + c.Response().Header().Get(echo.HeaderXRequestID)}
		}
		if apiErr.Status == http.StatusServiceUnavailable {
			c.Response().Header().Set("Retry-After", retryAfter)
		}
		if err := c.JSON(apiErr.Status, map[string]*Error{"error": apiErr}); err != nil {
			logger.Error("write error response", "error", err)
		}
	}
}

// retryAfter is the seconds a 503 asks the caller to wait: outages of a
// dependency last seconds to minutes, and retries then are cheap.
const retryAfter = "5"

// temporalUnavailable says the Temporal server did not answer.
func temporalUnavailable(err error) bool {
	var unavailable *serviceerror.Unavailable
	var deadline *serviceerror.DeadlineExceeded
	return errors.As(err, &unavailable) || errors.As(err, &deadline)
}

func codeFor(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusRequestEntityTooLarge:
		return "payload_too_large"
	case http.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	case http.StatusTooManyRequests:
		return "rate_limited"
	case http.StatusServiceUnavailable:
		return "unavailable"
	}
	if status >= 500 {
		return "internal"
	}
	return "invalid_request"
}
