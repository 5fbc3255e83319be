package api

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/omni-orchestrator/omni/auth"
	"github.com/omni-orchestrator/omni/store"
)

// keyContext is where a request's key is kept on its echo.Context.
const keyContext = "omni.key"

// keyOf is the key a request was made with (the zero key on public routes).
func keyOf(c echo.Context) store.APIKey {
	k, _ := c.Get(keyContext).(store.APIKey)
	return k
}

// authenticate lets a request through with a valid key in
// `Authorization: Bearer <key>` and answers 401 otherwise. The key may
// also come as the user name of Basic credentials, which is how Segment's
// and RudderStack's libraries and webhooks send a write key.
func (s *Server) authenticate() echo.MiddlewareFunc {
	return middleware.KeyAuthWithConfig(middleware.KeyAuthConfig{
		KeyLookup: "header:" + echo.HeaderAuthorization + ":Bearer ,header:" + echo.HeaderAuthorization + ":Basic ",
		Validator: func(token string, c echo.Context) (bool, error) {
			key, err := s.keys.Authenticate(c.Request().Context(), basicUser(token))
			if err != nil {
				return false, err
			}
			c.Set(keyContext, key)
			return true, nil
		},
		ErrorHandler: func(err error, c echo.Context) error {
			var missing *middleware.ErrKeyAuthMissing
			var refused *auth.KeyError
			switch {
			case errors.As(err, &missing):
				return unauthorized(c, "", "an API key is required: send Authorization: Bearer <key>")
			case errors.As(err, &refused):
				return unauthorized(c, "invalid_token", refused.Reason)
			}
			return unavailable("the API key could not be checked: %v", err)
		},
	})
}

// basicUser is the user name of Basic credentials (base64 of
// "user:password"), or token itself when it is not such credentials: an
// omni key is never valid base64 of a pair, as it holds '_'.
func basicUser(token string) string {
	b, err := base64.StdEncoding.DecodeString(token)
	if err != nil {
		return token
	}
	user, _, ok := strings.Cut(string(b), ":")
	if !ok {
		return token
	}
	return user
}

// unauthorized is a 401 with the challenge RFC 6750 asks for.
func unauthorized(c echo.Context, challenge, message string) error {
	h := `Bearer realm="omni"`
	if challenge != "" {
		h += `, error="` + challenge + `"`
	}
	c.Response().Header().Set(echo.HeaderWWWAuthenticate, h)
	return &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: message}
}

// authorize answers 403 unless the request's key has scope.
func authorize(scope auth.Scope) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if key := keyOf(c); !auth.Grants(key, scope) {
				return &Error{Status: http.StatusForbidden, Code: "forbidden",
					Message: fmt.Sprintf("API key %s lacks the scope %s, which %s %s needs", key.ID, scope, c.Request().Method, c.Path())}
			}
			return next(c)
		}
	}
}

// tooMany is a 429 that says when to come back.
func tooMany(c echo.Context, wait time.Duration, message string) error {
	seconds := int(math.Ceil(wait.Seconds()))
	c.Response().Header().Set("Retry-After", fmt.Sprint(seconds))
	return &Error{Status: http.StatusTooManyRequests, Code: "rate_limited", Message: fmt.Sprintf("%s; retry in %d s", message, seconds)}
}

// targetsContext is where handlers add what a call changes, for the
// audit trail.
const targetsContext = "omni.targets"

// auditTargets names what a call changes when the body says it (a
// customer upserted, a campaign defined); targets in the path (the
// campaign launched) are named without it.
func auditTargets(c echo.Context, targets ...string) {
	have, _ := c.Get(targetsContext).([]string)
	c.Set(targetsContext, append(have, targets...))
}

// audit records every call that is not a read in the audit trail, with
// its outcome: the call is answered first, so that the status is known.
// Refused calls (403) are recorded too; calls without a valid key (401)
// and those over the rate limit (429) are not, so that nobody can fill
// the trail without a key.
func (s *Server) audit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().Method == http.MethodGet {
			return next(c)
		}
		if err := next(c); err != nil {
			c.Error(err)
		}
		targets := pathTargets(c)
		more, _ := c.Get(targetsContext).([]string)
		e := store.AuditEntry{KeyID: keyOf(c).ID, Action: c.Request().Method + " " + c.Path(),
			Targets: append(targets, more...), RequestID: c.Response().Header().Get(echo.HeaderXRequestID), Status: c.Response().Status}
		// Written even when the caller has gone: the call was made.
		if err := s.Store.Audit(context.WithoutCancel(c.Request().Context()), e); err != nil {
			s.Logger.Error("audit entry not written", "key_id", e.KeyID, "action", e.Action, "targets", e.Targets,
				"request_id", e.RequestID, "status", e.Status, "error", err)
		}
		return nil
	}
}

// pathTargets are the targets a route's path names: the parameter after
// a collection, singular (/v1/campaigns/:id/launch → campaign:<id>).
func pathTargets(c echo.Context) []string {
	var out []string
	segments := strings.Split(c.Path(), "/")
	for i, seg := range segments {
		if name, ok := strings.CutPrefix(seg, ":"); ok && i > 0 {
			out = append(out, strings.TrimSuffix(segments[i-1], "s")+":"+c.Param(name))
		}
	}
	return out
}
