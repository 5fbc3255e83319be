package fcm_test

import (
	"context"
	"testing"
	"time"

	"github.com/omni-orchestrator/omni/channels"
	"github.com/omni-orchestrator/omni/channels/fcm/fcmtest"
)

var msg = channels.Message{ID: "0b7d2f6e-0000-4000-8000-000000000001", Channel: "push", To: "fcm-token-ada-0001",
	Subject: "Back in stock", Body: "Your sneakers are back", Link: "shop://products/42", CampaignID: "spring"}

func TestSend(t *testing.T) {
	srv := fcmtest.New(t)
	name, err := srv.Sender(t).Send(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	got := srv.Accepted()
	if len(got) != 1 || name != "projects/omni-test/messages/0:1" {
		t.Fatalf("accepted %v, name %q", got, name)
	}
	m := got[0]
	if m.Token != msg.To || m.Notification["title"] != msg.Subject || m.Notification["body"] != msg.Body ||
		m.Data["omni_message_id"] != msg.ID || m.Data["omni_campaign_id"] != "spring" || m.Data["link"] != msg.Link || m.Webpush.FCMOptions.Link != "" ||
		m.Android.Notification["tag"] != msg.ID || m.APNS.Headers["apns-collapse-id"] != msg.ID {
		t.Errorf("message = %+v", m)
	}
}

func TestSendFailures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		reply   fcmtest.Reply
		failure channels.Failure
		retry   time.Duration
	}{
		{"unregistered", fcmtest.Unregistered, channels.Unreachable, 0},
		{"invalid token", fcmtest.Reply{Status: 400, RPCStatus: "INVALID_ARGUMENT", Code: "INVALID_ARGUMENT",
			Message: "The registration token is not a valid FCM registration token"}, channels.Unreachable, 0},
		{"invalid payload", fcmtest.Reply{Status: 400, RPCStatus: "INVALID_ARGUMENT", Code: "INVALID_ARGUMENT",
			Message: "Invalid value at 'message.data[0].value'"}, channels.Permanent, 0},
		{"quota exceeded", fcmtest.QuotaExceeded(45), channels.Retryable, 45 * time.Second},
		{"internal", fcmtest.Reply{Status: 500, RPCStatus: "INTERNAL", Code: "INTERNAL", Message: "Internal error encountered."}, channels.Retryable, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fcmtest.New(t)
			srv.Then(tc.reply)
			_, err := srv.Sender(t).Send(context.Background(), msg)
			failure, e := channels.FailureOf(err)
			if e == nil || failure != tc.failure || e.Status != tc.reply.Status || e.RetryAfter != tc.retry {
				t.Fatalf("err = %v (%v)", err, failure)
			}
			if len(srv.Accepted()) != 0 {
				t.Error("a failed send was accepted")
			}
		})
	}
}

func TestSendWrongCredentials(t *testing.T) {
	srv := fcmtest.New(t)
	_, err := srv.SenderWithToken(t, "expired").Send(context.Background(), msg)
	if failure, e := channels.FailureOf(err); failure != channels.Retryable || e.Status != 401 {
		t.Fatalf("err = %v", err)
	}
}

func TestSendWebLink(t *testing.T) {
	srv := fcmtest.New(t)
	m := msg
	m.Link = "https://shop.example/products/42"
	if _, err := srv.Sender(t).Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if got := srv.Accepted()[0]; got.Webpush.FCMOptions.Link != m.Link || got.Data["link"] != m.Link {
		t.Fatalf("message = %+v", got)
	}
}
