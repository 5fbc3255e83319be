package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/omni-orchestrator/omni/store"
)

// Refresh is how long a process trusts a key it read from the store. A
// request then costs no query; a key revoked by another process (`omni
// keys revoke`, another API process) stops working here within Refresh,
// one revoked through Keys.Revoke at once.
const Refresh = 10 * time.Second

// recordUseEvery is how often a key's last_used_at is written: once a
// minute is precise enough to find unused keys, and costs no write per
// request.
const recordUseEvery = time.Minute

// Keys checks API keys against the store.
type Keys struct {
	store  *store.Store
	logger *slog.Logger

	mu    sync.Mutex
	known map[string]*knownKey
}

type knownKey struct {
	key  store.APIKey
	read time.Time // when it was read from the store
	used time.Time // the last use recorded in the store
}

// NewKeys checks keys against st.
func NewKeys(st *store.Store, logger *slog.Logger) *Keys {
	return &Keys{store: st, logger: logger, known: map[string]*knownKey{}}
}

// A KeyError says why a key is refused.
type KeyError struct{ Reason string }

func (e *KeyError) Error() string { return e.Reason }

// Authenticate returns the key that token is, or a *KeyError when it is
// malformed, unknown, revoked or expired. Whether a key is revoked or
// expired is only told to the holder of its secret.
func (k *Keys) Authenticate(ctx context.Context, token string) (store.APIKey, error) {
	id, secret, ok := Split(token)
	if !ok {
		return store.APIKey{}, &KeyError{"not an omni API key (omni_<id>_<secret>)"}
	}
	known, err := k.lookup(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && !Matches(known.key.SecretHash, secret) {
		return store.APIKey{}, &KeyError{"unknown API key"}
	} else if err != nil {
		return store.APIKey{}, err
	}
	now := time.Now()
	switch key := known.key; {
	case key.RevokedAt != nil:
		return store.APIKey{}, &KeyError{fmt.Sprintf("API key %s was revoked at %s", id, key.RevokedAt.UTC().Format(time.RFC3339))}
	case key.ExpiresAt != nil && !now.Before(*key.ExpiresAt):
		return store.APIKey{}, &KeyError{fmt.Sprintf("API key %s expired at %s", id, key.ExpiresAt.UTC().Format(time.RFC3339))}
	}
	k.recordUse(ctx, known, now)
	return known.key, nil
}

// lookup returns the key with id, from memory while it is fresh.
func (k *Keys) lookup(ctx context.Context, id string) (*knownKey, error) {
	k.mu.Lock()
	known := k.known[id]
	k.mu.Unlock()
	if known != nil && time.Since(known.read) < Refresh {
		return known, nil
	}
	key, err := k.store.Key(ctx, id)
	if err != nil {
		// Unknown ids are not remembered: anybody can make up any number.
		return nil, err
	}
	fresh := &knownKey{key: key, read: time.Now()}
	if key.LastUsedAt != nil {
		fresh.used = *key.LastUsedAt
	}
	k.mu.Lock()
	if known != nil && known.used.After(fresh.used) {
		fresh.used = known.used
	}
	k.known[id] = fresh
	k.mu.Unlock()
	return fresh, nil
}

// recordUse writes the key's last use when the stored one is a minute old.
func (k *Keys) recordUse(ctx context.Context, known *knownKey, now time.Time) {
	k.mu.Lock()
	due := now.Sub(known.used) >= recordUseEvery
	if due {
		known.used = now
	}
	k.mu.Unlock()
	if due {
		// Written even if the caller has gone; the next is a minute away.
		if err := k.store.KeyUsed(context.WithoutCancel(ctx), known.key.ID, now); err != nil {
			k.logger.Warn("could not record the API key's last use", "key_id", known.key.ID, "error", err)
		}
	}
}

// Revoke revokes a key: here at once, in other processes within Refresh.
func (k *Keys) Revoke(ctx context.Context, id string) (store.APIKey, error) {
	key, err := k.store.RevokeKey(ctx, id)
	if err == nil {
		k.mu.Lock()
		delete(k.known, id)
		k.mu.Unlock()
	}
	return key, err
}

// InvalidError says which field of a new key is wrong.
type InvalidError struct{ Field, Reason string }

func (e *InvalidError) Error() string { return e.Field + ": " + e.Reason }

// Create makes a key with a name (what it is for: "shop checkout") and
// scopes, valid until expiresAt unless that is nil, and returns it with
// the key itself, which is not stored and so never shown again.
func Create(ctx context.Context, st *store.Store, name string, scopes []Scope, expiresAt *time.Time) (store.APIKey, string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "" || len(name) > 200 || strings.ContainsFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }):
		return store.APIKey{}, "", &InvalidError{"name", "required: what the key is for, at most 200 printable characters"}
	case len(scopes) == 0:
		return store.APIKey{}, "", &InvalidError{"scopes", "a key needs a role or at least one scope"}
	case expiresAt != nil && !expiresAt.After(time.Now()):
		return store.APIKey{}, "", &InvalidError{"expires_at", "must be in the future"}
	}
	id, secret, token := NewKey()
	key, err := st.CreateKey(ctx, store.APIKey{ID: id, Name: name, SecretHash: Hash(secret), Scopes: Names(scopes), ExpiresAt: expiresAt})
	return key, token, err
}

// Grants reports whether key has scope.
func Grants(key store.APIKey, scope Scope) bool {
	return slices.Contains(key.Scopes, string(scope))
}
