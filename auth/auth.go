// Package auth is who may call omni's API: API keys, the scopes they
// grant and the roles that bundle scopes.
//
// A key is omni_<id>_<secret>. The id is public: logs and the audit trail
// name it. The secret is 256 bits from crypto/rand; only its SHA-256 is
// stored (a slow password hash buys nothing for a secret that cannot be
// guessed), and the key is shown once, when it is created.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"slices"
	"strings"
)

// Scope is a permission a key grants.
type Scope string

// The scopes. Admin is the keys and the audit trail, so a key with it can
// give itself every other scope: hand it out like a root password.
const (
	Admin          Scope = "admin"           // keys, the audit trail
	CampaignsWrite Scope = "campaigns:write" // define, launch, enroll, control, preview
	CampaignsRead  Scope = "campaigns:read"  // campaigns, stats, exports
	CustomersWrite Scope = "customers:write" // upsert customers
	CustomersRead  Scope = "customers:read"  // the customer view, timeline, offers
	EventsWrite    Scope = "events:write"    // responses, coupon redemptions
)

// Scopes are all scopes.
var Scopes = []Scope{Admin, CampaignsWrite, CampaignsRead, CustomersWrite, CustomersRead, EventsWrite}

// Roles bundle scopes for the usual callers.
var Roles = map[string][]Scope{
	// marketer: campaigns, their results, and the customers they reach.
	"marketer": {CampaignsWrite, CampaignsRead, CustomersRead},
	// channel: an ESP bridge, the shop, the app, a store's till: keeps
	// profiles current, shows offers, reports what customers do.
	"channel": {CustomersWrite, CustomersRead, EventsWrite},
	// agent: the contact centre reads the customer, records responses and
	// redeems coupons.
	"agent": {CustomersRead, EventsWrite},
	// admin: everything.
	"admin": Scopes,
}

// RoleNames are the roles' names, in the order the docs list them.
var RoleNames = []string{"marketer", "channel", "agent", "admin"}

// ParseScopes checks scope names.
func ParseScopes(names []string) ([]Scope, error) {
	out := make([]Scope, 0, len(names))
	for _, n := range names {
		s := Scope(strings.TrimSpace(n))
		if !slices.Contains(Scopes, s) {
			return nil, fmt.Errorf("unknown scope %q; the scopes are %s", n, strings.Join(Names(Scopes), ", "))
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("a key needs at least one scope")
	}
	return out, nil
}

// Role returns a role's scopes.
func Role(name string) ([]Scope, error) {
	s, ok := Roles[name]
	if !ok {
		return nil, fmt.Errorf("unknown role %q; the roles are %s", name, strings.Join(RoleNames, ", "))
	}
	return slices.Clone(s), nil
}

// Names are scopes as strings.
func Names(scopes []Scope) []string {
	out := make([]string, len(scopes))
	for i, s := range scopes {
		out[i] = string(s)
	}
	return out
}

const prefix = "omni_"

// encoding spells ids and secrets in lower-case letters and digits, so a
// key survives copying, shells and URLs, and a double click selects it.
var encoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewKey draws a key: its public id, its secret and the whole key.
func NewKey() (id, secret, key string) {
	raw := make([]byte, 8+32) // a 64-bit id, a 256-bit secret
	_, _ = rand.Read(raw)     // never fails (crypto/rand)
	id, secret = encoding.EncodeToString(raw[:8]), encoding.EncodeToString(raw[8:])
	return id, secret, prefix + id + "_" + secret
}

// Split takes a key apart into its id and secret.
func Split(key string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(key, prefix)
	if !ok {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	return id, secret, ok && id != "" && secret != ""
}

// Hash is what is stored of a secret.
func Hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Matches reports, in constant time, whether secret is the one hash was
// made of.
func Matches(hash []byte, secret string) bool {
	return subtle.ConstantTimeCompare(hash, Hash(secret)) == 1
}
