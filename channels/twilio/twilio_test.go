package twilio_test

import (
	"context"
	"testing"
	"time"

	"github.com/omni-orchestrator/omni/channels"
	"github.com/omni-orchestrator/omni/channels/twilio"
	"github.com/omni-orchestrator/omni/channels/twilio/twiliotest"
)

func newSender(srv *twiliotest.Server) *twilio.Sender {
	s := srv.Sender()
	s.StatusCallback = "https://omni.example.com/v1/webhooks/twilio/status"
	return s
}

var msg = channels.Message{ID: "0b7d2f6e-0000-4000-8000-000000000001", Channel: "sms", To: "+4915112345678", Body: "Hi Ada, 10% off today"}

func TestSend(t *testing.T) {
	srv := twiliotest.New(t)
	sid, err := newSender(srv).Send(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	got := srv.Accepted()
	if len(got) != 1 || sid != "SM00000000000000000000000000000001" {
		t.Fatalf("accepted %v, sid %q", got, sid)
	}
	f := got[0]
	if f.Get("To") != msg.To || f.Get("From") != "+15005550006" || f.Get("Body") != msg.Body ||
		f.Get("StatusCallback") != "https://omni.example.com/v1/webhooks/twilio/status?message_id="+msg.ID {
		t.Errorf("form = %v", f)
	}
}

func TestSendWithMessagingService(t *testing.T) {
	srv := twiliotest.New(t)
	s := newSender(srv)
	s.MessagingServiceSID = "MG00000000000000000000000000000001"
	if _, err := s.Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	if f := srv.Accepted()[0]; f.Get("MessagingServiceSid") != s.MessagingServiceSID || f.Has("From") {
		t.Errorf("form = %v", f)
	}
}

func TestSendFailures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		reply   twiliotest.Reply
		failure channels.Failure
		retry   time.Duration
	}{
		{"too many requests", twiliotest.Reply{Status: 429, Code: 20429, Header: map[string]string{"Retry-After": "7"}}, channels.Retryable, 7 * time.Second},
		{"server error", twiliotest.Reply{Status: 500, Code: 20500}, channels.Retryable, 0},
		{"invalid number", twiliotest.Reply{Status: 400, Code: 21211}, channels.Permanent, 0},
		{"opted out", twiliotest.Reply{Status: 400, Code: 21610}, channels.OptedOut, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := twiliotest.New(t)
			srv.Then(tc.reply)
			_, err := newSender(srv).Send(context.Background(), msg)
			failure, e := channels.FailureOf(err)
			if e == nil || failure != tc.failure || e.Status != tc.reply.Status || e.Code == "" || e.RetryAfter != tc.retry {
				t.Fatalf("err = %v (%v), retry after %v", err, failure, e)
			}
			if len(srv.Accepted()) != 0 {
				t.Error("a failed send was accepted")
			}
		})
	}
}

func TestSendWrongToken(t *testing.T) {
	srv := twiliotest.New(t)
	s := newSender(srv)
	s.AuthToken = "wrong"
	_, err := s.Send(context.Background(), msg)
	if failure, e := channels.FailureOf(err); failure != channels.Retryable || e.Code != "20003" {
		t.Fatalf("err = %v", err)
	}
}

func TestSendCancelled(t *testing.T) {
	srv := twiliotest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := newSender(srv).Send(ctx, msg)
	if failure, e := channels.FailureOf(err); err == nil || failure != channels.Retryable || e != nil {
		t.Fatalf("err = %v", err)
	}
}
