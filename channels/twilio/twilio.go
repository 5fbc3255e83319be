// Package twilio sends SMS through Twilio's Programmable Messaging API.
package twilio

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	twiliogo "github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/omni-orchestrator/omni/channels"
)

// ErrOptedOut is Twilio's error 21610: the recipient replied STOP.
const ErrOptedOut = 21610

// Sender sends SMS through Twilio.
type Sender struct {
	AccountSID string
	AuthToken  string
	// From is the sending number; MessagingServiceSID, when set, is used
	// instead so that Twilio picks the sender and queues at its rate.
	From                string
	MessagingServiceSID string
	// StatusCallback is our status webhook's URL; each message adds its id
	// as ?message_id= so that callbacks find it.
	StatusCallback string
	// BaseURL replaces https://api.twilio.com: a local stand-in in tests,
	// or a forwarding proxy.
	BaseURL   string
	Transport http.RoundTripper
}

// Provider implements channels.Sender.
func (s *Sender) Provider() string { return provider }

const provider = "twilio"

// Send implements channels.Sender.
func (s *Sender) Send(ctx context.Context, m channels.Message) (string, error) {
	params := &openapi.CreateMessageParams{}
	params.SetTo(m.To)
	params.SetBody(m.Body)
	if s.MessagingServiceSID != "" {
		params.SetMessagingServiceSid(s.MessagingServiceSID)
	} else {
		params.SetFrom(s.From)
	}
	if s.StatusCallback != "" {
		params.SetStatusCallback(s.StatusCallback + "?" + MessageIDParam + "=" + url.QueryEscape(m.ID))
	}
	api, rt := s.api(ctx)
	sent, err := api.CreateMessage(params)
	var rest *client.TwilioRestError
	switch {
	case errors.As(err, &rest):
		e := &channels.Error{Provider: s.Provider(), Failure: channels.Classify(rest.Status), Status: rest.Status,
			Code: strconv.Itoa(rest.Code), Message: rest.Message, RetryAfter: rt.retryAfter()}
		if rest.Code == ErrOptedOut {
			e.Failure = channels.OptedOut
		}
		return "", e
	case err != nil:
		return "", err
	case sent.Sid == nil:
		return "", nil // accepted all the same: sending again would duplicate it
	}
	return *sent.Sid, nil
}

// Lookup implements channels.Looker: Twilio's Messages resource lists the
// recipient's messages, newest first; ours is the one with our body (which
// Twilio may extend, with opt-out text say) created at since or later.
func (s *Sender) Lookup(ctx context.Context, m channels.Message, since time.Time) (string, bool, error) {
	params := &openapi.ListMessageParams{}
	params.SetTo(m.To)
	params.SetPageSize(20)
	params.SetLimit(20)
	api, _ := s.api(ctx)
	list, err := api.ListMessage(params)
	if err != nil {
		return "", false, err
	}
	for _, msg := range list {
		if msg.Sid == nil || msg.Body == nil || msg.DateCreated == nil || !strings.HasPrefix(*msg.Body, m.Body) {
			continue
		}
		if created, err := time.Parse(time.RFC1123Z, *msg.DateCreated); err == nil && !created.Before(since.Truncate(time.Second)) {
			return *msg.Sid, true, nil
		}
	}
	return "", false, nil
}

// api is a Twilio client for one call. twilio-go takes no context and
// drops response headers from its errors: the call's transport carries the
// context and keeps Retry-After.
func (s *Sender) api(ctx context.Context) (*openapi.ApiService, *callTransport) {
	rt := &callTransport{ctx: ctx, base: s.BaseURL, next: s.Transport}
	c := &client.Client{Credentials: client.NewCredentials(s.AccountSID, s.AuthToken), HTTPClient: &http.Client{Transport: rt}}
	c.SetAccountSid(s.AccountSID)
	return twiliogo.NewRestClientWithParams(twiliogo.ClientParams{Client: c}).Api, rt
}

type callTransport struct {
	ctx  context.Context
	base string
	next http.RoundTripper

	mu    sync.Mutex
	after time.Duration
}

func (t *callTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(t.ctx)
	if t.base != "" {
		u, err := url.Parse(t.base)
		if err != nil {
			return nil, err
		}
		req.URL.Scheme, req.URL.Host, req.Host = u.Scheme, u.Host, u.Host
	}
	next := t.next
	if next == nil {
		next = http.DefaultTransport
	}
	res, err := next.RoundTrip(req)
	if err == nil && res.StatusCode >= 400 {
		t.mu.Lock()
		t.after = channels.RetryAfter(res.Header, time.Now())
		t.mu.Unlock()
	}
	return res, err
}

func (t *callTransport) retryAfter() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.after
}
