package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/enroll"
	"github.com/omni-orchestrator/omni/store"
)

// customerViewLimit bounds the messages and responses in the customer view.
const customerViewLimit = 100

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

// upsertCustomers takes one customer object or an array of them; all are
// validated first and written in one transaction, so nothing is written
// half-way.
func (s *Server) upsertCustomers(c echo.Context) error {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err
	}
	isArray := bytes.HasPrefix(bytes.TrimSpace(body), []byte("["))
	var patches []store.CustomerPatch
	var p *campaign.Problem
	if isArray {
		p = campaign.DecodeStrict(body, &patches)
	} else {
		var one store.CustomerPatch
		p = campaign.DecodeStrict(body, &one)
		patches = []store.CustomerPatch{one}
	}
	if p != nil {
		return invalid("invalid_request", "the body is not a customer or an array of customers", *p)
	}
	if len(patches) == 0 {
		return invalid("invalid_request", "the array holds no customers")
	}
	var problems campaign.Problems
	for i, patch := range patches {
		path := ""
		if isArray {
			path = campaign.Index("", i)
		}
		problems = append(problems, validateCustomer(path, patch)...)
	}
	if len(problems) > 0 {
		return invalid("invalid_customer", "the customer data is not valid; nothing was written", problems...)
	}
	customers, err := s.saveCustomers(c, patches)
	if err != nil {
		return err
	}
	if !isArray {
		return c.JSON(http.StatusOK, customers[0])
	}
	return c.JSON(http.StatusOK, map[string]any{"customers": customers})
}

// saveCustomers writes validated patches in one transaction, names them
// in the audit trail and re-evaluates their segments.
func (s *Server) saveCustomers(c echo.Context, patches []store.CustomerPatch) ([]store.Customer, error) {
	for _, p := range patches {
		auditTargets(c, "customer:"+p.ID)
	}
	customers, err := s.Store.UpsertCustomers(c.Request().Context(), patches)
	if err != nil {
		return nil, err
	}
	return customers, s.refreshSegments(c.Request().Context(), patches, customers)
}

// refreshSegments re-evaluates the upserted customers' segments: a new
// customer's in every segment, a changed one's in the segments that test
// what changed. Failing, it answers 503: the customers are saved, and
// posting them again re-evaluates.
func (s *Server) refreshSegments(ctx context.Context, patches []store.CustomerPatch, customers []store.Customer) error {
	var fresh, changed, fields []string
	for i, c := range customers {
		if c.CreatedAt.Equal(c.UpdatedAt) {
			fresh = append(fresh, c.ID)
			continue
		}
		changed = append(changed, c.ID)
		fields = append(fields, patches[i].SegmentFields()...)
	}
	for _, r := range []struct {
		ids []string
		a   store.Affects
	}{{fresh, store.Affects{All: true}}, {changed, store.Affects{Fields: fields}}} {
		err := s.Enroller.RefreshSegments(ctx, r.ids, r.a)
		var dispatch *enroll.DispatchError
		switch {
		case errors.As(err, &dispatch):
			s.Logger.WarnContext(ctx, "segment triggers left to the segment runner", "error", err)
		case store.Unavailable(err):
			return unavailable("the customers are saved, but their segments could not be re-evaluated (%v); post them again", err)
		case err != nil:
			return err
		}
	}
	return nil
}

func validateCustomer(path string, c store.CustomerPatch) campaign.Problems {
	var ps campaign.Problems
	add := func(field, msg string) {
		ps = append(ps, campaign.Problem{Path: campaign.Join(path, field), Message: msg})
	}
	campaign.CustomerID.Check(&ps, campaign.Join(path, "id"), c.ID)
	if v := deref(c.Email); v != "" {
		if a, err := mail.ParseAddress(v); err != nil || a.Address != v {
			add("email", "not an email address")
		}
	}
	if v := deref(c.Phone); v != "" && !e164.MatchString(v) {
		add("phone", "must be in E.164 format, such as +4915112345678")
	}
	if v := deref(c.Timezone); v != "" {
		if _, err := time.LoadLocation(v); err != nil {
			add("timezone", "not an IANA time zone, such as Europe/Berlin")
		}
	}
	if v := deref(c.PreferredChannel); v != "" && !slices.Contains(campaign.Channels, v) {
		add("preferred_channel", "one of email, sms, push")
	}
	if len(deref(c.PushToken)) > 4096 {
		add("push_token", "at most 4096 characters")
	}
	return ps
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// CustomerView is the customer as every channel sees it.
type CustomerView struct {
	Customer store.Customer `json:"customer"`
	// Addresses are the customer's address per channel (email, phone,
	// push token), consent there and the last message sent there.
	Addresses []store.Address  `json:"addresses"`
	Journeys  []store.Journey  `json:"journeys"`
	Messages  []store.Message  `json:"messages"`
	Responses []store.Response `json:"responses"`
	// Events are what the customer did, newest first.
	Events []store.Event `json:"events"`
	// Segments are the segments the customer is in.
	Segments []store.CustomerSegment `json:"segments"`
	// Suppressions are the offers the customer must not be offered now.
	Suppressions []store.Suppression `json:"suppressions"`
	// Coupons are the customer's coupons, redeemed or not.
	Coupons []store.Coupon `json:"coupons"`
	// Offers are what every channel should offer the customer now.
	Offers []store.Offer `json:"offers"`
}

// customer loads a customer; an unknown one is a 404.
func (s *Server) customer(ctx context.Context, id string) (store.Customer, error) {
	c, err := s.Store.Customer(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return c, notFound("no customer %q", id)
	}
	return c, err
}

func (s *Server) getCustomer(c echo.Context) error {
	ctx := c.Request().Context()
	id := c.Param("id")
	var v CustomerView
	// One snapshot: the view's parts were all true at one moment.
	err := s.Store.Snapshot(ctx, func(st *store.Store) error {
		customer, err := st.Customer(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("no customer %q", id)
		} else if err != nil {
			return err
		}
		v = CustomerView{Customer: customer}
		if v.Addresses, err = st.CustomerAddresses(ctx, customer); err != nil {
			return err
		}
		if v.Journeys, err = st.CustomerJourneys(ctx, id); err != nil {
			return err
		}
		if v.Messages, err = st.CustomerMessages(ctx, id, customerViewLimit); err != nil {
			return err
		}
		if v.Responses, err = st.CustomerResponses(ctx, id, customerViewLimit); err != nil {
			return err
		}
		if v.Events, err = st.CustomerEvents(ctx, id, customerViewLimit); err != nil {
			return err
		}
		if v.Segments, err = st.CustomerSegments(ctx, id); err != nil {
			return err
		}
		if v.Suppressions, err = st.CustomerSuppressions(ctx, id); err != nil {
			return err
		}
		if v.Coupons, err = st.CustomerCoupons(ctx, id); err != nil {
			return err
		}
		v.Offers, err = st.CustomerOffers(ctx, customer)
		return err
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

// Timeline is one page of a customer's events, newest first; Next pages on.
type Timeline struct {
	Events []store.TimelineEntry `json:"events"`
	Next   string                `json:"next,omitempty"`
}

// getTimeline answers a customer's journeys, messages and responses as one
// chronological stream, newest first, a page at a time (?limit=, at most
// 500, default 50; ?after= the previous page's next).
func (s *Server) getTimeline(c echo.Context) error {
	ctx := c.Request().Context()
	id := c.Param("id")
	limit, err := queryLimit(c, 50, 500)
	if err != nil {
		return err
	}
	var pos store.Position
	if v := c.QueryParam("after"); v != "" {
		p, ok := decodePosition(v)
		if !ok {
			return invalid("invalid_request", "bad cursor", campaign.Problem{Path: "after", Message: "not a cursor from this timeline's next"})
		}
		pos = p
	}
	if _, err := s.customer(ctx, id); err != nil {
		return err
	}
	events, err := s.Store.Timeline(ctx, id, pos, limit)
	if err != nil {
		return err
	}
	t := Timeline{Events: events}
	if len(events) == limit {
		last := events[len(events)-1]
		t.Next = encodePosition(store.Position{At: last.At, Kind: last.Kind, Ref: last.Ref})
	}
	return c.JSON(http.StatusOK, t)
}

func encodePosition(p store.Position) string {
	return base64.RawURLEncoding.EncodeToString([]byte(p.At.Format(time.RFC3339Nano) + "\n" + p.Kind + "\n" + p.Ref))
}

func decodePosition(s string) (store.Position, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	parts := strings.SplitN(string(raw), "\n", 3)
	if err != nil || len(parts) != 3 {
		return store.Position{}, false
	}
	at, err := time.Parse(time.RFC3339Nano, parts[0])
	return store.Position{At: at, Kind: parts[1], Ref: parts[2]}, err == nil
}

// Offers are the offers a customer should see now; every channel that
// asks gets the same list.
type Offers struct {
	CustomerID string        `json:"customer_id"`
	Channel    string        `json:"channel,omitempty"`
	Offers     []store.Offer `json:"offers"`
}

// getOffers answers the offers to show the customer now, the same for the
// shop, the app and the contact centre (?channel= only names who asks). A
// channel reports what it showed as an offer_viewed or rejected response.
func (s *Server) getOffers(c echo.Context) error {
	ctx := c.Request().Context()
	id, channel := c.Param("id"), c.QueryParam("channel")
	if channel != "" && !channelName.MatchString(channel) {
		return invalid("invalid_request", "bad channel", campaign.Problem{Path: "channel", Message: "a lower-case name such as shop, app or contact_center"})
	}
	customer, err := s.customer(ctx, id)
	if err != nil {
		return err
	}
	offers, err := s.Store.CustomerOffers(ctx, customer)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, Offers{CustomerID: id, Channel: channel, Offers: offers})
}
