// Package sendgrid sends email through SendGrid's v3 Mail Send API.
package sendgrid

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/sendgrid/rest"
	sendgridgo "github.com/sendgrid/sendgrid-go"
	"github.com/sendgrid/sendgrid-go/helpers/mail"

	"github.com/omni-orchestrator/omni/channels"
)

// Custom arguments every message carries; SendGrid echoes them on each
// Event Webhook event, which is how events find their message.
const (
	ArgMessageID  = "omni_message_id"
	ArgJourneyID  = "omni_journey_id"
	ArgCampaignID = "omni_campaign_id"
	ArgStep       = "omni_step"
)

// Sender sends email through SendGrid.
type Sender struct {
	APIKey string
	// Host is the API's scheme and host; "" is https://api.sendgrid.com.
	Host string
	From mail.Email
	// ASMGroupID, when not zero, puts every message in that unsubscribe
	// group: SendGrid adds the unsubscribe link and List-Unsubscribe header
	// and reports unsubscribes as group_unsubscribe events.
	ASMGroupID int
	HTTP       *http.Client
}

// Provider implements channels.Sender.
func (s *Sender) Provider() string { return provider }

const provider = "sendgrid"

// ConfirmsByWebhook implements channels.WebhookConfirmed: the Event
// Webhook's processed event names our message id.
func (s *Sender) ConfirmsByWebhook() {}

// Send implements channels.Sender: one Mail Send request per message, so
// that SendGrid's answer is about this message alone.
func (s *Sender) Send(ctx context.Context, m channels.Message) (string, error) {
	req := sendgridgo.GetRequest(s.APIKey, "/v3/mail/send", s.Host)
	req.Method = rest.Post
	req.Body = mail.GetRequestBody(s.mail(m))
	client := rest.Client{HTTPClient: s.HTTP}
	if client.HTTPClient == nil {
		client.HTTPClient = http.DefaultClient
	}
	res, err := client.SendWithContext(ctx, req)
	if err != nil {
		return "", err
	}
	if res.StatusCode/100 == 2 {
		return http.Header(res.Headers).Get("X-Message-Id"), nil
	}
	return "", &channels.Error{
		Provider:   s.Provider(),
		Failure:    channels.Classify(res.StatusCode),
		Status:     res.StatusCode,
		Message:    errorMessage(res.Body),
		RetryAfter: channels.RetryAfter(http.Header(res.Headers), time.Now()),
	}
}

func (s *Sender) mail(m channels.Message) *mail.SGMailV3 {
	p := mail.NewPersonalization()
	p.AddTos(mail.NewEmail("", m.To))
	e := mail.NewV3Mail()
	e.SetFrom(&s.From)
	if m.TemplateID != "" {
		e.SetTemplateID(m.TemplateID)
		for k, v := range m.TemplateData {
			p.SetDynamicTemplateData(k, v)
		}
	} else {
		e.Subject = m.Subject
		e.AddContent(mail.NewContent("text/html", m.Body))
	}
	e.AddPersonalizations(p)
	e.SetCustomArg(ArgMessageID, m.ID)
	e.SetCustomArg(ArgJourneyID, m.JourneyID)
	e.SetCustomArg(ArgCampaignID, m.CampaignID)
	e.SetCustomArg(ArgStep, m.Step)
	if m.CampaignID != "" {
		e.AddCategories(m.CampaignID)
	}
	if s.ASMGroupID != 0 {
		e.SetASM(mail.NewASM().SetGroupID(s.ASMGroupID))
	}
	return e
}

// errorMessage joins the messages of SendGrid's error body,
// {"errors": [{"message", "field", "help"}]}.
func errorMessage(body string) string {
	var b struct {
		Errors []struct {
			Message string `json:"message"`
			Field   string `json:"field"`
		} `json:"errors"`
	}
	if json.Unmarshal([]byte(body), &b) != nil || len(b.Errors) == 0 {
		return strings.TrimSpace(body)
	}
	msgs := make([]string, len(b.Errors))
	for i, e := range b.Errors {
		msgs[i] = e.Message
		if e.Field != "" {
			msgs[i] = e.Field + ": " + e.Message
		}
	}
	return strings.Join(msgs, "; ")
}
