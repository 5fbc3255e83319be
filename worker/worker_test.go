package worker_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/internal/testenv"
	"github.com/omni-orchestrator/omni/journey"
	"github.com/omni-orchestrator/omni/store"
)

// sendCampaign creates a campaign that sends one message on channel and
// enrolls customers c0..c<n-1> (reachable on every channel) in it.
func sendCampaign(tb testing.TB, env *testenv.Env, id, channel string, from, n int) store.Campaign {
	tb.Helper()
	ctx := context.Background()
	template := map[string]string{
		campaign.Email: `{"subject": "Hi", "body": "Hi {{id}}"}`,
		campaign.SMS:   `{"body": "Hi {{id}}"}`,
		campaign.Push:  `{"title": "Hi", "body": "Hi {{id}}"}`,
	}[channel]
	def, ps := campaign.Parse(fmt.Appendf(nil, `{"id": %q, "start_at": "send", "steps": {
		"send": {"send": {"channel": %q, "template": %s}, "next": "done"},
		"done": {"exit": {}}}}`, id, channel, template))
	if len(ps) > 0 {
		tb.Fatal(ps)
	}
	c, err := env.Store.CreateCampaign(ctx, def)
	if err != nil {
		tb.Fatal(err)
	}
	patches := make([]store.CustomerPatch, 0, n)
	for i := from; i < from+n; i++ {
		email, phone, token := fmt.Sprintf("c%d@example.com", i), fmt.Sprintf("+49151%08d", i), fmt.Sprintf("fcm-token-%08d", i)
		patches = append(patches, store.CustomerPatch{ID: fmt.Sprintf("c%d", i), Email: &email, Phone: &phone, PushToken: &token})
	}
	if _, err := env.Store.UpsertCustomers(ctx, patches); err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, p := range patches {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if _, err := env.Enroller.Enroll(ctx, c, store.CustomerRef{ID: p.ID}, nil); err != nil {
				tb.Error(err)
			}
		})
	}
	wg.Wait()
	return c
}

// sent counts a campaign's messages by status, from its KPI counters.
func sent(tb testing.TB, env *testenv.Env, campaignID string) map[string]int {
	tb.Helper()
	counters, err := env.Store.CampaignCounters(context.Background(), campaignID)
	if err != nil {
		tb.Fatal(err)
	}
	counts := map[string]int{}
	for _, k := range counters {
		if k.Step != "" { // counts by step: messages (and responses about them)
			counts[k.Metric] += int(k.N)
		}
	}
	return counts
}

// An SMS backlog (a provider limited to one message every five seconds)
// must not hold up email, which has a task queue of its own.
func TestSMSBacklogDoesNotDelayEmail(t *testing.T) {
	env := testenv.StartWith(t, testenv.Options{Rates: map[string]float64{campaign.SMS: 0.2}})
	sendCampaign(t, env, "texts", campaign.SMS, 0, 20)
	sendCampaign(t, env, "mails", campaign.Email, 20, 10)
	deadline := time.Now().Add(time.Minute)
	for sent(t, env, "mails")[journey.MessageSent] < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("email stuck behind SMS: %v", sent(t, env, "mails"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if sms := sent(t, env, "texts"); sms[journey.MessageSent] >= 10 {
		t.Fatalf("the SMS rate limit did not hold: %v", sms)
	}
}
