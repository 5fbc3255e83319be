// Package sandbox is the default channel provider: it sends nothing and
// logs one line per message. The message itself, rendered content included,
// is recorded in the messages table like any other.
package sandbox

import (
	"context"
	"log/slog"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/channels"
)

// Sender is the sandbox for one channel.
type Sender struct {
	Channel string
	Logger  *slog.Logger
}

// Provider implements channels.Sender.
func (s Sender) Provider() string { return "sandbox" }

// Send logs m and accepts it.
func (s Sender) Send(ctx context.Context, m channels.Message) (string, error) {
	s.Logger.InfoContext(ctx, "sandbox "+s.Channel, "to", m.To, "subject", m.Subject, "message_id", m.ID,
		"campaign_id", m.CampaignID, "step", m.Step)
	return "sandbox-" + m.ID, nil
}

// All returns sandbox senders for every channel.
func All(logger *slog.Logger) map[string]channels.Sender {
	out := map[string]channels.Sender{}
	for _, ch := range campaign.Channels {
		out[ch] = Sender{Channel: ch, Logger: logger}
	}
	return out
}
