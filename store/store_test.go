package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/journey"
	"github.com/omni-orchestrator/omni/store"
	"github.com/omni-orchestrator/omni/store/storetest"
)

func ptr[T any](v T) *T { return &v }

func TestOpenCreatesTheDatabaseAndMigrateIsRepeatable(t *testing.T) {
	s, url := storetest.New(t)
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	again, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	again.Close()
}

func TestOpenExplainsAMissingServer(t *testing.T) {
	_, err := store.Open(context.Background(), "postgres://postgres@127.0.0.1:1/omni?sslmode=disable&connect_timeout=2")
	var noServer *store.NoServerError
	if !errors.As(err, &noServer) {
		t.Fatalf("got %v, want NoServerError", err)
	}
}

func TestUpsertCustomersMergesAndClears(t *testing.T) {
	s, _ := storetest.New(t)
	ctx := context.Background()
	_, err := s.UpsertCustomers(ctx, []store.CustomerPatch{{
		ID: "c1", Email: ptr("ada@example.com"), Phone: ptr("+4915112345678"),
		Attributes: map[string]any{"first_name": "Ada", "tier": "gold"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.UpsertCustomers(ctx, []store.CustomerPatch{{
		ID: "c1", Phone: ptr(""), Consent: &store.ConsentPatch{SMS: ptr(false)},
		Attributes: map[string]any{"tier": "silver"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	c := got[0]
	if c.Email != "ada@example.com" || c.Phone != "" {
		t.Errorf("email/phone = %q/%q", c.Email, c.Phone)
	}
	if c.Consent != (store.Consent{Email: true, SMS: false, Push: true}) {
		t.Errorf("consent = %+v", c.Consent)
	}
	if c.Attributes["first_name"] != "Ada" || c.Attributes["tier"] != "silver" {
		t.Errorf("attributes = %v", c.Attributes)
	}
	if _, err := s.Customer(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown customer: %v", err)
	}
}

func TestUpsertCustomersIsAllOrNothing(t *testing.T) {
	s, _ := storetest.New(t)
	ctx := context.Background()
	// The second patch breaks a constraint (attributes must be an object).
	_, err := s.UpsertCustomers(ctx, []store.CustomerPatch{{ID: "c1"}, {ID: "c2", Attributes: map[string]any{"x": make(chan int)}}})
	if err == nil {
		t.Fatal("want an error")
	}
	if _, err := s.Customer(ctx, "c1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("c1 was written half-way: %v", err)
	}
}

func TestCampaignVersions(t *testing.T) {
	s, _ := storetest.New(t)
	ctx := context.Background()
	def := &campaign.Definition{ID: "spring", StartAt: "done", Steps: map[string]campaign.Step{"done": {Exit: &campaign.Exit{}}}}
	for want := 1; want <= 2; want++ {
		c, err := s.CreateCampaign(ctx, def)
		if err != nil {
			t.Fatal(err)
		}
		if c.Version != want {
			t.Fatalf("version = %d, want %d", c.Version, want)
		}
	}
	latest, err := s.Campaign(ctx, "spring")
	if err != nil || latest.Version != 2 || latest.Definition.Steps["done"].Exit == nil {
		t.Fatalf("latest = %+v, %v", latest, err)
	}
}

func TestMessagesAreRecordedOncePerKey(t *testing.T) {
	s, _ := storetest.New(t)
	ctx := context.Background()
	if _, err := s.UpsertCustomers(ctx, []store.CustomerPatch{{ID: "c1"}}); err != nil {
		t.Fatal(err)
	}
	def := &campaign.Definition{ID: "spring", StartAt: "done", Steps: map[string]campaign.Step{"done": {Exit: &campaign.Exit{}}}}
	if _, err := s.CreateCampaign(ctx, def); err != nil {
		t.Fatal(err)
	}
	j := store.Journey{WorkflowID: "journey:spring:c1", CampaignID: "spring", Version: 1, CustomerID: "c1", CurrentStep: "email-1"}
	for i, want := range []bool{true, false} {
		_, created, _, _, err := s.Enter(ctx, store.Entrance{CampaignID: j.CampaignID, Version: j.Version, CustomerID: j.CustomerID, StartAt: j.CurrentStep})
		if err != nil || created != want {
			t.Fatalf("create journey #%d: created=%v err=%v", i+1, created, err)
		}
	}
	m := store.Message{IdempotencyKey: "journey:spring:c1/email-1/1", JourneyID: j.WorkflowID, CampaignID: "spring",
		CustomerID: "c1", Step: "email-1", Channel: "email", Provider: "sandbox", Status: journey.MessagePending, Subject: "Hi"}
	first, _, err := s.RecordMessage(ctx, m, journey.Progress{Step: "wait-1"}, store.SendChecks{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.MarkSent(ctx, first.ID, "sb-1", journey.Progress{Step: "wait-1", Variant: "B"}); err != nil {
		t.Fatal(err)
	}
	again, _, err := s.RecordMessage(ctx, m, journey.Progress{Step: "wait-1"}, store.SendChecks{})
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != first.ID || again.Status != journey.MessageSent || again.ProviderMessageID != "sb-1" {
		t.Fatalf("second record = %+v", again)
	}
	got, err := s.Journey(ctx, j.WorkflowID)
	if err != nil || got.CurrentStep != "wait-1" || got.Variant != "B" {
		t.Fatalf("journey = %+v, %v", got, err)
	}
}

func TestResponsesAreStoredOncePerEvent(t *testing.T) {
	s, _ := storetest.New(t)
	ctx := context.Background()
	if _, err := s.UpsertCustomers(ctx, []store.CustomerPatch{{ID: "c1"}}); err != nil {
		t.Fatal(err)
	}
	r := store.Response{EventID: "e1", CustomerID: "c1", Channel: "email", Type: "clicked", OccurredAt: time.Now()}
	first, dup, err := s.RecordResponse(ctx, r, store.ResponseEffects{})
	if err != nil || dup {
		t.Fatalf("first insert: dup=%v err=%v", dup, err)
	}
	r.Type = "opened"
	second, dup, err := s.RecordResponse(ctx, r, store.ResponseEffects{OptOut: []string{"email"}})
	if err != nil || !dup || second.Type != "clicked" || !second.ReceivedAt.Equal(first.ReceivedAt) {
		t.Fatalf("second insert = %+v dup=%v err=%v", second, dup, err)
	}
	if c, _ := s.Customer(ctx, "c1"); !c.Consent.Email {
		t.Fatal("a repeated event changed the customer's consent")
	}
}

func TestFrequencyCapIsAtomicUnderConcurrentSends(t *testing.T) {
	s, _ := storetest.New(t)
	ctx := context.Background()
	if _, err := s.UpsertCustomers(ctx, []store.CustomerPatch{{ID: "c1"}}); err != nil {
		t.Fatal(err)
	}
	def := &campaign.Definition{ID: "promo", StartAt: "done", Steps: map[string]campaign.Step{"done": {Exit: &campaign.Exit{}}}}
	if _, err := s.CreateCampaign(ctx, def); err != nil {
		t.Fatal(err)
	}
	const sends, max = 24, 3
	ids := make([]string, sends)
	for i := range sends {
		j, _, _, _, err := s.Enter(ctx, store.Entrance{CampaignID: "promo", Version: 1, CustomerID: "c1", StartAt: "done",
			Rule: campaign.Entry{Reentry: campaign.ReenterAlways}})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = j.WorkflowID
	}
	start := make(chan struct{})
	results := make(chan store.Message, sends)
	var wg sync.WaitGroup
	for i := range sends {
		wg.Go(func() {
			<-start
			m, _, err := s.RecordMessage(ctx, store.Message{IdempotencyKey: fmt.Sprint("k", i), JourneyID: ids[i],
				CampaignID: "promo", CustomerID: "c1", Step: "s", Channel: "email", Status: journey.MessagePending},
				journey.Progress{}, store.SendChecks{CapMax: max, CapPer: time.Hour})
			if err != nil {
				t.Error(err)
			}
			results <- m
		})
	}
	close(start)
	wg.Wait()
	close(results)
	passed := 0
	for m := range results {
		if m.Status == journey.MessagePending {
			passed++
		} else if m.Reason != journey.ReasonFrequencyCapped {
			t.Errorf("refused for %q", m.Reason)
		}
	}
	if passed != max {
		t.Fatalf("%d of %d concurrent sends passed a cap of %d", passed, sends, max)
	}
}

func TestASuppressionRefusesSendsUntilItExpires(t *testing.T) {
	s, _ := storetest.New(t)
	ctx := context.Background()
	if _, err := s.UpsertCustomers(ctx, []store.CustomerPatch{{ID: "c1"}}); err != nil {
		t.Fatal(err)
	}
	def := &campaign.Definition{ID: "shoes", StartAt: "done", Steps: map[string]campaign.Step{"done": {Exit: &campaign.Exit{}}}}
	if _, err := s.CreateCampaign(ctx, def); err != nil {
		t.Fatal(err)
	}
	shoes, _, _, _, err := s.Enter(ctx, store.Entrance{CampaignID: "shoes", Version: 1, CustomerID: "c1", StartAt: "done"})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = s.RecordResponse(ctx, store.Response{EventID: "e1", CustomerID: "c1", Channel: "app", Type: "rejected", OfferID: "SHOE", OccurredAt: time.Now()},
		store.ResponseEffects{Suppress: &store.Suppression{CustomerID: "c1", OfferID: "SHOE", Until: time.Now().Add(time.Second), Reason: "rejected"}})
	if err != nil {
		t.Fatal(err)
	}
	send := func(key string) store.Message {
		m, _, err := s.RecordMessage(ctx, store.Message{IdempotencyKey: key, JourneyID: shoes.WorkflowID, CampaignID: "shoes", CustomerID: "c1",
			Step: "s", Channel: "email", Status: journey.MessagePending}, journey.Progress{}, store.SendChecks{OfferID: "SHOE"})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if m := send("k1"); m.Status != journey.MessageSkipped || m.Reason != journey.ReasonSuppressed {
		t.Fatalf("while suppressed: %+v", m)
	}
	time.Sleep(1100 * time.Millisecond)
	if m := send("k2"); m.Status != journey.MessagePending {
		t.Fatalf("after the suppression expired: %+v", m)
	}
}

func TestIssueCouponOncePerKey(t *testing.T) {
	s, _ := storetest.New(t)
	ctx := context.Background()
	if _, err := s.UpsertCustomers(ctx, []store.CustomerPatch{{ID: "c1"}}); err != nil {
		t.Fatal(err)
	}
	c := store.Coupon{CustomerID: "c1", CampaignID: "spring", JourneyID: "journey:spring:c1", OfferID: "O", ExpiresAt: time.Now().Add(time.Hour)}
	first, err := s.IssueCoupon(ctx, "journey:spring:c1/code/1", c, "SPR-", 8)
	if err != nil || len(first.Code) != 12 || first.Code[:4] != "SPR-" {
		t.Fatalf("coupon %+v, %v", first, err)
	}
	again, err := s.IssueCoupon(ctx, "journey:spring:c1/code/1", c, "SPR-", 8) // a retried activity
	if err != nil || again.Code != first.Code {
		t.Fatalf("again %+v, %v; want %s", again, err, first.Code)
	}
	other, err := s.IssueCoupon(ctx, "journey:spring:c1/code/2", c, "SPR-", 8)
	if err != nil || other.Code == first.Code {
		t.Fatalf("a second visit got %+v, %v", other, err)
	}
	c.ExpiresAt = time.Now().Add(-time.Minute)
	old, _ := s.IssueCoupon(ctx, "journey:spring:c1/code/3", c, "", 8)
	if _, err := s.RedeemCoupon(ctx, old.Code, "pos", ""); !errors.Is(err, store.ErrExpired) {
		t.Fatalf("expired coupon: %v", err)
	}
}

// Two writers taking the same rows in opposite orders deadlock now and
// then (nearly every round here); PostgreSQL aborts one of them after
// deadlock_timeout (1 s), and the store runs it again.
func TestDeadlockedTransactionsRunAgain(t *testing.T) {
	s, _ := storetest.New(t)
	ctx := context.Background()
	a, b := store.CustomerPatch{ID: "a", Attributes: map[string]any{"n": 1}}, store.CustomerPatch{ID: "b", Attributes: map[string]any{"n": 1}}
	for range 5 {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, order := range [][]store.CustomerPatch{{a, b}, {b, a}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = s.UpsertCustomers(ctx, order)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
	}
}
