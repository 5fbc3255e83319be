package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/mail"

	sgmail "github.com/sendgrid/sendgrid-go/helpers/mail"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/channels"
	"github.com/omni-orchestrator/omni/channels/fcm"
	"github.com/omni-orchestrator/omni/channels/sandbox"
	"github.com/omni-orchestrator/omni/channels/sendgrid"
	"github.com/omni-orchestrator/omni/channels/twilio"
	"github.com/omni-orchestrator/omni/config"
)

// provider is a channel's sender and its rate limit (0: none).
type provider struct {
	sender channels.Sender
	rate   float64
}

// providers picks each channel's provider from the configuration: the
// real one when its credentials are set, else the sandbox, with one log
// line per channel saying which.
func providers(ctx context.Context, cfg config.Config, logger *slog.Logger) (map[string]provider, error) {
	box := sandbox.All(logger.With("component", "sandbox"))
	out := map[string]provider{}
	for _, ch := range campaign.Channels {
		out[ch] = provider{sender: box[ch]}
	}

	if sg := cfg.SendGrid; sg.APIKey != "" {
		from, err := mail.ParseAddress(sg.From)
		if err != nil {
			return nil, fmt.Errorf("SENDGRID_FROM %q: %w", sg.From, err)
		}
		out[campaign.Email] = provider{rate: sg.Rate, sender: &sendgrid.Sender{APIKey: sg.APIKey, Host: sg.APIURL,
			From: sgmail.Email{Name: from.Name, Address: from.Address}, ASMGroupID: sg.ASMGroupID}}
		logger.Info("email sends through SendGrid", "from", from.String(), "rate_per_second", sg.Rate, "asm_group_id", sg.ASMGroupID)
	} else {
		logger.Info("email uses the sandbox: set SENDGRID_API_KEY to send through SendGrid")
	}

	if tw := cfg.Twilio; tw.AccountSID != "" {
		if cfg.TwilioAuthToken == "" || tw.From == "" && tw.MessagingServiceSID == "" {
			return nil, fmt.Errorf("TWILIO_ACCOUNT_SID is set: set TWILIO_AUTH_TOKEN and TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID too")
		}
		s := &twilio.Sender{AccountSID: tw.AccountSID, AuthToken: cfg.TwilioAuthToken, From: tw.From, MessagingServiceSID: tw.MessagingServiceSID}
		if cfg.PublicURL != "" {
			s.StatusCallback = cfg.PublicURL + twilio.StatusPath
		} else {
			logger.Warn("OMNI_PUBLIC_URL is not set: Twilio cannot report delivery of SMS")
		}
		out[campaign.SMS] = provider{rate: tw.Rate, sender: s}
		logger.Info("sms sends through Twilio", "from", tw.From, "messaging_service", tw.MessagingServiceSID, "rate_per_second", tw.Rate)
	} else {
		logger.Info("sms uses the sandbox: set TWILIO_ACCOUNT_SID to send through Twilio")
	}

	if f := cfg.FCM; f.ProjectID != "" || f.Credentials != "" {
		s, err := fcm.New(ctx, f.ProjectID)
		if err != nil {
			return nil, err
		}
		out[campaign.Push] = provider{rate: f.Rate, sender: s}
		logger.Info("push sends through Firebase Cloud Messaging", "project", f.ProjectID, "rate_per_second", f.Rate)
	} else {
		logger.Info("push uses the sandbox: set FCM_PROJECT_ID or GOOGLE_APPLICATION_CREDENTIALS to send through FCM")
	}
	return out, nil
}
