package api_test

import (
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/omni-orchestrator/omni/api"
	"github.com/omni-orchestrator/omni/store"
)

// Bad input is refused before anything is stored, in the error shape, at
// the path of what is wrong: never a 500, never a row that fails later.
func TestInputIsRefusedBeforeItIsStored(t *testing.T) {
	c, env := startServer(t, func(s *api.Server) {
		s.Webhooks = unverified
		s.LinkSchemes = []string{"myapp"}
	})
	c.must(201, "POST", "/v1/campaigns", welcome)

	t.Run("media type", func(t *testing.T) {
		c := c.with(t)
		// A browser posts text/plain cross-site without asking first.
		launch := `{"audience": {"all": true}}`
		code, out := c.doWith("POST", "/v1/campaigns/welcome/launch", launch, "text/plain", nil)
		problemAt(t, out, "unsupported_media_type", "-")
		if code != 415 {
			t.Fatalf("text/plain launch: %d", code)
		}
		if n := len(c.must(200, "GET", "/v1/campaigns/welcome", nil)["launches"].([]any)); n != 0 {
			t.Fatalf("a text/plain post launched the campaign (%d launches)", n)
		}
		for _, ct := range []string{"", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=latin1"} {
			if code, _ := c.doWith("POST", "/v1/customers", `{"id": "x"}`, ct, nil); code != 415 {
				t.Errorf("Content-Type %q: %d", ct, code)
			}
		}
		if code, _ := c.doWith("POST", "/v1/campaigns/welcome/pause", "", "text/plain", nil); code != 415 {
			t.Errorf("text/plain pause without a body: %d", code)
		}
		if code, out := c.doWith("POST", "/v1/customers", `{"id": "x"}`, "application/json; charset=UTF-8", nil); code != 200 {
			t.Errorf("JSON in UTF-8: %d %v", code, out)
		}
		// Webhooks keep their providers' media types.
		if code, _ := c.doWith("POST", "/v1/webhooks/twilio/inbound", `{"From": "+4915100000001"}`, "application/json", nil); code != 415 {
			t.Errorf("JSON to Twilio's webhook: %d", code)
		}
		if code, _ := c.doWith("POST", "/v1/webhooks/sendgrid", `[]`, "application/json", nil); code != 200 {
			t.Errorf("SendGrid's JSON: %d", code)
		}
	})

	t.Run("NUL and invalid UTF-8", func(t *testing.T) {
		c := c.with(t)
		for body, path := range map[string]string{
			`{"id": "x", "attributes": {"note": "a\u0000b"}}`:       "attributes.note",
			`{"id": "x", "attributes": {"a\u0000": 1}}`:             `attributes."a\x00"`,
			"{\"id\": \"x\", \"attributes\": {\"note\": \"\xff\"}}": "attributes.note",
			`[{"id": "x"}, {"id": "y", "locale": "\u0000"}]`:        "[1].locale",
		} {
			problemAt(t, c.must(400, "POST", "/v1/customers", body), "invalid_request", path)
		}
		problemAt(t, c.must(404, "GET", "/v1/customers/y", nil), "not_found", "-")
		problemAt(t, c.must(400, "POST", "/v1/responses", `{"event_id": "e1", "customer_id": "x", "channel": "email", "type": "clicked", "data": {"why": "\u0000"}}`),
			"invalid_request", "data.why")
		for path, param := range map[string]string{
			"/v1/customers/%00":                  "id",
			"/v1/customers/%FF/timeline":         "id",
			"/v1/campaigns/%C3%28/stats":         "id",
			"/v1/customers/x/offers?channel=%00": "channel",
		} {
			problemAt(t, c.must(400, "GET", path, nil), "invalid_request", param)
		}
		problemAt(t, c.must(400, "POST", "/v1/coupons/A%00B/redeem", `{"channel": "pos"}`), "invalid_request", "code")
		// Provider webhooks too, in their own formats.
		sg := `[{"event": "open", "sg_event_id": "sg\u0000", "omni_message_id": "00000000-0000-0000-0000-000000000000", "timestamp": 1}]`
		code, out := c.doWith("POST", "/v1/webhooks/sendgrid", sg, "application/json", nil)
		problemAt(t, out, "invalid_request", "[0].sg_event_id")
		if code != 400 {
			t.Fatalf("NUL in a SendGrid event: %d", code)
		}
		form := url.Values{"MessageSid": {"SM\x00"}, "From": {"+4915100000001"}, "Body": {"STOP"}}
		code, out = c.doWith("POST", "/v1/webhooks/twilio/inbound", form.Encode(), "application/x-www-form-urlencoded", nil)
		problemAt(t, out, "invalid_request", "MessageSid")
		if code != 400 {
			t.Fatalf("NUL in a Twilio form: %d", code)
		}
		status := url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"delivered"}}
		code, out = c.doWith("POST", "/v1/webhooks/twilio/status?message_id=%00", status.Encode(), "application/x-www-form-urlencoded", nil)
		problemAt(t, out, "invalid_request", "message_id")
		if code != 400 {
			t.Fatalf("NUL in Twilio's callback URL: %d", code)
		}
	})

	t.Run("identifiers", func(t *testing.T) {
		c := c.with(t)
		tooLong := strings.Repeat("x", 129)
		for _, id := range []string{"a\u0001b", "tab\tin", "a b", "ünïcode", tooLong, " "} {
			problemAt(t, c.must(400, "POST", "/v1/customers", map[string]any{"id": id}), "invalid_customer", "id")
		}
		problemAt(t, c.must(400, "POST", "/v1/customers", []map[string]any{{"id": "fine"}, {"id": "not fine"}}), "invalid_customer", "[1].id")
		out := c.must(400, "POST", "/v1/responses", map[string]any{"event_id": "evt 1", "customer_id": "x\u007f", "campaign_id": "welcome",
			"offer_id": "OFFER\n", "channel": "email", "type": "clicked"})
		for _, path := range []string{"event_id", "customer_id", "offer_id"} {
			problemAt(t, out, "invalid_response", path)
		}
		problemAt(t, c.must(400, "POST", "/v1/campaigns/welcome/launch", map[string]any{"audience": map[string]any{"customer_ids": []string{"ok", "a\u0000b"}}}),
			"invalid_request", "audience.customer_ids[1]")
		problemAt(t, c.must(400, "POST", "/v1/campaigns/welcome/enroll", map[string]any{"customer_id": "é"}), "invalid_request", "customer_id")
		problemAt(t, c.must(400, "POST", "/v1/campaigns", strings.Replace(welcome, `"WELCOME-10"`, `"WELCOME 10"`, 1)), "invalid_campaign", "offer_id")

		// Any visible ASCII works, in a URL too once percent-encoded, as a
		// client's encodeURIComponent or Go's url.PathEscape write it.
		odd := "crm|a/b?c#d%e:f=g+h@i"
		c.must(200, "POST", "/v1/customers", map[string]any{"id": odd, "email": "odd@example.com"})
		for _, path := range []string{url.PathEscape(odd), strings.NewReplacer(":", "%3A", "=", "%3D", "+", "%2B", "@", "%40", "|", "%7C").Replace(url.PathEscape(odd))} {
			if got := c.must(200, "GET", "/v1/customers/"+path, nil)["customer"].(map[string]any)["id"]; got != odd {
				t.Errorf("GET /v1/customers/%s: customer %v", path, got)
			}
		}
		c.must(201, "POST", "/v1/campaigns/welcome/enroll", map[string]any{"customer_id": odd})
		c.must(200, "GET", "/v1/customers/"+url.PathEscape(odd)+"/timeline", nil)
	})

	t.Run("sizes", func(t *testing.T) {
		c := c.with(t)
		// Templates within their own bound, a definition over its bound.
		steps := []string{}
		for i := range 5 {
			steps = append(steps, fmt.Sprintf(`"s%d": {"send": {"channel": "sms", "template": {"body": %q}}, "next": "s%d"}`, i, strings.Repeat("x", 120<<10), i+1))
		}
		steps = append(steps, `"s5": {"exit": {}}`)
		big := `{"id": "big", "start_at": "s0", "steps": {` + strings.Join(steps, ",") + `}}`
		out := c.must(400, "POST", "/v1/campaigns", big)
		problemAt(t, out, "invalid_campaign", "")
		if msg := fmt.Sprint(out); !strings.Contains(msg, "512 KiB") {
			t.Fatalf("the answer does not name the limit: %.300s", msg)
		}
		data := map[string]any{"blob": strings.Repeat("x", 65<<10)}
		out = c.must(400, "POST", "/v1/campaigns/welcome/enroll", map[string]any{"customer_id": "fine", "data": data})
		problemAt(t, out, "invalid_request", "data")
		if !strings.Contains(fmt.Sprint(out), "64 KiB") {
			t.Fatalf("the answer does not name the limit: %.300s", fmt.Sprint(out))
		}
		problemAt(t, c.must(400, "POST", "/v1/campaigns/welcome/preview", map[string]any{"customer_id": "fine", "data": data}), "invalid_request", "data")
	})

	t.Run("push links", func(t *testing.T) {
		c := c.with(t)
		campaign := func(link string) string {
			return fmt.Sprintf(`{"id": "app", "start_at": "push", "steps": {
				"push": {"send": {"channel": "push", "template": {"title": "Back in stock", "link": %q}}, "next": "done"},
				"done": {"exit": {}}}}`, link)
		}
		for _, link := range []string{"javascript:alert(document.cookie)", "JAVASCRIPT:alert(1)", "data:text/html,<script>alert(1)</script>",
			"http://shop.example.com", "otherapp://x", "javascript:{{x}}", "/relative"} {
			problemAt(t, c.must(400, "POST", "/v1/campaigns", campaign(link)), "invalid_campaign", "steps.push.send.template.link")
		}
		for _, link := range []string{"https://shop.example.com/p/{{sku}}", "myapp://products/{{sku}}", "{{data.url}}"} {
			c.must(201, "POST", "/v1/campaigns", campaign(link))
		}
		// The last version takes its link from the enrolment: what it
		// renders to is checked before the message goes out.
		c.must(200, "POST", "/v1/customers", map[string]any{"id": "pusher", "push_token": "tok-1"})
		for url, ok := range map[string]bool{"javascript:alert(1)": false, "myapp://home": true} {
			out := c.must(200, "POST", "/v1/campaigns/app/preview", map[string]any{"customer_id": "pusher", "data": map[string]any{"url": url}})
			m := out["messages"].([]any)[0].(map[string]any)
			if refused := m["status"] == "failed" && strings.HasPrefix(m["reason"].(string), "unsafe_link: "); refused == ok {
				t.Errorf("%s: %v", url, m)
			}
		}
	})

	t.Run("launch over stored bad ids", func(t *testing.T) {
		c := c.with(t)
		// Stored before ids were checked: the launch finishes and says why
		// it skipped them, instead of retrying for ever.
		bad := []string{"bad\u0001id", "with space", "ünïcode"}
		patches := []store.CustomerPatch{{ID: "good"}}
		for _, id := range bad {
			patches = append(patches, store.CustomerPatch{ID: id})
		}
		if _, err := env.Store.UpsertCustomers(t.Context(), patches); err != nil {
			t.Fatal(err)
		}
		c.must(201, "POST", "/v1/campaigns", strings.ReplaceAll(welcome, `"welcome"`, `"legacy"`))
		c.must(202, "POST", "/v1/campaigns/legacy/launch", `{"audience": {"all": true}}`)
		var l map[string]any
		eventually(t, "the launch to finish", func() bool {
			l = c.must(200, "GET", "/v1/campaigns/legacy", nil)["launches"].([]any)[0].(map[string]any)
			return l["status"] == "finished"
		})
		if reasons := l["skipped_reasons"].(map[string]any); reasons["invalid_customer_id"] != float64(len(bad)) || l["enrolled"] == float64(0) {
			t.Fatalf("launch = %v", l)
		}
		// A journey row an earlier launch left for such a customer has no
		// workflow: a cancel goes past it and finishes.
		if _, _, _, _, err := env.Store.Enter(t.Context(), store.Entrance{CampaignID: "legacy",
			Version: 1, CustomerID: bad[0], StartAt: "email-1"}); err != nil {
			t.Fatal(err)
		}
		c.must(202, "POST", "/v1/campaigns/legacy/cancel", nil)
		eventually(t, "the cancel to finish", func() bool {
			return latestControl(c.must(200, "GET", "/v1/campaigns/legacy", nil))["status"] == "finished"
		})
	})

	t.Run("CSV cells", func(t *testing.T) {
		c := c.with(t)
		c.must(201, "POST", "/v1/campaigns", `{"id": "sheet", "start_at": "ab", "steps": {
			"ab": {"experiment": {"variants": [{"name": "=1+1", "weight": 1, "next": "done"}, {"name": "@SUM(A1)", "weight": 1, "next": "done"}]}},
			"done": {"exit": {"reason": "-2+3"}}}}`)
		ids := []string{`=HYPERLINK("https://evil.example.com","open")`, "+1", "-1", "@cmd"}
		for _, id := range ids {
			c.must(200, "POST", "/v1/customers", map[string]any{"id": id})
			c.must(201, "POST", "/v1/campaigns/sheet/enroll", map[string]any{"customer_id": id})
		}
		var rows [][]string
		eventually(t, "every journey to complete", func() bool {
			rows = csvRows(t, c, "/v1/campaigns/sheet/journeys.csv")
			done := 0
			for _, r := range rows[1:] {
				if r[4] == "completed" {
					done++
				}
			}
			return done == len(ids)
		})
		for _, r := range rows[1:] {
			for _, i := range []int{1, 3, 6} { // customer_id, variant, exit_reason
				if !strings.HasPrefix(r[i], "'") {
					t.Errorf("journeys.csv: cell %q is not escaped (%v)", r[i], r)
				}
			}
			if strings.HasPrefix(r[0], "'") {
				t.Errorf("journeys.csv: %q escaped", r[0])
			}
		}
		for _, r := range csvRows(t, c, "/v1/campaigns/sheet/stats.csv")[1:] {
			if r[0] != "" && !strings.HasPrefix(r[0], "'") {
				t.Errorf("stats.csv: variant %q is not escaped", r[0])
			}
		}
	})
}

// with is the client failing t, a subtest, instead of the test it was
// started for.
func (c *client) with(t *testing.T) *client { return &client{t: t, base: c.base, key: c.key} }

func csvRows(t *testing.T, c *client, path string) [][]string {
	t.Helper()
	url := c.base + path
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+c.key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	rows, err := csv.NewReader(strings.NewReader(string(data))).ReadAll()
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v: %s", url, res.StatusCode, err, data)
	}
	return rows
}
