// Package channels is how omni reaches customers: one Sender per channel,
// backed by a provider (or the sandbox), and the one way every provider's
// failures are classified.
package channels

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Message is one rendered message on its way to a provider.
type Message struct {
	// ID is our message id. It stays the same across retries, so providers
	// that accept an idempotency key (or a collapse key) get this one.
	ID      string
	Channel string
	To      string // email address, E.164 phone number or push token
	Subject string // email subject or push title
	Body    string
	// TemplateID and TemplateData render an email with a provider's
	// template (SendGrid dynamic templates) instead of Subject and Body.
	TemplateID   string
	TemplateData map[string]any
	// Link is the deep link a push notification opens.
	Link string

	CampaignID string
	JourneyID  string
	Step       string
}

// Sender sends messages on one channel.
type Sender interface {
	// Provider names the provider in stored messages ("sandbox", "sendgrid", ...).
	Provider() string
	// Send hands m to the provider and returns the provider's message id.
	// A failure the provider explained is an *Error; any other error (a
	// timeout, a dropped connection) is retryable.
	Send(ctx context.Context, m Message) (string, error)
}

// Looker is a Sender whose provider can be asked whether it has a message
// (Twilio's Messages resource): a send that may have reached the provider
// asks before sending again.
type Looker interface {
	// Lookup returns the provider's id of m if the provider took it at
	// since or later.
	Lookup(ctx context.Context, m Message, since time.Time) (providerID string, found bool, err error)
}

// WebhookConfirmed is a Sender whose provider reports each message it took
// through a webhook that names our message id (SendGrid's processed
// event): a send that may have reached the provider waits a while for that
// report before sending again.
type WebhookConfirmed interface {
	ConfirmsByWebhook()
}

// Failure says what a failed send means for the message.
type Failure int

const (
	// Retryable failures (timeouts, 429, 5xx, credentials refused) are
	// tried again later.
	Retryable Failure = iota
	// Permanent failures (an invalid address, other 4xx) are recorded and
	// never retried.
	Permanent
	// Unreachable means the address is gone (an unregistered push token):
	// it is removed from the customer and the send falls back to the next
	// channel.
	Unreachable
	// OptedOut means the recipient opted out of the channel at the
	// provider (Twilio 21610): consent is turned off and the send falls
	// back to the next channel.
	OptedOut
)

func (f Failure) String() string {
	switch f {
	case Permanent:
		return "permanent"
	case Unreachable:
		return "unreachable"
	case OptedOut:
		return "opted_out"
	}
	return "retryable"
}

// Error is a failure a provider explained.
type Error struct {
	Provider string
	Failure  Failure
	Status   int    // the HTTP status
	Code     string // the provider's own error code, when it gives one
	Message  string
	// RetryAfter is how long the provider asked us to wait (Retry-After or
	// a rate-limit reset), zero when it did not say.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s: %s failure, HTTP %d", e.Provider, e.Failure, e.Status)
	if e.Code != "" {
		s += " code " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Classify returns the failure an HTTP status means by itself: 408, 429
// and 5xx are retryable, and so are 401 and 403, which say our credentials
// or sender are wrong rather than the message: sends wait (failing
// visibly) until an operator fixes the configuration. Every other status
// is permanent.
func Classify(status int) Failure {
	switch {
	case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500,
		status == http.StatusUnauthorized || status == http.StatusForbidden:
		return Retryable
	}
	return Permanent
}

// FailureOf classifies any error a Sender returned.
func FailureOf(err error) (Failure, *Error) {
	var e *Error
	if errors.As(err, &e) {
		return e.Failure, e
	}
	return Retryable, nil
}

// RetryAfter reads how long a response asks the client to wait: the
// Retry-After header (seconds or an HTTP date) or, as SendGrid sends it,
// X-RateLimit-Reset (a Unix time). Zero when neither is there.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	if v := h.Get("Retry-After"); v != "" {
		if s, err := strconv.Atoi(v); err == nil && s > 0 {
			return time.Duration(s) * time.Second
		}
		if t, err := http.ParseTime(v); err == nil && t.After(now) {
			return t.Sub(now)
		}
	}
	if v := h.Get("X-RateLimit-Reset"); v != "" {
		if s, err := strconv.ParseInt(v, 10, 64); err == nil {
			if t := time.Unix(s, 0); t.After(now) {
				return t.Sub(now)
			}
		}
	}
	return 0
}
