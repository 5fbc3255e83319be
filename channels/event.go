package channels

import (
	"errors"
	"time"
)

// Event is what a provider's webhook reports: something that happened to
// one of our messages (named by MessageID, or by the provider's
// ProviderMessageID), or a customer's own message from an address (From:
// an inbound SMS). Each provider's package parses its wire format into
// events; package responses applies them.
type Event struct {
	Provider string
	// ID is the provider's id of the event, unique for the provider.
	ID      string
	Channel string
	// Type is the response type the event means (campaign.Clicked, ...);
	// "" for one that means nothing to a journey (SendGrid's processed, a
	// queued SMS), which still shows that the provider has the message.
	Type              string
	MessageID         string
	ProviderMessageID string
	From              string
	OccurredAt        time.Time
	Data              map[string]any
	// Verified says the provider's signature over the event checked out.
	// Only a verified event proves that the provider accepted a message.
	Verified bool
	// Raw is the event as the provider sent it, kept when it names nothing
	// we know.
	Raw any
}

// ErrSignature is a webhook whose signature does not verify (or is too
// old); a provider's package wraps it with the reason.
var ErrSignature = errors.New("the webhook signature does not verify")

// ErrNoKey is a webhook of a provider whose verification key or secret is
// not configured, where unverified webhooks are not allowed: anybody could
// have sent it.
var ErrNoKey = errors.New("the webhook cannot be verified: no key is configured")

// MalformedError is a webhook body that is not the provider's format.
type MalformedError struct{ Reason string }

func (e *MalformedError) Error() string { return e.Reason }
