package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/omni-orchestrator/omni/auth"
	"github.com/omni-orchestrator/omni/config"
	"github.com/omni-orchestrator/omni/store/storetest"
)

// The first key of a production database comes from the command line.
func TestKeysCommand(t *testing.T) {
	ctx := context.Background()
	st, url := storetest.New(t)
	cfg := config.Config{DatabaseURL: url}
	run := func(args ...string) (string, string, error) {
		var out, info bytes.Buffer
		err := keys(ctx, cfg, args, &out, &info)
		return out.String(), info.String(), err
	}

	token, info, err := run("create", "--name", "first admin", "--role", "admin", "--expires-in", "2160h")
	token = strings.TrimSpace(token)
	id, secret, ok := auth.Split(token)
	if err != nil || !ok || !strings.Contains(info, id) || !strings.Contains(info, "expires at") || strings.Contains(info, secret) {
		t.Fatalf("create: %q, %q, %v", token, info, err)
	}
	key, err := auth.NewKeys(st, slog.New(slog.NewTextHandler(io.Discard, nil))).Authenticate(ctx, token)
	if err != nil || !auth.Grants(key, auth.Admin) || key.ExpiresAt == nil {
		t.Fatalf("the key made: %+v, %v", key, err)
	}
	if _, _, err := run("create", "--name", "till", "--scopes", "events:write,customers:read"); err != nil {
		t.Fatal(err)
	}

	list, _, err := run("list")
	if err != nil || !strings.Contains(list, id) || !strings.Contains(list, "first admin") || !strings.Contains(list, "events:write,customers:read") ||
		strings.Contains(list, secret) {
		t.Fatalf("list:\n%s%v", list, err)
	}
	if _, info, err := run("revoke", id); err != nil || !strings.Contains(info, "Revoked") {
		t.Fatalf("revoke: %q, %v", info, err)
	}
	if list, _, _ := run("list"); !strings.Contains(list, "revoked") {
		t.Fatalf("list after revoking:\n%s", list)
	}
	if _, _, err := run("revoke", "nosuchkey"); err == nil || !strings.Contains(err.Error(), "no API key") {
		t.Fatalf("revoke unknown: %v", err)
	}

	for _, bad := range [][]string{{}, {"make"}, {"list", "all"}, {"revoke"}, {"create", "--colour", "blue"}} {
		if _, _, err := run(bad...); !errors.Is(err, errUsage) {
			t.Errorf("%v: %v, want the usage", bad, err)
		}
	}
	for _, bad := range [][]string{
		{"create", "--name", "x"}, {"create", "--name", "x", "--role", "admin", "--scopes", "admin"},
		{"create", "--name", "x", "--role", "root"}, {"create", "--name", "x", "--scopes", "all"}, {"create", "--role", "agent"},
	} {
		if _, _, err := run(bad...); err == nil || errors.Is(err, errUsage) {
			t.Errorf("%v: %v, want what is wrong", bad, err)
		}
	}
}

// omni dev makes an admin key once, keeps it in a file only its user
// reads, and reuses it while the database takes it.
func TestDevKeyIsMadeOnceAndReused(t *testing.T) {
	ctx := context.Background()
	st, _ := storetest.New(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	path := filepath.Join(t.TempDir(), ".data", "dev-api-key")

	first, err := devKey(ctx, st, logger, path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	key, err := auth.NewKeys(st, logger).Authenticate(ctx, first)
	if err != nil || !auth.Grants(key, auth.Admin) || !auth.Grants(key, auth.CampaignsWrite) {
		t.Fatalf("the dev key: %+v, %v", key, err)
	}
	if again, err := devKey(ctx, st, logger, path); err != nil || again != first {
		t.Fatalf("second start: %q, %v; want the same key", again, err)
	}

	// Revoked (or from a database since dropped): a new one.
	if _, err := st.RevokeKey(ctx, key.ID); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	renewed, err := devKey(ctx, st, logger, path)
	if err != nil || renewed == first {
		t.Fatalf("after revoking: %q, %v", renewed, err)
	}
	if data, _ := os.ReadFile(path); strings.TrimSpace(string(data)) != renewed {
		t.Fatalf("the file holds %q", data)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
}
