package api_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// Requests are counted by route pattern and the status actually answered,
// errors included, and never by customer id.
func TestMetricsCountRequestsByRoute(t *testing.T) {
	c, _ := start(t)
	c.must(200, "GET", "/healthz", nil)
	c.must(404, "GET", "/v1/customers/ada", nil)
	c.must(404, "GET", "/v1/customers/bob", nil)
	c.must(404, "GET", "/nowhere", nil)
	problemAt(t, c.must(400, "POST", "/v1/campaigns", `{"id": ""}`), "invalid_campaign", "id")

	res, err := http.Get(c.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	body := string(data)
	for _, want := range []string{
		`omni_http_request_duration_seconds_count{method="GET",route="/healthz",status="200"} 1`,
		`omni_http_request_duration_seconds_count{method="GET",route="/v1/customers/:id",status="404"} 2`,
		`omni_http_request_duration_seconds_count{method="GET",route="unmatched",status="404"} 1`,
		`omni_http_request_duration_seconds_count{method="POST",route="/v1/campaigns",status="400"} 1`,
		`go_goroutines `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, "/ada") || strings.Contains(body, "\"ada\"") {
		t.Error("/metrics names a customer")
	}
}
