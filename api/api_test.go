package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/omni-orchestrator/omni/campaign/campaigntest"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/omni-orchestrator/omni/api"
	"github.com/omni-orchestrator/omni/auth"
	"github.com/omni-orchestrator/omni/internal/testenv"
)

// client talks to the API over real HTTP, with an API key.
type client struct {
	t    *testing.T
	base string
	key  string
}

// start starts the API on a fresh backend; its client has an admin key.
func start(t *testing.T) (*client, *testenv.Env) {
	return startWith(t, api.Webhooks{})
}

func startWith(t *testing.T, hooks api.Webhooks) (*client, *testenv.Env) {
	return startServer(t, func(s *api.Server) { s.Webhooks = hooks })
}

// startServer starts the API with what configure sets beyond the env, and
// a client with an admin key.
func startServer(t *testing.T, configure func(*api.Server)) (*client, *testenv.Env) {
	env := testenv.Start(t)
	return serve(t, env, configure), env
}

// serve starts the API on env, with what configure (if any) sets, and
// returns a client with a key of every scope.
func serve(t *testing.T, env *testenv.Env, configure func(*api.Server)) *client {
	s := &api.Server{
		Store: env.Store, Temporal: env.Temporal, Enroller: env.Enroller, Responses: env.Responses,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Codec:  testenv.Codec(t), TemporalUI: temporalUI,
	}
	if configure != nil {
		configure(s)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	c := &client{t: t, base: srv.URL}
	return c.as(newKey(t, env, auth.Scopes...))
}

// newKey makes an API key with scopes in the env's store.
func newKey(t *testing.T, env *testenv.Env, scopes ...auth.Scope) string {
	t.Helper()
	_, key, err := auth.Create(context.Background(), env.Store, "test", scopes, nil)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// as is the client with another key ("" for none).
func (c *client) as(key string) *client {
	return &client{t: c.t, base: c.base, key: key}
}

// do sends body (a string is sent as is, anything else as JSON) and decodes
// the JSON answer.
func (c *client) do(method, path string, body any) (int, map[string]any) {
	return c.doWith(method, path, body, "application/json", nil)
}

func (c *client) doWith(method, path string, body any, contentType string, headers map[string]string) (int, map[string]any) {
	c.t.Helper()
	status, _, out := c.send(method, path, body, contentType, headers)
	return status, out
}

// send is doWith that answers the headers too.
func (c *client) send(method, path string, body any, contentType string, headers map[string]string) (int, http.Header, map[string]any) {
	c.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	data, _ := io.ReadAll(res.Body)
	if len(data) > 0 && res.Header.Get("Content-Type") != "text/xml" && json.Unmarshal(data, &out) != nil {
		c.t.Fatalf("%s %s: answer is not a JSON object: %s", method, path, data)
	}
	return res.StatusCode, res.Header, out
}

func (c *client) must(want int, method, path string, body any) map[string]any {
	c.t.Helper()
	got, out := c.do(method, path, body)
	if got != want {
		c.t.Fatalf("%s %s: status %d, want %d: %v", method, path, got, want, out)
	}
	return out
}

// errorCode and errorMessage read an error answer.
func errorCode(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func errorMessage(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

// eventually polls cond until it holds; journeys run asynchronously.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var welcome = campaigntest.Welcome("1h")

func messages(view map[string]any) []map[string]any {
	var out []map[string]any
	for _, m := range view["messages"].([]any) {
		out = append(out, m.(map[string]any))
	}
	return out
}

func journey(view map[string]any) map[string]any {
	js := view["journeys"].([]any)
	if len(js) == 0 {
		return nil
	}
	return js[0].(map[string]any)
}

func TestCampaignRunsEndToEnd(t *testing.T) {
	c, env := start(t)

	c.must(200, "POST", "/v1/customers", `[
		{"id": "ada", "email": "ada@example.com", "push_token": "tok-ada", "attributes": {"first_name": "Ada"}},
		{"id": "bob", "email": "bob@example.com", "phone": "+4915100000002", "attributes": {"first_name": "Bob"}}
	]`)
	created := c.must(201, "POST", "/v1/campaigns", welcome)
	if created["version"] != float64(1) {
		t.Fatalf("created %v", created)
	}
	launch := c.must(202, "POST", "/v1/campaigns/welcome/launch", map[string]any{"audience": map[string]any{"all": true}})
	if !strings.HasPrefix(launch["launch_id"].(string), "launch:welcome:") {
		t.Fatalf("launch = %v", launch)
	}

	// The sandbox records Ada's email, rendered.
	var ada map[string]any
	eventually(t, "Ada's email", func() bool {
		ada = c.must(200, "GET", "/v1/customers/ada", nil)
		return len(messages(ada)) == 1 && journey(ada)["current_step"] == "wait-1"
	})
	email := messages(ada)[0]
	if email["channel"] != "email" || email["status"] != "sent" || email["provider"] != "sandbox" ||
		email["subject"] != "Hi Ada" || email["body"] != "<p>10% off, Ada</p>" || email["recipient"] != "ada@example.com" {
		t.Fatalf("email = %v", email)
	}

	// Ada clicks: her journey takes the clicked branch and completes.
	res := c.must(201, "POST", "/v1/responses", map[string]any{
		"event_id": "evt-1", "customer_id": "ada", "campaign_id": "welcome", "channel": "email", "type": "clicked",
	})
	if !slices.Equal(res["journeys"].([]any), []any{"journey:welcome:ada"}) {
		t.Fatalf("signalled %v", res["journeys"])
	}
	eventually(t, "Ada's journey to complete", func() bool {
		ada = c.must(200, "GET", "/v1/customers/ada", nil)
		return journey(ada)["status"] == "completed"
	})
	if j := journey(ada); j["current_step"] != "done" || j["ended_at"] == nil {
		t.Fatalf("journey = %v", j)
	}
	if ms := messages(ada); len(ms) != 2 || ms[0]["channel"] != "push" || ms[0]["body"] != "Ends soon" {
		t.Fatalf("messages = %v", ms)
	}
	if rs := ada["responses"].([]any); len(rs) != 1 || rs[0].(map[string]any)["type"] != "clicked" {
		t.Fatalf("responses = %v", rs)
	}

	// The same event again is accepted once: 200, flagged, nothing new.
	dup := c.must(200, "POST", "/v1/responses", map[string]any{
		"event_id": "evt-1", "customer_id": "ada", "campaign_id": "welcome", "channel": "email", "type": "converted",
	})
	if dup["duplicate"] != true || dup["response"].(map[string]any)["type"] != "clicked" {
		t.Fatalf("duplicate = %v", dup)
	}

	// Bob did not click: he is still waiting.
	bob := c.must(200, "GET", "/v1/customers/bob", nil)
	if j := journey(bob); j["status"] != "active" || j["current_step"] != "wait-1" {
		t.Fatalf("bob's journey = %v", j)
	}

	// A second launch enrolls nobody twice.
	c.must(202, "POST", "/v1/campaigns/welcome/launch", `{"audience": {"customer_ids": ["ada", "bob", "nobody"]}}`)
	var campaign map[string]any
	eventually(t, "the second launch to finish", func() bool {
		campaign = c.must(200, "GET", "/v1/campaigns/welcome", nil)
		latest := campaign["launches"].([]any)[0].(map[string]any)
		return latest["status"] == "finished"
	})
	latest := campaign["launches"].([]any)[0].(map[string]any)
	if latest["enrolled"] != float64(0) || latest["already_enrolled"] != float64(2) || latest["skipped"] != float64(1) {
		t.Fatalf("second launch = %v", latest)
	}
	if n := len(messages(c.must(200, "GET", "/v1/customers/ada", nil))); n != 2 {
		t.Fatalf("ada has %d messages after the relaunch", n)
	}
	if counts := campaign["journeys"].(map[string]any); counts["completed"] != float64(1) || counts["active"] != float64(1) {
		t.Fatalf("journey counts = %v", counts)
	}

	// Engineers find the journeys in the Temporal UI by campaign.
	eventually(t, "journeys visible by CampaignId", func() bool {
		list, err := env.Temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: `WorkflowType = "Journey" AND CampaignId = "welcome" AND CustomerId = "ada"`,
		})
		return err == nil && len(list.GetExecutions()) == 1
	})
}
