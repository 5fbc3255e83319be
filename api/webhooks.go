package api

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/sendgrid/sendgrid-go/helpers/eventwebhook"
	twilio "github.com/twilio/twilio-go/client"

	"github.com/omni-orchestrator/omni/responses"
	"github.com/omni-orchestrator/omni/store"
)

// Webhooks configures how provider webhooks are verified. A provider whose
// secret is not configured is accepted unverified (for the sandbox and
// development); configure both in production.
type Webhooks struct {
	// SendGridKey verifies SendGrid's signed Event Webhook.
	SendGridKey *ecdsa.PublicKey
	// TwilioAuthToken verifies X-Twilio-Signature.
	TwilioAuthToken string
	// PublicURL is the scheme and host Twilio calls us at (behind a proxy
	// the request's own differ); empty means the request's.
	PublicURL string
}

// ParseSendGridKey reads the verification key SendGrid shows for a signed
// Event Webhook (base64 DER of an ECDSA public key).
func ParseSendGridKey(b64 string) (*ecdsa.PublicKey, error) {
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("SendGrid verification key: %w", err)
	}
	key, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("SendGrid verification key: %w", err)
	}
	ec, ok := key.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("SendGrid verification key: not an ECDSA key")
	}
	return ec, nil
}

// webhookTally is what a webhook call did with its events.
type webhookTally struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
	Orphans    int `json:"orphans"`
	Ignored    int `json:"ignored"`
}

var errBadSignature = &Error{Status: http.StatusUnauthorized, Code: "invalid_signature", Message: "the webhook signature does not verify; nothing was stored"}

// record records a provider event as a response of the message's journey,
// or keeps it as an orphan when the message is unknown.
func (s *Server) record(c echo.Context, t *webhookTally, provider, eventID string, msg store.Message, found bool, r store.Response, raw any) error {
	ctx := c.Request().Context()
	if !found {
		if _, err := s.Store.RecordOrphan(ctx, provider, eventID, raw); err != nil {
			return err
		}
		t.Orphans++
		return nil
	}
	r.EventID = provider + ":" + eventID
	r.CustomerID, r.CampaignID = msg.CustomerID, msg.CampaignID
	if r.Data == nil {
		r.Data = map[string]any{}
	}
	r.Data["provider"] = provider
	if msg.ID != "" {
		r.Data["message_id"] = msg.ID
	}
	res, err := s.Responses.Record(ctx, r)
	var signalErr *responses.SignalError
	switch {
	case errors.As(err, &signalErr):
		// The provider retries; the event is stored and will be routed then.
		return unavailable("stored, but %v", err)
	case err != nil:
		return err
	case res.Duplicate:
		t.Duplicates++
	default:
		t.Accepted++
	}
	return nil
}

// SendGrid's event types as our response types; the others (processed,
// deferred, group_resubscribe) are acknowledged and ignored. A spam report
// and an unsubscribe are opt-outs of email.
var sendgridTypes = map[string]string{
	"delivered":         "delivered",
	"open":              "opened",
	"click":             "clicked",
	"bounce":            "bounced",
	"dropped":           "failed",
	"spamreport":        "unsubscribed",
	"unsubscribe":       "unsubscribed",
	"group_unsubscribe": "unsubscribed",
}

// sendgridEvent is one event of SendGrid's Event Webhook. Our sends attach
// omni_message_id as a custom argument, which SendGrid echoes on each event.
type sendgridEvent struct {
	Event         string `json:"event"`
	SGEventID     string `json:"sg_event_id"`
	SGMessageID   string `json:"sg_message_id"`
	Timestamp     int64  `json:"timestamp"`
	URL           string `json:"url"`
	Reason        string `json:"reason"`
	OmniMessageID string `json:"omni_message_id"`
}

// sendgridWebhook takes SendGrid's Event Webhook: a JSON array of events,
// signed (ECDSA over timestamp and body) when a verification key is set.
func (s *Server) sendgridWebhook(c echo.Context) error {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err
	}
	if key := s.Webhooks.SendGridKey; key != nil {
		ok, err := eventwebhook.VerifySignature(key, body,
			c.Request().Header.Get(eventwebhook.VerificationHTTPHeader), c.Request().Header.Get(eventwebhook.TimestampHTTPHeader))
		if err != nil || !ok {
			return errBadSignature
		}
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return invalid("invalid_request", "the body is not SendGrid's array of events: "+err.Error())
	}
	var tally webhookTally
	for i, r := range raw {
		var e sendgridEvent
		if err := json.Unmarshal(r, &e); err != nil || e.SGEventID == "" || e.Event == "" {
			return invalid("invalid_request", fmt.Sprintf("event %d is not a SendGrid event (event and sg_event_id are required)", i))
		}
		msg, found, err := s.sentMessage(c, e.OmniMessageID, strings.SplitN(e.SGMessageID, ".", 2)[0], s.Webhooks.SendGridKey != nil)
		if err != nil {
			return err
		}
		typ, known := sendgridTypes[e.Event]
		if !known {
			tally.Ignored++
			continue
		}
		data := map[string]any{"event": e.Event}
		if e.URL != "" {
			data["url"] = e.URL
		}
		if e.Reason != "" {
			data["reason"] = e.Reason
		}
		resp := store.Response{Channel: "email", Type: typ, OccurredAt: time.Unix(e.Timestamp, 0).UTC(), Data: data}
		if err := s.record(c, &tally, "sendgrid", e.SGEventID, msg, found, resp, r); err != nil {
			return err
		}
	}
	return c.JSON(http.StatusOK, tally)
}

// sentMessage finds a message by our id, else by the provider's. Any
// verified event of a message proves that the provider accepted it: one
// still pending (the worker died before it could record the acceptance)
// is marked sent, so that a retry of its send does not send it again. An
// unverified event could be forged, and is not trusted with that.
func (s *Server) sentMessage(c echo.Context, id, providerID string, verified bool) (store.Message, bool, error) {
	ctx := c.Request().Context()
	m, err := s.Store.MessageByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) && providerID != "" {
		m, err = s.Store.MessageByProviderID(ctx, providerID)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return m, false, nil
	case err != nil:
		return m, false, err
	case m.Status == store.MessagePending && verified:
		err = s.Store.MarkAccepted(ctx, m.ID, providerID)
	}
	return m, err == nil, err
}

// twilioParams reads a Twilio form post and checks its X-Twilio-Signature
// when an auth token is configured.
func (s *Server) twilioParams(c echo.Context) (map[string]string, error) {
	if err := c.Request().ParseForm(); err != nil {
		return nil, invalid("invalid_request", "the body is not a form: "+err.Error())
	}
	// Twilio signs the posted parameters; the query is part of the URL.
	params := make(map[string]string, len(c.Request().PostForm))
	for k, v := range c.Request().PostForm {
		if len(v) > 0 {
			params[k] = v[0]
		}
	}
	if token := s.Webhooks.TwilioAuthToken; token != "" {
		base := s.Webhooks.PublicURL
		if base == "" {
			base = c.Scheme() + "://" + c.Request().Host
		}
		validator := twilio.NewRequestValidator(token)
		if !validator.Validate(strings.TrimSuffix(base, "/")+c.Request().RequestURI, params, c.Request().Header.Get("X-Twilio-Signature")) {
			return nil, errBadSignature
		}
	}
	return params, nil
}

// twilioStatus takes Twilio's message status callback. Our sends put our
// message id in the callback URL (?message_id=); the MessageSid finds the
// message too.
func (s *Server) twilioStatus(c echo.Context) error {
	p, err := s.twilioParams(c)
	if err != nil {
		return err
	}
	sid, status := p["MessageSid"], p["MessageStatus"]
	if sid == "" || status == "" {
		return invalid("invalid_request", "MessageSid and MessageStatus are required")
	}
	var typ string
	switch {
	case p["ErrorCode"] == "21610": // the recipient replied STOP earlier
		typ = "unsubscribed"
	case status == "delivered":
		typ = "delivered"
	case status == "undelivered" || status == "failed":
		typ = "failed"
	case status == "read":
		typ = "opened"
	}
	msg, found, err := s.sentMessage(c, c.QueryParam("message_id"), sid, s.Webhooks.TwilioAuthToken != "")
	if err != nil {
		return err
	}
	var tally webhookTally
	if typ == "" {
		tally.Ignored++
		return c.JSON(http.StatusOK, tally)
	}
	data := map[string]any{"status": status}
	if code := p["ErrorCode"]; code != "" {
		data["error_code"] = code
	}
	resp := store.Response{Channel: "sms", Type: typ, Data: data}
	if err := s.record(c, &tally, "twilio", sid+":"+status, msg, found, resp, p); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, tally)
}

// Twilio's opt-out and opt-in keywords: the whole message, any case.
var (
	twilioStop  = []string{"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
	twilioStart = []string{"START", "UNSTOP", "YES"}
)

// twilioInbound takes an inbound SMS: STOP and its synonyms turn SMS consent
// off for every customer with that number (and end journeys that exit on
// unsubscribed), START turns it back on. It answers with empty TwiML.
func (s *Server) twilioInbound(c echo.Context) error {
	p, err := s.twilioParams(c)
	if err != nil {
		return err
	}
	sid, from := p["MessageSid"], p["From"]
	if sid == "" || from == "" {
		return invalid("invalid_request", "MessageSid and From are required")
	}
	ctx := c.Request().Context()
	keyword := strings.ToUpper(strings.TrimSpace(p["Body"]))
	ids, err := s.Store.CustomerIDsByPhone(ctx, from)
	if err != nil {
		return err
	}
	var tally webhookTally
	switch {
	case len(ids) == 0:
		if _, err := s.Store.RecordOrphan(ctx, "twilio", "inbound:"+sid, p); err != nil {
			return err
		}
	case slices.Contains(twilioStop, keyword):
		for _, id := range ids {
			resp := store.Response{Channel: "sms", Type: "unsubscribed", Data: map[string]any{"keyword": keyword}}
			if err := s.record(c, &tally, "twilio", "inbound:"+sid+":"+id, store.Message{CustomerID: id}, true, resp, p); err != nil {
				return err
			}
		}
	case slices.Contains(twilioStart, keyword):
		for _, id := range ids {
			if err := s.Store.SetConsent(ctx, id, []string{"sms"}, true); err != nil {
				return err
			}
		}
	}
	return c.Blob(http.StatusOK, "text/xml", []byte(`<?xml version="1.0" encoding="UTF-8"?><Response></Response>`))
}
