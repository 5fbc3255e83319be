package api_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omni-orchestrator/omni/api"
	"github.com/omni-orchestrator/omni/auth"
	"github.com/omni-orchestrator/omni/store"
)

// No route is open by accident: every route Echo serves is in the route
// table, with a scope or with the reason it is public.
func TestEveryRouteIsScopedOrPublic(t *testing.T) {
	table := map[string]api.Route{}
	for _, r := range api.Routes() {
		table[r.Method+" "+r.Path] = r
	}
	for _, r := range (&api.Server{}).Handler().Routes() {
		name := r.Method + " " + r.Path
		switch tr, ok := table[name]; {
		case !ok:
			t.Errorf("%s is served but not in the route table (api/server.go routes)", name)
		case tr.Scope == "" && tr.Public == "":
			t.Errorf("%s has neither a scope nor a reason to be public", name)
		case tr.Scope != "" && !slices.Contains(auth.Scopes, tr.Scope):
			t.Errorf("%s needs the unknown scope %q", name, tr.Scope)
		}
	}
}

var routeParam = regexp.MustCompile(`:\w+`)

// Every scoped route: no key is 401, a key with every scope but the
// route's is 403 naming it, a key with only the route's scope gets the
// route's own answer. Public routes answer without a key.
func TestEveryRouteChecksItsKey(t *testing.T) {
	c, env := start(t)
	only, allBut := map[auth.Scope]*client{}, map[auth.Scope]*client{}
	for _, s := range auth.Scopes {
		only[s] = c.as(newKey(t, env, s))
		allBut[s] = c.as(newKey(t, env, slices.DeleteFunc(slices.Clone(auth.Scopes), func(o auth.Scope) bool { return o == s })...))
	}
	for _, r := range api.Routes() {
		path := routeParam.ReplaceAllString(r.Path, "x")
		var body any
		if r.Method != http.MethodGet {
			body = "{}"
		}
		t.Run(r.Method+" "+r.Path, func(t *testing.T) {
			if r.Public != "" {
				// Some answer in other formats than JSON (the metrics, the spec, TwiML).
				req, _ := http.NewRequest(r.Method, c.base+path, strings.NewReader("{}"))
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.Header.Get("WWW-Authenticate") != "" {
					t.Fatalf("public, yet asks for a key: %d", res.StatusCode)
				}
				return
			}
			status, h, out := c.as("").send(r.Method, path, body, "application/json", nil)
			if status != 401 || errorCode(out) != "unauthorized" || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("no key: %d %v (WWW-Authenticate %q), want 401", status, out, h.Get("WWW-Authenticate"))
			}
			status, out = allBut[r.Scope].do(r.Method, path, body)
			if status != 403 || errorCode(out) != "forbidden" || !strings.Contains(errorMessage(out), string(r.Scope)) {
				t.Errorf("a key without %s: %d %v, want 403 naming the scope", r.Scope, status, out)
			}
			status, out = only[r.Scope].do(r.Method, path, body)
			if status == 401 || status == 403 || status >= 500 {
				t.Errorf("a key with just %s: %d %v, want the route's own answer", r.Scope, status, out)
			}
		})
	}
}

// A key is made, shown once, used, listed without its secret, and revoked;
// keys that are malformed, unknown, expired or revoked get 401.
func TestKeysAreMadeUsedAndRevoked(t *testing.T) {
	c, env := start(t)
	problemAt(t, c.must(400, "POST", "/v1/keys", `{"name": "shop", "role": "channel", "scopes": ["events:write"]}`), "invalid_request", "role")
	problemAt(t, c.must(400, "POST", "/v1/keys", `{"name": "shop", "role": "root"}`), "invalid_request", "role")
	problemAt(t, c.must(400, "POST", "/v1/keys", `{"name": "shop", "scopes": ["everything"]}`), "invalid_request", "scopes")
	problemAt(t, c.must(400, "POST", "/v1/keys", `{"name": " ", "role": "agent"}`), "invalid_request", "name")
	problemAt(t, c.must(400, "POST", "/v1/keys", `{"name": "shop", "role": "agent", "expires_at": "2001-01-01T00:00:00Z"}`), "invalid_request", "expires_at")

	made := c.must(201, "POST", "/v1/keys", `{"name": "shop checkout", "role": "channel"}`)
	key, _ := made["key"].(string)
	id, _, ok := auth.Split(key)
	if !ok || made["id"] != id || !slices.Equal(made["scopes"].([]any), []any{"customers:write", "customers:read", "events:write"}) {
		t.Fatalf("made %v", made)
	}
	shop := c.as(key)
	shop.must(200, "POST", "/v1/customers", `{"id": "ada"}`)
	shop.must(200, "GET", "/v1/customers/ada", nil)
	problemAt(t, shop.must(403, "POST", "/v1/campaigns", welcome), "forbidden", "-")
	problemAt(t, shop.must(403, "GET", "/v1/keys", nil), "forbidden", "-")

	listed := c.must(200, "GET", "/v1/keys", nil)["keys"].([]any)
	var entry map[string]any
	for _, k := range listed {
		if k := k.(map[string]any); k["id"] == id {
			entry = k
		}
		if _, shown := k.(map[string]any)["key"]; shown {
			t.Fatalf("a listed key shows its key: %v", k)
		}
	}
	if entry == nil || entry["name"] != "shop checkout" || entry["last_used_at"] == nil || entry["revoked_at"] != nil {
		t.Fatalf("listed %v", entry)
	}

	revoked := c.must(200, "DELETE", "/v1/keys/"+id, nil)
	if revoked["revoked_at"] == nil {
		t.Fatalf("revoked %v", revoked)
	}
	c.must(200, "DELETE", "/v1/keys/"+id, nil)
	problemAt(t, c.must(404, "DELETE", "/v1/keys/nosuchkey", nil), "not_found", "-")
	if out := shop.must(401, "GET", "/v1/customers/ada", nil); !strings.Contains(errorMessage(out), "revoked") {
		t.Fatalf("a revoked key: %v", out)
	}

	expiredID, expiredSecret, expiredKey := auth.NewKey()
	past := time.Now().Add(-time.Minute)
	if _, err := env.Store.CreateKey(context.Background(), store.APIKey{ID: expiredID, Name: "old", SecretHash: auth.Hash(expiredSecret),
		Scopes: []string{"customers:read"}, ExpiresAt: &past}); err != nil {
		t.Fatal(err)
	}
	if out := c.as(expiredKey).must(401, "GET", "/v1/customers/ada", nil); !strings.Contains(errorMessage(out), "expired") {
		t.Fatalf("an expired key: %v", out)
	}
	for name, bad := range map[string]string{
		"malformed":             "letmein",
		"unknown id":            "omni_aaaaaaaaaaaaa_" + strings.Repeat("b", 52),
		"wrong secret":          "omni_" + id + "_" + strings.Repeat("b", 52),
		"expired, wrong secret": "omni_" + expiredID + "_" + strings.Repeat("b", 52),
	} {
		out := c.as(bad).must(401, "GET", "/v1/customers/ada", nil)
		if msg := errorMessage(out); strings.Contains(msg, "expired") || strings.Contains(msg, "revoked") {
			t.Errorf("%s: %q tells what only the key's holder may know", name, msg)
		}
	}
	// Basic credentials carry a key as their user name (Segment's way):
	// ada is none.
	status, h, _ := c.send("GET", "/v1/customers/ada", nil, "application/json", map[string]string{"Authorization": "Basic YWRhOmFkYQ=="})
	if status != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), `Bearer realm="omni"`) {
		t.Fatalf("basic auth: %d %v", status, h)
	}
}

// The keys table holds hashes of the secrets, never a secret.
func TestKeysTableHoldsNoSecret(t *testing.T) {
	c, env := start(t)
	var keys []string
	for _, role := range auth.RoleNames {
		keys = append(keys, c.must(201, "POST", "/v1/keys", map[string]any{"name": role, "role": role})["key"].(string))
	}
	keys = append(keys, newKey(t, env, auth.EventsWrite))

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, env.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, `SELECT row_to_json(k)::text, encode(secret_hash, 'hex') FROM api_keys k`)
	var table, hashes []string
	var row, hash string
	if _, err := pgx.ForEachRow(rows, []any{&row, &hash}, func() error {
		table, hashes = append(table, row), append(hashes, hash)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(table) != len(keys)+1 { // and the test client's
		t.Fatalf("%d keys stored, want %d", len(table), len(keys)+1)
	}
	all := strings.Join(table, "\n")
	for _, k := range keys {
		_, secret, _ := auth.Split(k)
		if strings.Contains(all, secret) || strings.Contains(all, k) {
			t.Fatalf("the keys table holds a secret:\n%s", all)
		}
		sum := sha256.Sum256([]byte(secret))
		if !slices.Contains(hashes, hex.EncodeToString(sum[:])) {
			t.Fatalf("no stored hash is the secret's")
		}
	}
}

// Every call that changes something leaves an entry in the audit trail:
// who, what, to what, which request, how it ended; refused calls too.
// Entries cannot be changed.
func TestEveryMutationLeavesAnAuditEntry(t *testing.T) {
	c, env := start(t)
	adminID, _, _ := auth.Split(c.key)
	type call struct {
		action, requestID, keyID string
		status                   int
	}
	var calls []call
	for _, r := range api.Routes() {
		if r.Public != "" || r.Method == http.MethodGet {
			continue
		}
		path := routeParam.ReplaceAllString(r.Path, "x")
		status, h, _ := c.send(r.Method, path, "{}", "application/json", nil)
		calls = append(calls, call{r.Method + " " + r.Path, h.Get("X-Request-ID"), adminID, status})
	}
	reader := newKey(t, env, auth.CustomersRead)
	readerID, _, _ := auth.Split(reader)
	status, h, _ := c.as(reader).send("POST", "/v1/campaigns/x/launch", `{"audience": {"all": true}}`, "application/json", nil)
	calls = append(calls, call{"POST /v1/campaigns/:id/launch", h.Get("X-Request-ID"), readerID, status})

	trail := c.must(200, "GET", "/v1/audit?limit=500", nil)["entries"].([]any)
	for _, want := range calls {
		i := slices.IndexFunc(trail, func(e any) bool { return e.(map[string]any)["request_id"] == want.requestID })
		if i < 0 {
			t.Errorf("%s (request %s) left no audit entry", want.action, want.requestID)
			continue
		}
		if e := trail[i].(map[string]any); e["action"] != want.action || e["key_id"] != want.keyID || e["status"] != float64(want.status) || e["at"] == nil {
			t.Errorf("%s: entry %v, want status %d by %s", want.action, e, want.status, want.keyID)
		}
	}
	if len(trail) != len(calls) {
		t.Errorf("%d entries for %d calls; reads are not audited", len(trail), len(calls))
	}

	// What a call changed is its target, from the path or the body.
	c.must(200, "POST", "/v1/customers", `[{"id": "ada"}, {"id": "bob"}]`)
	c.must(201, "POST", "/v1/campaigns", welcome)
	c.must(201, "POST", "/v1/campaigns/welcome/enroll", `{"customer_id": "bob"}`)
	bob := c.must(200, "GET", "/v1/audit?target=customer:bob", nil)["entries"].([]any)
	if len(bob) != 2 || bob[0].(map[string]any)["action"] != "POST /v1/campaigns/:id/enroll" ||
		!slices.Equal(bob[0].(map[string]any)["targets"].([]any), []any{"campaign:welcome", "customer:bob"}) ||
		!slices.Equal(bob[1].(map[string]any)["targets"].([]any), []any{"customer:ada", "customer:bob"}) {
		t.Fatalf("bob's trail %v", bob)
	}
	if launches := c.must(200, "GET", "/v1/audit?target=campaign:x&key_id="+readerID, nil)["entries"].([]any); len(launches) != 1 ||
		launches[0].(map[string]any)["status"] != float64(403) {
		t.Fatalf("the reader's refused launch: %v", launches)
	}

	// A page at a time.
	var paged []any
	for after := ""; ; {
		page := c.must(200, "GET", "/v1/audit?limit=4"+after, nil)
		paged = append(paged, page["entries"].([]any)...)
		next, _ := page["next"].(string)
		if next == "" {
			break
		}
		after = "&after=" + next
	}
	all := c.must(200, "GET", "/v1/audit", nil)["entries"].([]any)
	if fmt.Sprint(paged) != fmt.Sprint(all) {
		t.Fatalf("paged:\n%v\nwhole:\n%v", paged, all)
	}
	problemAt(t, c.must(400, "GET", "/v1/audit?after=yesterday", nil), "invalid_request", "after")

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, env.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, sql := range []string{`UPDATE audit SET status = 200`, `DELETE FROM audit`, `TRUNCATE audit`} {
		if _, err := conn.Exec(ctx, sql); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v", sql, err)
		}
	}
}
