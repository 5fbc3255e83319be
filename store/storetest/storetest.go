// Package storetest gives each test its own freshly migrated database on the
// PostgreSQL server at OMNI_TEST_DATABASE_URL (default: the local server).
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/omni-orchestrator/omni/store"
)

// DefaultURL is the server the tests use when OMNI_TEST_DATABASE_URL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// New creates an empty, migrated database, returns a store on it and its
// URL, and drops the database when the test ends.
func New(t testing.TB) (*store.Store, string) {
	t.Helper()
	ctx := context.Background()
	base := os.Getenv("OMNI_TEST_DATABASE_URL")
	if base == "" {
		base = DefaultURL
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("OMNI_TEST_DATABASE_URL: %v", err)
	}
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	name := "omni_test_" + hex.EncodeToString(suffix)

	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("the tests need PostgreSQL at %s (set OMNI_TEST_DATABASE_URL): %v", base, err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	s, err := store.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Logf("drop %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop %s: %v", name, err)
		}
	})
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s, u.String()
}

// JourneyMessages lists a journey's messages in the order they were
// recorded.
func JourneyMessages(t testing.TB, s *store.Store, journeyID string) []store.Message {
	t.Helper()
	ctx := context.Background()
	j, err := s.Journey(ctx, journeyID)
	if err != nil {
		t.Fatalf("journey %s: %v", journeyID, err)
	}
	all, err := s.CustomerMessages(ctx, j.CustomerID, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Message
	for _, m := range slices.Backward(all) {
		if m.JourneyID == journeyID {
			out = append(out, m)
		}
	}
	return out
}
