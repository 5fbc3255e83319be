package worker_test

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/channels"
	"github.com/omni-orchestrator/omni/channels/fcm/fcmtest"
	"github.com/omni-orchestrator/omni/channels/sandbox"
	"github.com/omni-orchestrator/omni/channels/sendgrid/sendgridtest"
	"github.com/omni-orchestrator/omni/channels/twilio/twiliotest"
	"github.com/omni-orchestrator/omni/internal/testenv"
	"github.com/omni-orchestrator/omni/journey"
)

// BenchmarkChannelSends measures sends per second through each provider
// driver against its local stand-in, end to end: journeys enrolled, each
// message prepared, sent from the channel's task queue and recorded. It
// runs each driver without a rate limit and with BENCH_SEND_RATE (default 20
// per second). BENCH_SENDS messages per run (default 500); run it with
// -benchtime 1x.
func BenchmarkChannelSends(b *testing.B) {
	n := envInt("BENCH_SENDS", 500)
	rate := float64(envInt("BENCH_SEND_RATE", 20))
	drivers := []struct {
		channel string
		sender  func(b *testing.B) channels.Sender
	}{
		// The sandbox is the baseline: everything but the provider call.
		{campaign.Email, func(b *testing.B) channels.Sender {
			return sandbox.Sender{Channel: campaign.Email, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		}},
		{campaign.Email, func(b *testing.B) channels.Sender { return sendgridtest.New(b).Sender() }},
		{campaign.SMS, func(b *testing.B) channels.Sender { return twiliotest.New(b).Sender() }},
		{campaign.Push, func(b *testing.B) channels.Sender { return fcmtest.New(b).Sender(b) }},
	}
	for _, d := range drivers {
		for _, limit := range []float64{0, rate} {
			sender := d.sender(b)
			b.Run(fmt.Sprintf("%s/%s/limit=%g", d.channel, sender.Provider(), limit), func(b *testing.B) {
				env := testenv.StartWith(b, testenv.Options{
					Senders: map[string]channels.Sender{d.channel: sender},
					Rates:   map[string]float64{d.channel: limit},
				})
				for i := range b.N {
					id := fmt.Sprintf("bench-%d", i)
					start := time.Now()
					sendCampaign(b, env, id, d.channel, i*n, n)
					enrolled := time.Since(start)
					for {
						counts := sent(b, env, id)
						if counts[journey.MessageSent] == n {
							break
						}
						if time.Since(start) > 10*time.Minute {
							b.Fatalf("sends stuck: %v", counts)
						}
						time.Sleep(100 * time.Millisecond)
					}
					elapsed := time.Since(start)
					b.ReportMetric(float64(n)/elapsed.Seconds(), "sends/s")
					b.Logf("%s via %s, limit %g/s: %d sends in %v (enrolment took %v)", d.channel, sender.Provider(), limit, n,
						elapsed.Round(time.Millisecond), enrolled.Round(time.Millisecond))
				}
			})
		}
	}
}

func envInt(key string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(key)); err == nil && n > 0 {
		return n
	}
	return def
}
