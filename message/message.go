// Package message composes what a send step sends one customer: it picks
// the channel (reachable, consented, preferred first) and renders the
// templates. A journey's Prepare and Deliver record what it composes; the
// API's preview shows it without sending.
package message

import (
	"slices"
	"strings"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/journey"
	"github.com/omni-orchestrator/omni/store"
)

// Composition is the message a send step makes for one customer, or the
// reason there is none.
type Composition struct {
	Channel string `json:"channel"`
	To      string `json:"to,omitempty"`
	Subject string `json:"subject,omitempty"` // email subject or push title
	Body    string `json:"body,omitempty"`
	// TemplateID and TemplateData render an email with a SendGrid dynamic
	// template instead of Subject and Body.
	TemplateID   string         `json:"template_id,omitempty"`
	TemplateData map[string]any `json:"template_data,omitempty"`
	Link         string         `json:"link,omitempty"` // a push notification's deep link
	// Status is "" for a message to send, else skipped or failed.
	Status string `json:"status,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Vars are what a journey adds to a customer's fields for templates: the
// enrolment's data (`data`), the properties of the event that entered the
// journey (`event`), the journey's coupon code (`coupon`).
type Vars struct {
	Data   map[string]any
	Event  map[string]any
	Coupon string
}

// Compose picks the channel of a send for the customer (the first of the
// candidates, preferred channel first, on which the customer is reachable
// and has consented) and renders its template; coupon is the journey's
// coupon code, if it has one. A push link must render to https or one of
// the app schemes allowed.
func Compose(c store.Customer, send campaign.Send, v Vars, schemes campaign.LinkSchemes) Composition {
	candidates := send.Candidates()
	if i := slices.Index(candidates, c.PreferredChannel); i > 0 {
		candidates = append([]string{c.PreferredChannel}, slices.Delete(slices.Clone(candidates), i, i+1)...)
	}
	var passed []string
	for _, ch := range candidates {
		to, reason := address(c, ch)
		if reason != "" {
			passed = append(passed, ch+" "+reason)
			if len(candidates) == 1 {
				return Composition{Channel: ch, To: to, Status: journey.MessageSkipped, Reason: reason}
			}
			continue
		}
		t, _ := send.TemplateFor(ch)
		m, err := render(t, ch, templateVars(c, v))
		if err != nil {
			return Composition{Channel: ch, To: to, Status: journey.MessageFailed, Reason: journey.ReasonTemplate + ": " + err.Error()}
		}
		if m.Link != "" {
			if err := schemes.CheckLink(m.Link); err != nil {
				return Composition{Channel: ch, To: to, Status: journey.MessageFailed, Reason: journey.ReasonUnsafeLink + ": " + err.Error()}
			}
		}
		m.Channel, m.To = ch, to
		return m
	}
	return Composition{Channel: candidates[0], Status: journey.MessageSkipped, Reason: journey.ReasonNoChannel + ": " + strings.Join(passed, ", ")}
}

// address returns where the customer is reached on channel, or why not.
func address(c store.Customer, channel string) (to, reason string) {
	to = c.Address(channel)
	switch {
	case to == "":
		return "", journey.ReasonUnreachable
	case !c.Consents(channel):
		return to, journey.ReasonNoConsent
	}
	return to, ""
}

// templateVars are what templates see: the customer's attributes by
// name, the profile fields (id, email, phone, locale, timezone), which win
// over attributes of the same name, and the journey's Vars.
func templateVars(c store.Customer, v Vars) map[string]any {
	vars := make(map[string]any, len(c.Attributes)+7)
	for k, a := range c.Attributes {
		vars[k] = a
	}
	vars["id"], vars["email"], vars["phone"], vars["locale"], vars["timezone"] = c.ID, c.Email, c.Phone, c.Locale, c.Timezone
	if v.Data != nil {
		vars["data"] = v.Data
	}
	if v.Event != nil {
		vars["event"] = v.Event
	}
	if v.Coupon != "" {
		vars["coupon"] = v.Coupon
	}
	return vars
}

// render personalises a template. An email body is HTML: values are
// escaped into it. An email with a SendGrid dynamic template is rendered
// by SendGrid, from the same variables.
func render(t campaign.Template, channel string, vars map[string]any) (Composition, error) {
	var m Composition
	var err error
	switch channel {
	case campaign.Email:
		if m.Subject, err = campaign.Render(t.Subject, vars, false); err != nil {
			return m, err
		}
		if t.TemplateID != "" {
			m.TemplateID, m.TemplateData = t.TemplateID, vars
			return m, nil
		}
		m.Body, err = campaign.Render(t.Body, vars, true)
	case campaign.Push:
		if m.Subject, err = campaign.Render(t.Title, vars, false); err != nil {
			return m, err
		}
		if m.Link, err = campaign.Render(t.Link, vars, false); err != nil {
			return m, err
		}
		m.Body, err = campaign.Render(t.Body, vars, false)
	default:
		m.Body, err = campaign.Render(t.Body, vars, false)
	}
	return m, err
}
