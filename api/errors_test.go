package api_test

import (
	"strings"
	"testing"
)

// problemAt reports whether an error answer has the documented shape and a
// problem at path.
func problemAt(t *testing.T, out map[string]any, code, path string) {
	t.Helper()
	e, ok := out["error"].(map[string]any)
	if !ok || e["code"] != code || e["message"] == "" {
		t.Fatalf("error = %v, want code %s", out, code)
	}
	if path == "-" {
		return
	}
	for _, p := range e["problems"].([]any) {
		if p.(map[string]any)["path"] == path {
			return
		}
	}
	t.Fatalf("no problem at %q in %v", path, e["problems"])
}

func TestBadInputGetsAClearErrorAndWritesNothing(t *testing.T) {
	c, _ := start(t)

	t.Run("customers", func(t *testing.T) {
		problemAt(t, c.must(400, "POST", "/v1/customers", `{"id": "x",`), "invalid_request", "")
		problemAt(t, c.must(400, "POST", "/v1/customers", `{"id": "x", "email": 5}`), "invalid_request", "email")
		problemAt(t, c.must(400, "POST", "/v1/customers", `{"id": "x", "nickname": "y"}`), "invalid_request", "nickname")
		problemAt(t, c.must(400, "POST", "/v1/customers", `{"id": "x", "consent": {"email": "yes"}}`), "invalid_request", "consent.email")
		problemAt(t, c.must(400, "POST", "/v1/customers", ``), "invalid_request", "-")
		out := c.must(400, "POST", "/v1/customers", `[{"id": "ok"}, {"id": "bad", "phone": "0151 123", "timezone": "Mars/Olympus"}]`)
		problemAt(t, out, "invalid_customer", "[1].phone")
		problemAt(t, out, "invalid_customer", "[1].timezone")
		problemAt(t, c.must(404, "GET", "/v1/customers/ok", nil), "not_found", "-") // nothing written half-way
	})

	t.Run("campaigns", func(t *testing.T) {
		broken := strings.Replace(welcome, `"next": "wait-1"`, `"next": "nowhere"`, 1)
		problemAt(t, c.must(400, "POST", "/v1/campaigns", broken), "invalid_campaign", "steps.email-1.next")
		problemAt(t, c.must(404, "GET", "/v1/campaigns/welcome", nil), "not_found", "-")
		dry := c.must(200, "POST", "/v1/campaigns?dry_run=true", welcome)
		if dry["valid"] != true {
			t.Fatalf("dry run = %v", dry)
		}
		problemAt(t, c.must(404, "GET", "/v1/campaigns/welcome", nil), "not_found", "-") // a dry run saves nothing
		problemAt(t, c.must(404, "POST", "/v1/campaigns/welcome/launch", `{"audience": {"all": true}}`), "not_found", "-")

		c.must(201, "POST", "/v1/campaigns", welcome)
		problemAt(t, c.must(400, "POST", "/v1/campaigns/welcome/launch", `{}`), "invalid_request", "audience")
		problemAt(t, c.must(400, "POST", "/v1/campaigns/welcome/launch", `{"audience": {"all": true, "customer_ids": ["a"]}}`), "invalid_request", "audience")
		problemAt(t, c.must(404, "POST", "/v1/campaigns/welcome/enroll", `{"customer_id": "nobody"}`), "not_found", "-")
	})

	t.Run("enroll", func(t *testing.T) {
		c.must(200, "POST", "/v1/customers", `{"id": "eve", "email": "eve@example.com"}`)
		first := c.must(201, "POST", "/v1/campaigns/welcome/enroll", `{"customer_id": "eve"}`)
		again := c.must(200, "POST", "/v1/campaigns/welcome/enroll", `{"customer_id": "eve"}`)
		if first["workflow_id"] != "journey:welcome:eve" || again["started"] != false || again["run_id"] != first["run_id"] {
			t.Fatalf("first = %v, again = %v", first, again)
		}
	})

	t.Run("responses", func(t *testing.T) {
		body := `{"event_id": "e-404", "customer_id": "nobody", "channel": "email", "type": "clicked"}`
		problemAt(t, c.must(404, "POST", "/v1/responses", body), "not_found", "-")
		out := c.must(400, "POST", "/v1/responses", `{"event_id": "e1", "customer_id": "eve", "channel": "Email!", "type": "liked"}`)
		problemAt(t, out, "invalid_response", "type")
		problemAt(t, out, "invalid_response", "channel")
		problemAt(t, c.must(404, "POST", "/v1/responses", `{"event_id": "e2", "customer_id": "eve", "campaign_id": "nope", "channel": "email", "type": "clicked"}`), "not_found", "-")
		// Nothing was stored for the unknown customer: the event id is still free.
		stored := c.must(201, "POST", "/v1/responses", strings.Replace(body, "nobody", "eve", 1))
		if stored["duplicate"] != false {
			t.Fatalf("stored = %v", stored)
		}
	})

	t.Run("transport", func(t *testing.T) {
		huge := `{"id": "x", "attributes": {"blob": "` + strings.Repeat("a", 3<<20) + `"}}`
		problemAt(t, c.must(413, "POST", "/v1/customers", huge), "payload_too_large", "-")
		problemAt(t, c.must(404, "GET", "/v1/nothing-here", nil), "not_found", "-")
		problemAt(t, c.must(405, "DELETE", "/v1/customers", nil), "method_not_allowed", "-")
		c.must(200, "GET", "/healthz", nil)
		if out := c.must(200, "GET", "/readyz", nil); out["checks"].(map[string]any)["temporal"] != "ok" {
			t.Fatalf("readyz = %v", out)
		}
	})
}
