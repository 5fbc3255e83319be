package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/omni-orchestrator/omni/auth"
	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/store"
)

type keyRequest struct {
	Name      string     `json:"name"`
	Role      string     `json:"role,omitempty"`
	Scopes    []string   `json:"scopes,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// CreatedKey is a new key with the key itself, shown this once.
type CreatedKey struct {
	store.APIKey
	Key string `json:"key"`
}

// createKey makes a key with a role's scopes or the scopes listed.
func (s *Server) createKey(c echo.Context) error {
	var req keyRequest
	if err := readJSON(c, &req); err != nil {
		return err
	}
	var scopes []auth.Scope
	var err error
	switch {
	case (req.Role == "") == (len(req.Scopes) == 0):
		return invalid("invalid_request", "give the key a role or scopes", campaign.Problem{Path: "role", Message: "give exactly one of role or scopes"})
	case req.Role != "":
		if scopes, err = auth.Role(req.Role); err != nil {
			return invalid("invalid_request", "unknown role", campaign.Problem{Path: "role", Message: err.Error()})
		}
	default:
		if scopes, err = auth.ParseScopes(req.Scopes); err != nil {
			return invalid("invalid_request", "unknown scope", campaign.Problem{Path: "scopes", Message: err.Error()})
		}
	}
	key, token, err := auth.Create(c.Request().Context(), s.Store, req.Name, scopes, req.ExpiresAt)
	var bad *auth.InvalidError
	if errors.As(err, &bad) {
		return invalid("invalid_request", "the key cannot be made", campaign.Problem{Path: bad.Field, Message: bad.Reason})
	} else if err != nil {
		return err
	}
	auditTargets(c, "key:"+key.ID)
	return c.JSON(http.StatusCreated, CreatedKey{APIKey: key, Key: token})
}

func (s *Server) listKeys(c echo.Context) error {
	keys, err := s.Store.Keys(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"keys": keys})
}

// revokeKey revokes a key for good; revoking it again answers the same.
func (s *Server) revokeKey(c echo.Context) error {
	key, err := s.keys.Revoke(c.Request().Context(), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no API key %q", c.Param("id"))
	} else if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, key)
}

// AuditTrail is one page of the audit trail, newest first; Next pages on.
type AuditTrail struct {
	Entries []store.AuditEntry `json:"entries"`
	Next    string             `json:"next,omitempty"`
}

// getAudit answers the audit trail, newest first, a page at a time
// (?limit=, at most 500, default 100; ?after= the previous page's next),
// of one target (?target=campaign:spring) or key (?key_id=), or all.
func (s *Server) getAudit(c echo.Context) error {
	limit, err := queryLimit(c, 100, 500)
	if err != nil {
		return err
	}
	q := store.AuditQuery{Target: c.QueryParam("target"), KeyID: c.QueryParam("key_id"), Limit: limit}
	if v := c.QueryParam("after"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id < 1 {
			return invalid("invalid_request", "bad cursor", campaign.Problem{Path: "after", Message: "not a cursor from this trail's next"})
		}
		q.Before = id
	}
	entries, err := s.Store.AuditTrail(c.Request().Context(), q)
	if err != nil {
		return err
	}
	t := AuditTrail{Entries: entries}
	if len(entries) == q.Limit {
		t.Next = strconv.FormatInt(entries[len(entries)-1].ID, 10)
	}
	return c.JSON(http.StatusOK, t)
}
