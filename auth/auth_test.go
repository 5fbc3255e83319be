package auth_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"regexp"
	"testing"
	"time"

	"github.com/omni-orchestrator/omni/auth"
	"github.com/omni-orchestrator/omni/store/storetest"
)

func TestKeysAreHighEntropyAndSplitBack(t *testing.T) {
	format := regexp.MustCompile(`^omni_[a-z2-7]{13}_[a-z2-7]{52}$`) // 64-bit id, 256-bit secret
	seen := map[string]bool{}
	for range 100 {
		id, secret, key := auth.NewKey()
		gotID, gotSecret, ok := auth.Split(key)
		if !format.MatchString(key) || !ok || gotID != id || gotSecret != secret || seen[id] || seen[secret] {
			t.Fatalf("key %q splits into %q, %q, %v", key, gotID, gotSecret, ok)
		}
		seen[id], seen[secret] = true, true
		if !auth.Matches(auth.Hash(secret), secret) || auth.Matches(auth.Hash(secret), secret+"x") {
			t.Fatal("Matches")
		}
	}
	for _, bad := range []string{"", "omni_", "omni__secret", "omni_id_", "omni_idsecret", "other_id_secret"} {
		if _, _, ok := auth.Split(bad); ok {
			t.Errorf("%q splits", bad)
		}
	}
}

func TestRolesAndScopes(t *testing.T) {
	for _, name := range auth.RoleNames {
		scopes, err := auth.Role(name)
		if err != nil || len(scopes) == 0 {
			t.Fatalf("role %s: %v, %v", name, scopes, err)
		}
		if _, err := auth.ParseScopes(auth.Names(scopes)); err != nil {
			t.Fatalf("role %s has scopes that do not parse: %v", name, err)
		}
	}
	if _, err := auth.Role("root"); err == nil {
		t.Error("role root")
	}
	if s, err := auth.ParseScopes([]string{"events:write", " events:write"}); err != nil || len(s) != 1 {
		t.Errorf("duplicates: %v, %v", s, err)
	}
	for _, bad := range [][]string{nil, {"events:read"}, {"admin", "*"}} {
		if _, err := auth.ParseScopes(bad); err == nil {
			t.Errorf("%v parses", bad)
		}
	}
}

// A key works until revoked, at once in the process that revoked it; its
// last use is written once a minute, not on every request.
func TestKeysAuthenticateAndRevoke(t *testing.T) {
	ctx := context.Background()
	st, _ := storetest.New(t)
	keys := auth.NewKeys(st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	made, token, err := auth.Create(ctx, st, "shop", []auth.Scope{auth.EventsWrite}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if made.LastUsedAt != nil {
		t.Fatalf("a new key was used at %v", made.LastUsedAt)
	}
	got, err := keys.Authenticate(ctx, token)
	if err != nil || got.ID != made.ID || !auth.Grants(got, auth.EventsWrite) || auth.Grants(got, auth.Admin) {
		t.Fatalf("authenticated %+v, %v", got, err)
	}
	first, _ := st.Key(ctx, made.ID)
	if first.LastUsedAt == nil {
		t.Fatal("last use not recorded")
	}
	for range 10 {
		if _, err := keys.Authenticate(ctx, token); err != nil {
			t.Fatal(err)
		}
	}
	if again, _ := st.Key(ctx, made.ID); !again.LastUsedAt.Equal(*first.LastUsedAt) {
		t.Fatalf("last use written again within the minute: %v, then %v", first.LastUsedAt, again.LastUsedAt)
	}

	if _, err := keys.Revoke(ctx, made.ID); err != nil {
		t.Fatal(err)
	}
	var refused *auth.KeyError
	if _, err := keys.Authenticate(ctx, token); !errors.As(err, &refused) {
		t.Fatalf("a revoked key: %v", err)
	}

	if _, _, err := auth.Create(ctx, st, "old", []auth.Scope{auth.Admin}, new(time.Now().Add(-time.Second))); err == nil {
		t.Fatal("a key that expired already")
	}
}
