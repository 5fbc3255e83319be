package sendgrid

import (
	"cmp"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sendgrid/sendgrid-go/helpers/eventwebhook"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/channels"
)

// Webhook reads SendGrid's Event Webhook. With a verification key set,
// only signed requests (ECDSA over the timestamp and the body) whose
// timestamp is within MaxAge of now are taken; without one, requests are
// refused unless Unverified.
type Webhook struct {
	Key *ecdsa.PublicKey
	// MaxAge bounds how far a signature's timestamp may be from now,
	// either way (DefaultMaxAge when 0): a signed request captured once
	// cannot be replayed later.
	MaxAge time.Duration
	// Unverified takes requests without a signature when no Key is set
	// (omni dev, OMNI_WEBHOOKS_UNVERIFIED); otherwise they are refused with
	// channels.ErrNoKey, since anybody could forge a click or an
	// unsubscribe.
	Unverified bool
}

// DefaultMaxAge is how old a signature's timestamp may be by default.
const DefaultMaxAge = 10 * time.Minute

// ParseWebhookKey reads the verification key SendGrid shows for a signed
// Event Webhook (base64 DER of an ECDSA public key).
func ParseWebhookKey(b64 string) (*ecdsa.PublicKey, error) {
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

// The headers of a signed Event Webhook request.
const (
	SignatureHeader = eventwebhook.VerificationHTTPHeader
	TimestampHeader = eventwebhook.TimestampHTTPHeader
)

// eventTypes are SendGrid's event types as response types; the others
// (processed, deferred) only tell that SendGrid has the message. A spam
// report and an unsubscribe are opt-outs of email, a resubscribe an opt-in.
var eventTypes = map[string]string{
	"delivered":         campaign.Delivered,
	"open":              campaign.Opened,
	"click":             campaign.Clicked,
	"bounce":            campaign.Bounced,
	"dropped":           campaign.Failed,
	"spamreport":        campaign.Unsubscribed,
	"unsubscribe":       campaign.Unsubscribed,
	"group_unsubscribe": campaign.Unsubscribed,
	"group_resubscribe": campaign.Subscribed,
}

// event is one event of the Event Webhook. Our sends attach ArgMessageID
// as a custom argument, which SendGrid echoes on each event.
type event struct {
	Event       string `json:"event"`
	SGEventID   string `json:"sg_event_id"`
	SGMessageID string `json:"sg_message_id"`
	Timestamp   int64  `json:"timestamp"`
	URL         string `json:"url"`
	Reason      string `json:"reason"`
	MessageID   string `json:"omni_message_id"`
}

// Events verifies a webhook request and parses its body, a JSON array of
// events: channels.ErrSignature for a signature that does not verify or is
// too old, channels.ErrNoKey without a key (unless Unverified), a
// *channels.MalformedError for a body that is not SendGrid's.
func (w Webhook) Events(body []byte, signature, timestamp string) ([]channels.Event, error) {
	switch {
	case w.Key != nil:
		if err := w.verify(body, signature, timestamp, time.Now()); err != nil {
			return nil, err
		}
	case !w.Unverified:
		return nil, channels.ErrNoKey
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, &channels.MalformedError{Reason: "the body is not SendGrid's array of events: " + err.Error()}
	}
	out := make([]channels.Event, len(raw))
	for i, r := range raw {
		var e event
		if err := json.Unmarshal(r, &e); err != nil || e.SGEventID == "" || e.Event == "" {
			return nil, &channels.MalformedError{Reason: fmt.Sprintf("event %d is not a SendGrid event (event and sg_event_id are required)", i)}
		}
		data := map[string]any{"event": e.Event}
		if e.URL != "" {
			data["url"] = e.URL
		}
		if e.Reason != "" {
			data["reason"] = e.Reason
		}
		out[i] = channels.Event{
			Provider: provider, ID: e.SGEventID, Channel: campaign.Email, Type: eventTypes[e.Event],
			// sg_message_id is the id Mail Send answered, a filter suffix added.
			MessageID: e.MessageID, ProviderMessageID: strings.SplitN(e.SGMessageID, ".", 2)[0],
			OccurredAt: time.Unix(e.Timestamp, 0).UTC(), Data: data, Verified: w.Key != nil, Raw: r,
		}
	}
	return out, nil
}

// verify checks the signature over timestamp and body, and that timestamp
// (Unix seconds) is within MaxAge of now.
func (w Webhook) verify(body []byte, signature, timestamp string, now time.Time) error {
	if ok, err := eventwebhook.VerifySignature(w.Key, body, signature, timestamp); err != nil || !ok {
		return channels.ErrSignature
	}
	secs, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: the timestamp %q is not Unix seconds", channels.ErrSignature, timestamp)
	}
	maxAge := cmp.Or(w.MaxAge, DefaultMaxAge)
	if age := now.Sub(time.Unix(secs, 0)); age > maxAge || age < -maxAge {
		return fmt.Errorf("%w: it was made at %s, more than %v from now (SENDGRID_WEBHOOK_MAX_AGE)",
			channels.ErrSignature, time.Unix(secs, 0).UTC().Format(time.RFC3339), maxAge)
	}
	return nil
}
