// Package fcm sends push notifications through Firebase Cloud Messaging
// (the HTTP v1 API, by the Firebase Admin SDK).
package fcm

import (
	"context"
	"fmt"
	"strings"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/errorutils"
	"firebase.google.com/go/v4/messaging"
	"google.golang.org/api/option"

	"github.com/omni-orchestrator/omni/channels"
)

// Sender sends push notifications through FCM.
type Sender struct {
	client *messaging.Client
}

// New returns a Sender for a Firebase project. Credentials come from
// Google's application default credentials (GOOGLE_APPLICATION_CREDENTIALS,
// or the metadata server on Google Cloud) unless opts say otherwise;
// projectID "" takes the project of the credentials.
func New(ctx context.Context, projectID string, opts ...option.ClientOption) (*Sender, error) {
	var conf *firebase.Config
	if projectID != "" {
		conf = &firebase.Config{ProjectID: projectID}
	}
	app, err := firebase.NewApp(ctx, conf, opts...)
	if err != nil {
		return nil, fmt.Errorf("firebase: %w", err)
	}
	c, err := app.Messaging(ctx)
	if err != nil {
		return nil, fmt.Errorf("firebase messaging: %w", err)
	}
	return &Sender{client: c}, nil
}

// Provider implements channels.Sender.
func (s *Sender) Provider() string { return "fcm" }

// Send implements channels.Sender. FCM takes no idempotency key; the
// message id as notification tag and APNs collapse id makes a duplicate
// replace the first notification on the device instead of adding one.
func (s *Sender) Send(ctx context.Context, m channels.Message) (string, error) {
	data := map[string]string{"omni_message_id": m.ID, "omni_campaign_id": m.CampaignID}
	if m.Link != "" {
		data["link"] = m.Link
	}
	web := &messaging.WebpushConfig{Notification: &messaging.WebpushNotification{Tag: m.ID}}
	if strings.HasPrefix(m.Link, "https://") { // FCM refuses any other web push link
		web.FCMOptions = &messaging.WebpushFCMOptions{Link: m.Link}
	}
	// Apps open the deep link from the data; Android's click_action would
	// want an intent name, not a link.
	name, err := s.client.Send(ctx, &messaging.Message{
		Token:        m.To,
		Notification: &messaging.Notification{Title: m.Subject, Body: m.Body},
		Data:         data,
		Android:      &messaging.AndroidConfig{Notification: &messaging.AndroidNotification{Tag: m.ID}},
		APNS:         &messaging.APNSConfig{Headers: map[string]string{"apns-collapse-id": m.ID}},
		Webpush:      web,
	})
	if err == nil {
		return name, nil
	}
	res := errorutils.HTTPResponse(err)
	if res == nil {
		return "", err // no answer from FCM: a network failure
	}
	e := &channels.Error{Provider: s.Provider(), Failure: channels.Classify(res.StatusCode), Status: res.StatusCode,
		Message: err.Error(), RetryAfter: channels.RetryAfter(res.Header, time.Now())}
	switch {
	case messaging.IsUnregistered(err):
		e.Failure, e.Code = channels.Unreachable, "UNREGISTERED"
	case messaging.IsInvalidArgument(err) && strings.Contains(err.Error(), "registration token"):
		e.Failure, e.Code = channels.Unreachable, "INVALID_ARGUMENT"
	}
	return "", e
}
