package api_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/omni-orchestrator/omni/api"
	"github.com/omni-orchestrator/omni/channels/sendgrid"
	"github.com/omni-orchestrator/omni/channels/twilio"
)

// signSendGrid signs a body the way SendGrid's signed Event Webhook does:
// ECDSA P-256 over SHA-256 of the timestamp followed by the body, ASN.1 DER,
// base64.
func signSendGrid(t *testing.T, key *ecdsa.PrivateKey, body string) map[string]string {
	return signSendGridAt(t, key, body, time.Now())
}

// signSendGridAt signs as SendGrid would have at a time.
func signSendGridAt(t *testing.T, key *ecdsa.PrivateKey, body string, at time.Time) map[string]string {
	ts := fmt.Sprint(at.Unix())
	digest := sha256.Sum256([]byte(ts + body))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"X-Twilio-Email-Event-Webhook-Signature": base64.StdEncoding.EncodeToString(sig),
		"X-Twilio-Email-Event-Webhook-Timestamp": ts,
	}
}

// signTwilio signs a form post the way Twilio does: HMAC-SHA1 with the auth
// token over the full URL followed by each parameter name and value, sorted
// by name, base64.
func signTwilio(token, fullURL string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range keys {
		b.WriteString(k + form.Get(k))
	}
	mac := hmac.New(sha1.New, []byte(token))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// unverified takes the webhooks of providers without a key, as omni dev
// and OMNI_WEBHOOKS_UNVERIFIED=true do.
var unverified = api.Webhooks{SendGrid: sendgrid.Webhook{Unverified: true}, Twilio: twilio.Webhook{Unverified: true}}

const clickWait = `{"id": "news", "offer_id": "NEWS", "start_at": "mail", "rules": {"exit_on": ["unsubscribed"]}, "steps": {
  "mail": {"send": {"channel": "email", "template": {"subject": "News", "body": "News"}}, "next": "wait"},
  "wait": {"wait": {"for": ["clicked"], "timeout": "1h"}, "next": "done"},
  "done": {"exit": {}}}}`

func responseTypes(view map[string]any) map[string]int {
	out := map[string]int{}
	for _, r := range view["responses"].([]any) {
		out[r.(map[string]any)["type"].(string)]++
	}
	return out
}

func TestSendGridEventWebhook(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	public, err := sendgrid.ParseWebhookKey(base64.StdEncoding.EncodeToString(der))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := startWith(t, api.Webhooks{SendGrid: sendgrid.Webhook{Key: public}})
	c.must(200, "POST", "/v1/customers", `[{"id": "ada", "email": "ada@example.com"}, {"id": "bob", "email": "bob@example.com"}]`)
	c.must(201, "POST", "/v1/campaigns", clickWait)
	for _, id := range []string{"ada", "bob"} {
		c.must(201, "POST", "/v1/campaigns/news/enroll", `{"customer_id": "`+id+`"}`)
	}
	// An email once sent: bob's is found by its provider id.
	msgOf := func(id string) map[string]any {
		var ms []map[string]any
		eventually(t, id+"'s email sent", func() bool {
			ms = messages(c.must(200, "GET", "/v1/customers/"+id, nil))
			return len(ms) == 1 && ms[0]["provider_message_id"] != nil
		})
		return ms[0]
	}
	ada, bob := msgOf("ada"), msgOf("bob")
	post := func(body string, headers map[string]string) (int, map[string]any) {
		return c.doWith("POST", "/v1/webhooks/sendgrid", body, "application/json", headers)
	}
	ev := func(event, id, ours, sgMessage string) string {
		return fmt.Sprintf(`{"email": "x@example.com", "timestamp": %d, "event": %q, "sg_event_id": %q, "sg_message_id": %q, "omni_message_id": %q, "category": ["news"]}`,
			time.Now().Unix(), event, id, sgMessage, ours)
	}
	body := "[" + strings.Join([]string{
		ev("processed", "e0", ada["id"].(string), ""),
		ev("delivered", "e1", ada["id"].(string), ""),
		ev("open", "e2", ada["id"].(string), ""),
		ev("click", "e3", ada["id"].(string), ""),
		ev("deferred", "e4", ada["id"].(string), ""),
		// Correlated by SendGrid's message id instead of our custom argument.
		ev("bounce", "e5", "", bob["provider_message_id"].(string)+".filterdrecv-1.0"),
		ev("dropped", "e6", bob["id"].(string), ""),
		ev("spamreport", "e7", bob["id"].(string), ""),
		ev("unsubscribe", "e8", bob["id"].(string), ""),
		ev("group_unsubscribe", "e9", bob["id"].(string), ""),
		ev("open", "e10", "00000000-0000-0000-0000-000000000000", "unknown.1"),
	}, ",") + "]"

	// Forged or missing signatures store nothing.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	code, out := post(body, signSendGrid(t, other, body))
	problemAt(t, out, "invalid_signature", "-")
	if code != 401 {
		t.Fatalf("forged signature: %d", code)
	}
	if code, _ := post(body, nil); code != 401 {
		t.Fatalf("no signature: %d", code)
	}
	// A real signature over a timestamp out of the window (10 minutes
	// either way) is refused too: a captured request cannot be replayed.
	for _, at := range []time.Time{time.Now().Add(-11 * time.Minute), time.Now().AddDate(-1, 0, 0), time.Now().Add(11 * time.Minute)} {
		code, out := post(body, signSendGridAt(t, key, body, at))
		problemAt(t, out, "invalid_signature", "-")
		if code != 401 || !strings.Contains(out["error"].(map[string]any)["message"].(string), "SENDGRID_WEBHOOK_MAX_AGE") {
			t.Fatalf("signed at %v: %d %v", at, code, out)
		}
	}
	if n := len(c.must(200, "GET", "/v1/customers/ada", nil)["responses"].([]any)); n != 0 {
		t.Fatalf("a forged webhook stored %d responses", n)
	}

	code, out = post(body, signSendGrid(t, key, body))
	if code != 200 || out["accepted"] != float64(8) || out["ignored"] != float64(2) || out["orphans"] != float64(1) {
		t.Fatalf("first delivery: %d %v", code, out)
	}
	adaView := c.must(200, "GET", "/v1/customers/ada", nil)
	if got := responseTypes(adaView); got["delivered"] != 1 || got["opened"] != 1 || got["clicked"] != 1 || len(got) != 3 {
		t.Fatalf("ada's responses: %v", got)
	}
	eventually(t, "ada's click to end her wait", func() bool {
		return journey(c.must(200, "GET", "/v1/customers/ada", nil))["status"] == "completed"
	})
	var bobView map[string]any
	eventually(t, "bob's opt-out to end his journey", func() bool {
		bobView = c.must(200, "GET", "/v1/customers/bob", nil)
		return journey(bobView)["status"] == "exited"
	})
	if got := responseTypes(bobView); got["bounced"] != 1 || got["failed"] != 1 || got["unsubscribed"] != 3 {
		t.Fatalf("bob's responses: %v", got)
	}
	if bobView["customer"].(map[string]any)["consent"].(map[string]any)["email"] != false {
		t.Fatal("a spam report left bob's email consent on")
	}

	// SendGrid retries: every event is a duplicate now.
	code, out = post(body, signSendGrid(t, key, body))
	if code != 200 || out["duplicates"] != float64(8) || out["accepted"] != float64(0) {
		t.Fatalf("redelivery: %d %v", code, out)
	}

	for _, bad := range []string{`{"event": "open"}`, `[{"event": "open"}]`, `[{"sg_event_id": "x"}]`, `not json`} {
		code, out := post(bad, signSendGrid(t, key, bad))
		if code != 400 {
			t.Fatalf("%s: %d %v", bad, code, out)
		}
	}
}

func TestTwilioWebhooks(t *testing.T) {
	const token = "twilio-auth-token"
	c, _ := startWith(t, api.Webhooks{Twilio: twilio.Webhook{AuthToken: token}})
	c.must(200, "POST", "/v1/customers", `{"id": "ada", "phone": "+4915100000001"}`)
	c.must(201, "POST", "/v1/campaigns", `{"id": "sms", "start_at": "text", "rules": {"exit_on": ["unsubscribed"]}, "steps": {
		"text": {"send": {"channel": "sms", "template": {"body": "Hi"}}, "next": "wait"},
		"wait": {"wait": {"for": ["clicked"], "timeout": "1h"}, "next": "done"},
		"done": {"exit": {}}}}`)
	c.must(201, "POST", "/v1/campaigns/sms/enroll", `{"customer_id": "ada"}`)
	var msg map[string]any
	eventually(t, "ada's sms", func() bool {
		ms := messages(c.must(200, "GET", "/v1/customers/ada", nil))
		if len(ms) == 1 {
			msg = ms[0]
		}
		return msg != nil
	})
	post := func(path string, form url.Values, sign bool) (int, map[string]any) {
		headers := map[string]string{}
		if sign {
			headers["X-Twilio-Signature"] = signTwilio(token, c.base+path, form)
		}
		return c.doWith("POST", path, form.Encode(), "application/x-www-form-urlencoded", headers)
	}
	status := func(sid, st, code string) url.Values {
		f := url.Values{"MessageSid": {sid}, "MessageStatus": {st}, "SmsStatus": {st}, "AccountSid": {"AC123"},
			"From": {"+15005550006"}, "To": {"+4915100000001"}, "ApiVersion": {"2010-04-01"}}
		if code != "" {
			f.Set("ErrorCode", code)
		}
		return f
	}
	path := "/v1/webhooks/twilio/status?message_id=" + msg["id"].(string)

	if code, out := post(path, status("SM1", "delivered", ""), false); code != 401 {
		t.Fatalf("unsigned: %d %v", code, out)
	}
	forged := status("SM1", "delivered", "")
	headers := map[string]string{"X-Twilio-Signature": signTwilio("wrong-token", c.base+path, forged)}
	if code, _ := c.doWith("POST", path, forged.Encode(), "application/x-www-form-urlencoded", headers); code != 401 {
		t.Fatalf("forged: %d", code)
	}
	for _, tc := range []struct {
		form                        url.Values
		accepted, ignored, orphaned float64
	}{
		{status("SM1", "queued", ""), 0, 1, 0},
		{status("SM1", "sent", ""), 0, 1, 0},
		{status("SM1", "delivered", ""), 1, 0, 0},
		{status("SM1", "delivered", ""), 0, 0, 0}, // a retry: a duplicate
		{status("SM1", "failed", "30003"), 1, 0, 0},
	} {
		code, out := post(path, tc.form, true)
		if code != 200 || out["accepted"] != tc.accepted || out["ignored"] != tc.ignored || out["orphans"] != tc.orphaned {
			t.Fatalf("%v: %d %v", tc.form, code, out)
		}
	}
	if code, out := post("/v1/webhooks/twilio/status", status("SM-unknown", "delivered", ""), true); code != 200 || out["orphans"] != float64(1) {
		t.Fatalf("unknown message: %d %v", code, out)
	}
	if code, _ := post("/v1/webhooks/twilio/status", url.Values{"MessageSid": {"SM9"}}, true); code != 400 {
		t.Fatalf("malformed status: %d", code)
	}
	if got := responseTypes(c.must(200, "GET", "/v1/customers/ada", nil)); got["delivered"] != 1 || got["failed"] != 1 {
		t.Fatalf("responses: %v", got)
	}

	consent := func() any {
		return c.must(200, "GET", "/v1/customers/ada", nil)["customer"].(map[string]any)["consent"].(map[string]any)["sms"]
	}
	inbound := func(sid, from, body string) {
		code, _ := post("/v1/webhooks/twilio/inbound", url.Values{"MessageSid": {sid}, "From": {from}, "To": {"+15005550006"}, "Body": {body}, "AccountSid": {"AC123"}}, true)
		if code != 200 {
			t.Fatalf("inbound %q: %d", body, code)
		}
	}
	inbound("SMa", "+4915100000001", " stop ")
	if consent() != false {
		t.Fatal("STOP left SMS consent on")
	}
	eventually(t, "STOP to end the journey (exit_on unsubscribed)", func() bool {
		return journey(c.must(200, "GET", "/v1/customers/ada", nil))["status"] == "exited"
	})
	inbound("SMb", "+4915100000001", "START")
	if consent() != true {
		t.Fatal("START left SMS consent off")
	}
	inbound("SMc", "+4915100000001", "what is this?")
	inbound("SMd", "+4915100000099", "STOP") // an unknown number: kept as an orphan
	if consent() != true {
		t.Fatal("a message from another number changed ada's consent")
	}
	// Error 21610: the recipient had opted out with the carrier; consent goes off.
	if code, out := post(path, status("SM1", "undelivered", "21610"), true); code != 200 || out["accepted"] != float64(1) {
		t.Fatalf("21610: %d %v", code, out)
	}
	if consent() != false {
		t.Fatal("error 21610 left SMS consent on")
	}
}

// Outside omni dev, a provider's webhook is verified or refused: without
// its key, a forged START, STOP or click changes nothing, and the answer
// names the variable to set.
func TestWebhooksOfProvidersWithoutAKeyAreRefused(t *testing.T) {
	c, _ := start(t)
	c.must(200, "POST", "/v1/customers", `[{"id": "ada", "email": "ada@example.com", "phone": "+4915100000001", "consent": {"sms": false}},
		{"id": "bob", "phone": "+4915100000002"}]`)
	c.must(201, "POST", "/v1/campaigns", clickWait)
	c.must(201, "POST", "/v1/campaigns/news/enroll", `{"customer_id": "ada"}`)
	var email map[string]any
	eventually(t, "ada's email", func() bool {
		ms := messages(c.must(200, "GET", "/v1/customers/ada", nil))
		if len(ms) == 1 {
			email = ms[0]
		}
		return email != nil
	})

	refused := func(what, path, body, contentType, variable string) {
		t.Helper()
		code, out := c.doWith("POST", path, body, contentType, nil)
		problemAt(t, out, "webhook_not_verifiable", "-")
		if code != 401 || !strings.Contains(out["error"].(map[string]any)["message"].(string), variable) {
			t.Fatalf("%s: %d %v, want 401 naming %s", what, code, out, variable)
		}
	}
	form := "application/x-www-form-urlencoded"
	refused("START", "/v1/webhooks/twilio/inbound", url.Values{"MessageSid": {"SM1"}, "From": {"+4915100000001"}, "Body": {"START"}}.Encode(), form, "TWILIO_AUTH_TOKEN")
	refused("STOP", "/v1/webhooks/twilio/inbound", url.Values{"MessageSid": {"SM2"}, "From": {"+4915100000002"}, "Body": {"STOP"}}.Encode(), form, "TWILIO_AUTH_TOKEN")
	refused("status", "/v1/webhooks/twilio/status", url.Values{"MessageSid": {"SM3"}, "MessageStatus": {"delivered"}}.Encode(), form, "TWILIO_AUTH_TOKEN")
	click := fmt.Sprintf(`[{"event": "click", "sg_event_id": "sg-1", "omni_message_id": %q, "timestamp": %d}]`, email["id"], time.Now().Unix())
	refused("click", "/v1/webhooks/sendgrid", click, "application/json", "SENDGRID_WEBHOOK_PUBLIC_KEY")

	ada, bob := c.must(200, "GET", "/v1/customers/ada", nil), c.must(200, "GET", "/v1/customers/bob", nil)
	if ada["customer"].(map[string]any)["consent"].(map[string]any)["sms"] != false || bob["customer"].(map[string]any)["consent"].(map[string]any)["sms"] != true {
		t.Fatalf("a forged START or STOP changed consent: ada %v, bob %v", ada["customer"], bob["customer"])
	}
	if len(ada["responses"].([]any)) != 0 || journey(ada)["current_step"] != "wait" {
		t.Fatalf("a forged click reached ada: %v, journey %v", ada["responses"], journey(ada))
	}
}
