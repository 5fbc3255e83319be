package sendgrid_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/omni-orchestrator/omni/channels"
	"github.com/omni-orchestrator/omni/channels/sendgrid"
	"github.com/omni-orchestrator/omni/channels/sendgrid/sendgridtest"
)

func newSender(srv *sendgridtest.Server) *sendgrid.Sender {
	s := srv.Sender()
	s.ASMGroupID = 42
	return s
}

var msg = channels.Message{ID: "0b7d2f6e-0000-4000-8000-000000000001", Channel: "email", To: "ada@example.com",
	Subject: "Hi Ada", Body: "<p>Hi &lt;Ada&gt;</p>", CampaignID: "spring", JourneyID: "journey:spring:ada", Step: "email-1"}

func TestSendInline(t *testing.T) {
	srv := sendgridtest.New(t)
	id, err := newSender(srv).Send(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	got := srv.Accepted()
	if len(got) != 1 || id != "sg000001AbCdEf" {
		t.Fatalf("accepted %d mails, provider id %q", len(got), id)
	}
	m := got[0]
	if m.Personalizations[0].To[0].Email != "ada@example.com" || m.From.Email != "news@shop.example" || m.From.Name != "Omni Shop" ||
		m.Subject != "Hi Ada" || m.Content[0].Type != "text/html" || m.Content[0].Value != msg.Body {
		t.Errorf("mail = %+v", m)
	}
	want := map[string]string{sendgrid.ArgMessageID: msg.ID, sendgrid.ArgJourneyID: msg.JourneyID, sendgrid.ArgCampaignID: "spring", sendgrid.ArgStep: "email-1"}
	for k, v := range want {
		if m.CustomArgs[k] != v {
			t.Errorf("custom_args[%s] = %q, want %q", k, m.CustomArgs[k], v)
		}
	}
	if len(m.Categories) != 1 || m.Categories[0] != "spring" || m.ASM == nil || m.ASM.GroupID != 42 {
		t.Errorf("categories %v, asm %+v", m.Categories, m.ASM)
	}
}

func TestSendDynamicTemplate(t *testing.T) {
	srv := sendgridtest.New(t)
	m := msg
	m.Subject, m.Body = "", ""
	m.TemplateID = "d-0123456789abcdef0123456789abcdef"
	m.TemplateData = map[string]any{"first_name": "Ada", "data": map[string]any{"coupon": "X1"}}
	if _, err := newSender(srv).Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := srv.Accepted()[0]
	data := got.Personalizations[0].DynamicTemplateData
	if got.TemplateID != m.TemplateID || data["first_name"] != "Ada" || data["data"].(map[string]any)["coupon"] != "X1" || len(got.Content) != 0 {
		t.Errorf("mail = %+v", got)
	}
}

func TestSendFailures(t *testing.T) {
	reset := time.Now().Add(30 * time.Second).Unix()
	for _, tc := range []struct {
		name      string
		reply     sendgridtest.Reply
		failure   channels.Failure
		status    int
		retryMin  time.Duration
		inMessage string
	}{
		{"rate limited", sendgridtest.TooManyRequests(reset), channels.Retryable, 429, 20 * time.Second, "too many requests"},
		{"server error", sendgridtest.ServerError(500), channels.Retryable, 500, 0, "internal error"},
		{"unavailable", sendgridtest.ServerError(503), channels.Retryable, 503, 0, ""},
		{"invalid address", sendgridtest.Reply{Status: 400, Body: `{"errors":[{"message":"Does not contain a valid address.","field":"personalizations.0.to.0.email","help":"http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#message.personalizations.to"}]}`},
			channels.Permanent, 400, 0, "personalizations.0.to.0.email: Does not contain a valid address."},
		// Our configuration is wrong, not the message: wait for a fix.
		{"unverified sender", sendgridtest.Reply{Status: 403, Body: `{"errors":[{"message":"The from address does not match a verified Sender Identity.","field":"from","help":null}]}`},
			channels.Retryable, 403, 0, "verified Sender Identity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := sendgridtest.New(t)
			srv.Then(tc.reply)
			_, err := newSender(srv).Send(context.Background(), msg)
			failure, e := channels.FailureOf(err)
			if e == nil || failure != tc.failure || e.Status != tc.status || !strings.Contains(e.Message, tc.inMessage) {
				t.Fatalf("err = %v, classified %v", err, failure)
			}
			if e.RetryAfter < tc.retryMin || (tc.retryMin == 0 && e.RetryAfter != 0) {
				t.Errorf("retry after %v, want at least %v", e.RetryAfter, tc.retryMin)
			}
			if len(srv.Accepted()) != 0 {
				t.Error("a failed send was accepted")
			}
		})
	}
}

// A wrong key is our configuration, not the message: sends wait for a fix.
func TestSendWrongKey(t *testing.T) {
	srv := sendgridtest.New(t)
	s := newSender(srv)
	s.APIKey = "SG.revoked"
	_, err := s.Send(context.Background(), msg)
	if failure, e := channels.FailureOf(err); failure != channels.Retryable || e.Status != http.StatusUnauthorized {
		t.Fatalf("err = %v", err)
	}
}

func TestSendConnectionRefused(t *testing.T) {
	srv := sendgridtest.New(t)
	s := newSender(srv)
	srv.Close()
	_, err := s.Send(context.Background(), msg)
	if failure, e := channels.FailureOf(err); err == nil || failure != channels.Retryable || e != nil {
		t.Fatalf("err = %v", err)
	}
}
