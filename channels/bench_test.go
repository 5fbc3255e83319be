package channels_test

import (
	"context"
	"testing"

	sgmail "github.com/sendgrid/sendgrid-go/helpers/mail"
	"golang.org/x/oauth2"
	"google.golang.org/api/option"

	"github.com/omni-orchestrator/omni/channels"
	"github.com/omni-orchestrator/omni/channels/fcm"
	"github.com/omni-orchestrator/omni/channels/fcm/fcmtest"
	"github.com/omni-orchestrator/omni/channels/sendgrid"
	"github.com/omni-orchestrator/omni/channels/sendgrid/sendgridtest"
	"github.com/omni-orchestrator/omni/channels/twilio"
	"github.com/omni-orchestrator/omni/channels/twilio/twiliotest"
)

// BenchmarkDrivers measures each driver alone against its local stand-in,
// requests in parallel: the ceiling the drivers put on sends, without
// Temporal or PostgreSQL.
func BenchmarkDrivers(b *testing.B) {
	msg := channels.Message{ID: "0b7d2f6e-0000-4000-8000-000000000001", To: "+4915112345678", Subject: "Hi", Body: "<p>Hi</p>", CampaignID: "bench"}
	for _, d := range []struct {
		name   string
		sender func(b *testing.B) channels.Sender
		to     string
	}{
		{"sendgrid", func(b *testing.B) channels.Sender {
			srv := sendgridtest.New(b)
			return &sendgrid.Sender{APIKey: srv.APIKey, Host: srv.URL, From: sgmail.Email{Address: "news@shop.example"}}
		}, "ada@example.com"},
		{"twilio", func(b *testing.B) channels.Sender {
			srv := twiliotest.New(b)
			return &twilio.Sender{AccountSID: srv.AccountSID, AuthToken: srv.AuthToken, From: "+15005550006", BaseURL: srv.URL}
		}, "+4915112345678"},
		{"fcm", func(b *testing.B) channels.Sender {
			srv := fcmtest.New(b)
			s, err := fcm.New(context.Background(), fcmtest.Project, option.WithEndpoint(srv.URL+"/v1"),
				option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: fcmtest.Token})))
			if err != nil {
				b.Fatal(err)
			}
			return s
		}, "fcm-token-ada-0001"},
	} {
		b.Run(d.name, func(b *testing.B) {
			s := d.sender(b)
			m := msg
			m.To = d.to
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.Send(context.Background(), m); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sends/s")
		})
	}
}
