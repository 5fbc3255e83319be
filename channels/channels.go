// Package channels is how omni reaches customers: one Sender per channel,
// backed by a provider (or the sandbox).
package channels

import "context"

// Message is one rendered message on its way to a provider.
type Message struct {
	// ID is our message id. It stays the same across retries, so providers
	// that accept an idempotency key get this one.
	ID      string
	Channel string
	To      string // email address, E.164 phone number or push token
	Subject string // email subject or push title
	Body    string

	CampaignID string
	JourneyID  string
	Step       string
}

// Sender sends messages on one channel.
type Sender interface {
	// Provider names the provider in stored messages ("sandbox", "sendgrid", ...).
	Provider() string
	// Send hands m to the provider and returns the provider's message id.
	Send(ctx context.Context, m Message) (string, error)
}
