package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	temporal "go.temporal.io/sdk/client"

	"github.com/omni-orchestrator/omni/api"
	"github.com/omni-orchestrator/omni/store"
	"github.com/omni-orchestrator/omni/store/storetest"
)

// /readyz says which dependency is down, not how: its errors name hosts,
// ports, users and databases, and go to the log instead.
func TestReadinessDoesNotShowDependencyErrors(t *testing.T) {
	_, url := storetest.New(t)
	closed, err := store.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	tc, err := temporal.NewLazyClient(temporal.Options{HostPort: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	var log bytes.Buffer
	srv := httptest.NewServer((&api.Server{Store: closed, Temporal: tc, Logger: slog.New(slog.NewTextHandler(&log, nil))}).Handler())
	defer srv.Close()

	res, err := srv.Client().Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var out struct {
		Checks map[string]string `json:"checks"`
	}
	if err := json.Unmarshal(body, &out); err != nil || res.StatusCode != 503 {
		t.Fatalf("readyz: %d %s", res.StatusCode, body)
	}
	if out.Checks["postgres"] != "unavailable" || out.Checks["temporal"] != "unavailable" {
		t.Fatalf("readyz: %s", body)
	}
	if !strings.Contains(log.String(), "127.0.0.1:1") || !strings.Contains(log.String(), "dependency=postgres") {
		t.Fatalf("the log does not have the errors: %s", log.String())
	}
}
