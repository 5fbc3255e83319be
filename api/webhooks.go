package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/omni-orchestrator/omni/channels"
	"github.com/omni-orchestrator/omni/channels/sendgrid"
	"github.com/omni-orchestrator/omni/channels/twilio"
	"github.com/omni-orchestrator/omni/responses"
)

// Webhooks configures how provider webhooks are verified. A provider whose
// secret is not configured is refused with 401, unless its Unverified is
// set (omni dev, OMNI_WEBHOOKS_UNVERIFIED=true).
type Webhooks struct {
	SendGrid sendgrid.Webhook
	Twilio   twilio.Webhook
	// PublicURL is the scheme and host Twilio calls us at (behind a proxy
	// the request's own differ); empty means the request's.
	PublicURL string
}

// webhookTally is what a webhook call did with its events.
type webhookTally struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
	Orphans    int `json:"orphans"`
	Ignored    int `json:"ignored"`
}

func (t *webhookTally) add(o responses.Outcome) {
	switch o {
	case responses.Accepted:
		t.Accepted++
	case responses.Duplicate:
		t.Duplicates++
	case responses.Orphan:
		t.Orphans++
	case responses.Ignored:
		t.Ignored++
	}
}

// The variables that configure each provider's webhook verification.
const (
	sendGridKeyVar = "SENDGRID_WEBHOOK_PUBLIC_KEY"
	twilioKeyVar   = "TWILIO_AUTH_TOKEN"
)

// webhookError answers what a provider's package says of a request;
// keyVar is the variable that configures the provider's verification.
func webhookError(err error, keyVar string) error {
	var malformed *channels.MalformedError
	switch {
	case errors.Is(err, channels.ErrNoKey):
		return &Error{Status: http.StatusUnauthorized, Code: "webhook_not_verifiable",
			Message: fmt.Sprintf("this webhook is verified, but %s is not set: set it, or OMNI_WEBHOOKS_UNVERIFIED=true to take unverified webhooks (development only); nothing was stored", keyVar)}
	case errors.Is(err, channels.ErrSignature):
		return &Error{Status: http.StatusUnauthorized, Code: "invalid_signature", Message: err.Error() + "; nothing was stored"}
	case errors.As(err, &malformed):
		return invalid("invalid_request", malformed.Reason)
	}
	return err
}

// recordEvents hands a webhook's events to the recorder and tallies them.
// An event stored but not brought to its journey answers 503: the
// provider retries, and the retry routes it.
func (s *Server) recordEvents(c echo.Context, events ...channels.Event) (webhookTally, error) {
	var tally webhookTally
	for _, e := range events {
		o, err := s.Responses.RecordEvent(c.Request().Context(), e)
		var signalErr *responses.SignalError
		switch {
		case errors.As(err, &signalErr):
			return tally, unavailable("stored, but %v", err)
		case err != nil:
			return tally, err
		}
		tally.add(o)
	}
	return tally, nil
}

// sendgridWebhook takes SendGrid's Event Webhook.
func (s *Server) sendgridWebhook(c echo.Context) error {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err
	}
	h := c.Request().Header
	events, err := s.Webhooks.SendGrid.Events(body, h.Get(sendgrid.SignatureHeader), h.Get(sendgrid.TimestampHeader))
	if err != nil {
		return webhookError(err, sendGridKeyVar)
	}
	tally, err := s.recordEvents(c, events...)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, tally)
}

// twilioParams reads a Twilio form post, checking its signature over the
// URL Twilio called (the query is part of it) and the posted parameters.
func (s *Server) twilioParams(c echo.Context) (map[string]string, error) {
	if err := c.Request().ParseForm(); err != nil {
		return nil, invalid("invalid_request", "the body is not a form: "+err.Error())
	}
	base := s.Webhooks.PublicURL
	if base == "" {
		base = c.Scheme() + "://" + c.Request().Host
	}
	p, err := s.Webhooks.Twilio.Params(strings.TrimSuffix(base, "/")+c.Request().RequestURI, c.Request().PostForm,
		c.Request().Header.Get(twilio.SignatureHeader))
	return p, webhookError(err, twilioKeyVar)
}

// twilioStatus takes Twilio's message status callback.
func (s *Server) twilioStatus(c echo.Context) error {
	p, err := s.twilioParams(c)
	if err != nil {
		return err
	}
	e, err := s.Webhooks.Twilio.StatusEvent(p, c.QueryParam(twilio.MessageIDParam))
	if err != nil {
		return webhookError(err, twilioKeyVar)
	}
	tally, err := s.recordEvents(c, e)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, tally)
}

// twilioInbound takes an inbound SMS (STOP and START change SMS consent of
// every customer with that number, and reach their journeys) and answers
// with empty TwiML.
func (s *Server) twilioInbound(c echo.Context) error {
	p, err := s.twilioParams(c)
	if err != nil {
		return err
	}
	e, err := s.Webhooks.Twilio.InboundEvent(p)
	if err != nil {
		return webhookError(err, twilioKeyVar)
	}
	if _, err := s.recordEvents(c, e); err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "text/xml", []byte(twilio.Response))
}
