package twilio

import (
	"net/url"
	"slices"
	"strings"

	"github.com/twilio/twilio-go/client"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/channels"
)

// Where Twilio calls omni: the status callback every message names (with
// MessageIDParam), and the inbound messages webhook a number is set up with.
const (
	StatusPath     = "/v1/webhooks/twilio/status"
	InboundPath    = "/v1/webhooks/twilio/inbound"
	MessageIDParam = "message_id"
)

// SignatureHeader carries Twilio's signature of a webhook request.
const SignatureHeader = "X-Twilio-Signature"

// Webhook reads Twilio's webhooks. With an auth token set, only requests
// whose X-Twilio-Signature verifies are taken; without one, requests are
// refused unless Unverified.
type Webhook struct {
	AuthToken string
	// Unverified takes requests without checking their signature when no
	// AuthToken is set (omni dev, OMNI_WEBHOOKS_UNVERIFIED); otherwise they
	// are refused with channels.ErrNoKey, since anybody could forge a STOP
	// or a START.
	Unverified bool
}

// Params checks a webhook's signature over the URL Twilio called and the
// posted form, and returns the form's parameters: channels.ErrSignature
// when the signature does not verify, channels.ErrNoKey without an auth
// token (unless Unverified).
func (w Webhook) Params(calledURL string, form url.Values, signature string) (map[string]string, error) {
	if w.AuthToken == "" && !w.Unverified {
		return nil, channels.ErrNoKey
	}
	params := make(map[string]string, len(form))
	for k, v := range form {
		if len(v) > 0 {
			params[k] = v[0]
		}
	}
	if w.AuthToken != "" {
		if v := client.NewRequestValidator(w.AuthToken); !v.Validate(calledURL, params, signature) {
			return nil, channels.ErrSignature
		}
	}
	return params, nil
}

// StatusEvent reads a message status callback: messageID is ours, from
// the callback's URL; MessageSid finds the message too.
func (w Webhook) StatusEvent(params map[string]string, messageID string) (channels.Event, error) {
	sid, status := params["MessageSid"], params["MessageStatus"]
	if sid == "" || status == "" {
		return channels.Event{}, &channels.MalformedError{Reason: "MessageSid and MessageStatus are required"}
	}
	var typ string
	switch {
	case params["ErrorCode"] == "21610": // the recipient replied STOP earlier
		typ = campaign.Unsubscribed
	case status == "delivered":
		typ = campaign.Delivered
	case status == "undelivered" || status == "failed":
		typ = campaign.Failed
	case status == "read":
		typ = campaign.Opened
	}
	data := map[string]any{"status": status}
	if code := params["ErrorCode"]; code != "" {
		data["error_code"] = code
	}
	return channels.Event{
		Provider: provider, ID: sid + ":" + status, Channel: campaign.SMS, Type: typ,
		MessageID: messageID, ProviderMessageID: sid, Data: data, Verified: w.AuthToken != "", Raw: params,
	}, nil
}

// Twilio's opt-out and opt-in keywords: the whole message, any case.
var (
	stopWords  = []string{"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
	startWords = []string{"START", "UNSTOP", "YES"}
)

// InboundEvent reads an inbound SMS: STOP and its synonyms unsubscribe the
// sender's number from SMS, START and its synonyms subscribe it again; any
// other text means nothing to a journey.
func (w Webhook) InboundEvent(params map[string]string) (channels.Event, error) {
	sid, from := params["MessageSid"], params["From"]
	if sid == "" || from == "" {
		return channels.Event{}, &channels.MalformedError{Reason: "MessageSid and From are required"}
	}
	keyword := strings.ToUpper(strings.TrimSpace(params["Body"]))
	var typ string
	switch {
	case slices.Contains(stopWords, keyword):
		typ = campaign.Unsubscribed
	case slices.Contains(startWords, keyword):
		typ = campaign.Subscribed
	}
	return channels.Event{
		Provider: provider, ID: "inbound:" + sid, Channel: campaign.SMS, Type: typ, From: from,
		Data: map[string]any{"keyword": keyword}, Verified: w.AuthToken != "", Raw: params,
	}, nil
}

// Response is the answer to an inbound message: empty TwiML, no reply.
const Response = `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`
