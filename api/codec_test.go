package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/omni-orchestrator/omni/api"
	"github.com/omni-orchestrator/omni/auth"
	"github.com/omni-orchestrator/omni/codec"
	"github.com/omni-orchestrator/omni/internal/testenv"
	journeys "github.com/omni-orchestrator/omni/journey"
)

const temporalUI = "http://localhost:8233"

// privateCampaign puts a customer's attributes (a branch reads them),
// enrolment data, a coupon and rendered content into its journey.
const privateCampaign = `{"id": "private", "offer_id": "VIP-1", "start_at": "tier", "steps": {
	"tier": {"branch": [{"when": {"attribute": "tier", "equals": "platinum"}, "next": "code"}], "else": "code"},
	"code": {"coupon": {"prefix": "VIP-", "length": 8}, "next": "mail"},
	"mail": {"send": {"channel": "email", "template": {"subject": "For {{first_name}} {{last_name}}", "body": "<p>{{coupon}}: order {{data.order_ref}}, card {{loyalty_id}}</p>"}}, "next": "text"},
	"text": {"send": {"channels": ["push", "sms"], "template": {"body": "{{first_name}}, your code {{coupon}}"}}, "next": "done"},
	"done": {"exit": {}}}}`

// A journey on the real dev server leaves none of the customer's data in
// its history in clear: only the pseudonymous id, in the workflow id and
// search attributes. The codec endpoint decodes it for a caller with the
// key and for nobody else.
func TestJourneyHistoryHoldsNoPersonalDataInClear(t *testing.T) {
	c, env := start(t)
	c.must(200, "POST", "/v1/customers", `{"id": "c-8f3a", "email": "augusta@example.com", "phone": "+4915112345678",
		"attributes": {"first_name": "Augusta", "last_name": "Lovelace-King", "loyalty_id": "LY-7731-ZQ", "tier": "platinum"}}`)
	c.must(201, "POST", "/v1/campaigns", privateCampaign)
	c.must(201, "POST", "/v1/campaigns/private/enroll", `{"customer_id": "c-8f3a", "data": {"order_ref": "ORD-55913"}}`)
	var view map[string]any
	eventually(t, "the journey to complete", func() bool {
		view = c.must(200, "GET", "/v1/customers/c-8f3a", nil)
		return journey(view)["status"] == "completed"
	})
	coupon := view["coupons"].([]any)[0].(map[string]any)["code"].(string)
	personal := []string{"augusta@example.com", "+4915112345678", "Augusta", "Lovelace-King", "LY-7731-ZQ", "platinum", "ORD-55913", coupon}
	if ms := messages(view); len(ms) != 2 || ms[0]["subject"] != "For Augusta Lovelace-King" && ms[1]["subject"] != "For Augusta Lovelace-King" {
		t.Fatalf("messages %v", ms)
	}

	var raw []byte
	var payloads []*commonpb.Payload
	it := env.Temporal.GetWorkflowHistory(context.Background(), journeys.ID("private", "c-8f3a"), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		b, err := proto.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		raw = append(raw, b...)
		payloads = append(payloads, payloadsIn(ev.ProtoReflect())...)
	}
	for _, s := range personal {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("%q in clear in the history", s)
		}
	}
	if !bytes.Contains(raw, []byte("c-8f3a")) {
		t.Error("the customer id is not in the history (workflow id, search attributes)")
	}

	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: payloads})
	if err != nil {
		t.Fatal(err)
	}
	headers := map[string]string{"Authorization": "Bearer " + c.key, "X-Namespace": "default"}
	decoded := codecCall(t, c.base+"/codec/decode", body, headers, http.StatusOK)
	var plain commonpb.Payloads
	if err := protojson.Unmarshal(decoded, &plain); err != nil || len(plain.Payloads) != len(payloads) {
		t.Fatalf("decoded %d of %d payloads: %v", len(plain.Payloads), len(payloads), err)
	}
	var clear []byte
	for _, p := range plain.Payloads {
		if string(p.Metadata[converter.MetadataEncoding]) == codec.Encoding {
			t.Fatalf("a payload still encrypted: %v", p)
		}
		clear = append(clear, p.Data...)
	}
	for _, s := range []string{"Augusta", "Lovelace-King", "LY-7731-ZQ", "platinum", "ORD-55913", coupon} {
		if !bytes.Contains(clear, []byte(s)) {
			t.Errorf("%q not in the decoded payloads", s)
		}
	}

	for name, h := range map[string]map[string]string{
		"no key":    {"X-Namespace": "default"},
		"wrong key": {"Authorization": "Bearer guessed", "X-Namespace": "default"},
	} {
		out := codecCall(t, c.base+"/codec/decode", body, h, http.StatusUnauthorized)
		if bytes.Contains(out, []byte("Augusta")) || !bytes.Contains(out, []byte(`"code":"unauthorized"`)) {
			t.Errorf("%s: %s", name, out)
		}
		codecCall(t, c.base+"/codec/encode", body, h, http.StatusUnauthorized)
	}
	// A key that may run campaigns but not read customers decodes nothing.
	marketer := map[string]string{"Authorization": "Bearer " + newKey(t, env, auth.CampaignsWrite, auth.CampaignsRead), "X-Namespace": "default"}
	if out := codecCall(t, c.base+"/codec/decode", body, marketer, http.StatusForbidden); bytes.Contains(out, []byte("Augusta")) {
		t.Errorf("a key without customers:read: %s", out)
	}
}

// payloadsIn collects every payload in m: inputs, results, markers,
// summaries, failures' encoded attributes.
func payloadsIn(m protoreflect.Message) []*commonpb.Payload {
	if p, ok := m.Interface().(*commonpb.Payload); ok {
		return []*commonpb.Payload{p}
	}
	var out []*commonpb.Payload
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				out = append(out, payloadsIn(mv.Message())...)
				return true
			})
		case fd.IsList() && fd.Message() != nil:
			for i := range v.List().Len() {
				out = append(out, payloadsIn(v.List().Get(i).Message())...)
			}
		case !fd.IsMap() && !fd.IsList() && fd.Message() != nil:
			out = append(out, payloadsIn(v.Message())...)
		}
		return true
	})
	return out
}

func codecCall(t *testing.T, url string, body []byte, headers map[string]string, want int) []byte {
	t.Helper()
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("POST %s: %d, want %d: %s", url, res.StatusCode, want, out)
	}
	return out
}

// The Temporal UI calls the codec endpoint from the browser: its origin
// may, with the headers it sends; other origins may not.
func TestCodecEndpointAllowsTheTemporalUIOrigin(t *testing.T) {
	srv := httptest.NewServer((&api.Server{Codec: testenv.Codec(t), TemporalUI: temporalUI + "/",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}).Handler())
	defer srv.Close()
	preflight := func(origin string) http.Header {
		req, _ := http.NewRequest("OPTIONS", srv.URL+"/codec/decode", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type,x-namespace")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNoContent {
			t.Fatalf("preflight from %s: %d", origin, res.StatusCode)
		}
		return res.Header
	}
	h := preflight(temporalUI)
	allowed := strings.ToLower(h.Get("Access-Control-Allow-Headers"))
	if h.Get("Access-Control-Allow-Origin") != temporalUI || !strings.Contains(allowed, "authorization") ||
		!strings.Contains(allowed, "x-namespace") || !strings.Contains(allowed, "content-type") {
		t.Fatalf("preflight from the UI: %v", h)
	}
	if h := preflight("https://evil.example"); h.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from another origin: %v", h)
	}
	// Other routes answer no origin.
	req, _ := http.NewRequest("GET", srv.URL+"/healthz", nil)
	req.Header.Set("Origin", temporalUI)
	if res, err := http.DefaultClient.Do(req); err != nil || res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("CORS on /healthz: %v, %v", res, err)
	}
}

// Encoding through the endpoint encrypts; what does not parse gets the
// API's error shape.
func TestCodecEndpointEncodesAndRefusesBadBodies(t *testing.T) {
	c, _ := start(t)
	srv := struct{ URL string }{c.base}
	auth := map[string]string{"Authorization": "Bearer " + c.key}
	plain, err := converter.GetDefaultDataConverter().ToPayload("Augusta")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{plain}})
	var enc commonpb.Payloads
	if err := protojson.Unmarshal(codecCall(t, srv.URL+"/codec/encode", body, auth, http.StatusOK), &enc); err != nil {
		t.Fatal(err)
	}
	if p := enc.Payloads[0]; string(p.Metadata[converter.MetadataEncoding]) != codec.Encoding || bytes.Contains(p.Data, []byte("Augusta")) {
		t.Fatalf("encoded %v", p)
	}
	out := codecCall(t, srv.URL+"/codec/decode", []byte(`{"payloads": "nope"}`), auth, http.StatusBadRequest)
	if !bytes.Contains(out, []byte(`{"error":{"code":"invalid_request","message":"proto:`)) {
		t.Fatalf("bad body: %s", out)
	}
	alien := `{"payloads": [{"metadata": {"encoding": "` + b64(codec.Encoding) + `", "encryption-key-id": "` + b64("gone") + `"}, "data": "AAAA"}]}`
	if out := codecCall(t, srv.URL+"/codec/decode", []byte(alien), auth, http.StatusBadRequest); !bytes.Contains(out, []byte(`key \"gone\"`)) {
		t.Fatalf("unknown key: %s", out)
	}
}

// `omni dev` serves the codec to the dev server's UI without a key, with
// the same CORS.
func TestDevCodecHandlerNeedsNoKey(t *testing.T) {
	c := testenv.Codec(t)
	srv := httptest.NewServer(api.CodecHandler(c, temporalUI, slog.New(slog.NewTextHandler(io.Discard, nil))))
	defer srv.Close()
	enc, err := c.DataConverter().ToPayload("Augusta")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{enc}})
	var dec commonpb.Payloads
	if err := protojson.Unmarshal(codecCall(t, srv.URL+"/codec/decode", body, map[string]string{"Origin": temporalUI}, http.StatusOK), &dec); err != nil {
		t.Fatal(err)
	}
	if string(dec.Payloads[0].Data) != `"Augusta"` {
		t.Fatalf("decoded %v", dec.Payloads)
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
