package channels_test

import (
	"context"
	"testing"

	"github.com/omni-orchestrator/omni/channels"
	"github.com/omni-orchestrator/omni/channels/fcm/fcmtest"
	"github.com/omni-orchestrator/omni/channels/sendgrid/sendgridtest"
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
		{"sendgrid", func(b *testing.B) channels.Sender { return sendgridtest.New(b).Sender() }, "ada@example.com"},
		{"twilio", func(b *testing.B) channels.Sender { return twiliotest.New(b).Sender() }, "+4915112345678"},
		{"fcm", func(b *testing.B) channels.Sender { return fcmtest.New(b).Sender(b) }, "fcm-token-ada-0001"},
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
