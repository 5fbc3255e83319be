package store_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/store"
	"github.com/omni-orchestrator/omni/store/storetest"
)

// Orphan webhook events are bounded per provider, in number and in age,
// pruned as new ones come in.
func TestOrphansAreBounded(t *testing.T) {
	s, url := storetest.New(t)
	ctx := context.Background()
	db, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	count := func(provider string) (n int) {
		if err := db.QueryRow(ctx, `SELECT count(*) FROM webhook_orphans WHERE provider = $1`, provider).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// A full table of a provider's orphans, the oldest a minute old...
	if _, err := db.Exec(ctx, `INSERT INTO webhook_orphans (provider, event_id, payload, received_at)
SELECT 'twilio', 'old-' || i, '{}', now() - interval '1 minute' + i * interval '1 ms' FROM generate_series(1, $1) i`, store.MaxOrphansPerProvider); err != nil {
		t.Fatal(err)
	}
	// ... and an orphan of another provider, past the retention.
	if _, err := db.Exec(ctx, `INSERT INTO webhook_orphans (provider, event_id, payload, received_at) VALUES
	('sendgrid', 'ancient', '{}', now() - $1::interval - interval '1 hour'), ('sendgrid', 'recent', '{}', now())`, store.OrphanRetention); err != nil {
		t.Fatal(err)
	}
	if stored, err := s.RecordOrphan(ctx, "twilio", "new", map[string]any{"From": "+4915100000001"}); err != nil || !stored {
		t.Fatalf("record: %v %v", stored, err)
	}
	if n := count("twilio"); n != store.MaxOrphansPerProvider {
		t.Fatalf("%d twilio orphans kept", n)
	}
	var oldest string
	if err := db.QueryRow(ctx, `SELECT event_id FROM webhook_orphans WHERE provider = 'twilio' ORDER BY received_at LIMIT 1`).Scan(&oldest); err != nil || oldest != "old-2" {
		t.Fatalf("oldest kept: %q %v", oldest, err)
	}
	if stored, err := s.RecordOrphan(ctx, "twilio", "new", map[string]any{}); err != nil || stored {
		t.Fatalf("a repeated orphan: %v %v", stored, err)
	}
	if stored, err := s.RecordOrphan(ctx, "sendgrid", "another", map[string]any{}); err != nil || !stored || count("sendgrid") != 2 {
		t.Fatalf("sendgrid: %v %v, %d kept", stored, err, count("sendgrid"))
	}
}

// PostgreSQL reads the ids' rules as Go does, so `omni migrate` finds
// exactly the stored ids the API would now refuse.
func TestIDsNotMatchingFindsWhatTheRuleRefuses(t *testing.T) {
	s, _ := storetest.New(t)
	ctx := context.Background()
	ids := []string{"c1", "a/b?c#d%e:f", "~!@", "auth0|5f1c", strings.Repeat("x", 128),
		"a b", "tab\tin", "ünïcode", "del\x7f", "nl\n", strings.Repeat("y", 129)}
	var patches []store.CustomerPatch
	var want []string
	for _, id := range ids {
		patches = append(patches, store.CustomerPatch{ID: id})
		if !campaign.CustomerID.Valid(id) {
			want = append(want, id)
		}
	}
	if _, err := s.UpsertCustomers(ctx, patches); err != nil {
		t.Fatal(err)
	}
	bad, err := s.IDsNotMatching(ctx, "customers", "id", campaign.CustomerID.Pattern, 100)
	slices.Sort(want)
	slices.Sort(bad.Examples) // the database's collation orders its own way
	if err != nil || bad.Count != len(want) || !slices.Equal(bad.Examples, want) {
		t.Fatalf("got %d %q (%v), want %q", bad.Count, bad.Examples, err, want)
	}
	if bad, err := s.IDsNotMatching(ctx, "customers", "id", campaign.CustomerID.Pattern, 2); err != nil || bad.Count != len(want) || len(bad.Examples) != 2 {
		t.Fatalf("two examples: %+v %v", bad, err)
	}
}
