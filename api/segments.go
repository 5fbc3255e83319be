package api

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/store"
)

// SegmentView is a segment's definition and how many customers are in it.
type SegmentView struct {
	ID         string           `json:"id"`
	Name       string           `json:"name"`
	Definition campaign.Segment `json:"definition"`
	Size       int              `json:"size"`
	CreatedAt  time.Time        `json:"created_at"`
	UpdatedAt  time.Time        `json:"updated_at"`
}

func segmentView(s store.Segment, size int) SegmentView {
	return SegmentView{ID: s.ID, Name: s.Name, Definition: s.Definition, Size: size, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
}

// defineSegment stores a segment (201) or replaces the one with its id
// (200), and answers it with its membership computed afresh.
func (s *Server) defineSegment(c echo.Context) error {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err
	}
	def, problems := campaign.ParseSegment(body)
	if len(problems) > 0 {
		return invalid("invalid_segment", "the segment definition is not valid; nothing was saved", problems...)
	}
	auditTargets(c, "segment:"+def.ID)
	ctx := c.Request().Context()
	seg, created, err := s.Store.DefineSegment(ctx, def)
	if err != nil {
		return err
	}
	size, err := s.Store.SegmentSize(ctx, seg.ID)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.JSON(status, segmentView(seg, size))
}

func (s *Server) segment(ctx context.Context, id string) (store.Segment, error) {
	seg, err := s.Store.Segment(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return seg, notFound("no segment %q", id)
	}
	return seg, err
}

func (s *Server) getSegment(c echo.Context) error {
	ctx := c.Request().Context()
	var v SegmentView
	err := s.Store.Snapshot(ctx, func(st *store.Store) error {
		seg, err := st.Segment(ctx, c.Param("id"))
		if errors.Is(err, store.ErrNotFound) {
			return notFound("no segment %q", c.Param("id"))
		} else if err != nil {
			return err
		}
		size, err := st.SegmentSize(ctx, seg.ID)
		v = segmentView(seg, size)
		return err
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

// SegmentMembers is one page of a segment's members, in customer id
// order; Next pages on.
type SegmentMembers struct {
	SegmentID string                `json:"segment_id"`
	Customers []store.SegmentMember `json:"customers"`
	Next      string                `json:"next,omitempty"`
}

// getSegmentCustomers answers a segment's members, a page at a time
// (?limit=, at most 1000, default 100; ?after= the previous page's next).
func (s *Server) getSegmentCustomers(c echo.Context) error {
	ctx := c.Request().Context()
	limit, err := queryLimit(c, 100, 1000)
	if err != nil {
		return err
	}
	var after string
	if v := c.QueryParam("after"); v != "" {
		raw, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil || !campaign.CustomerID.Valid(string(raw)) {
			return invalid("invalid_request", "bad cursor", campaign.Problem{Path: "after", Message: "not a cursor from this list's next"})
		}
		after = string(raw)
	}
	seg, err := s.segment(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	members, err := s.Store.SegmentMembers(ctx, seg.ID, after, limit)
	if err != nil {
		return err
	}
	out := SegmentMembers{SegmentID: seg.ID, Customers: members}
	if len(members) == limit {
		out.Next = base64.RawURLEncoding.EncodeToString([]byte(members[len(members)-1].CustomerID))
	}
	return c.JSON(http.StatusOK, out)
}
