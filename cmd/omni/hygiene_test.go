package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/omni-orchestrator/omni/config"
	"github.com/omni-orchestrator/omni/store"
	"github.com/omni-orchestrator/omni/store/storetest"
)

// Ids stored before the rules are not changed behind the operator's back;
// `omni migrate` says how many break them, with a few, quoted.
func TestMigrateReportsStoredIDsThatBreakTheRules(t *testing.T) {
	st, url := storetest.New(t)
	if _, err := st.UpsertCustomers(t.Context(), []store.CustomerPatch{{ID: "ok"}, {ID: "with space"}, {ID: "bell\a"}}); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&log, nil)))
	if err := migrate(t.Context(), config.Config{DatabaseURL: url}); err != nil {
		t.Fatal(err)
	}
	out := log.String()
	for _, want := range []string{`level=WARN`, `what="customer ids"`, `count=2`, `\"bell\\a\"`, `\"with space\"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "campaign ids") {
		t.Errorf("reported campaigns that keep the rules:\n%s", out)
	}
}

// A client that sends its request slowly, or never finishes it, is cut
// off: it cannot hold a connection (and a handler) for ever.
func TestHTTPServersCutOffSlowClients(t *testing.T) {
	cfg := config.Config{HTTPReadTimeout: 200 * time.Millisecond, HTTPWriteTimeout: time.Second, HTTPIdleTimeout: time.Second}
	srv := httpServer(cfg, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusRequestTimeout)
		}
	}))
	if srv.ReadHeaderTimeout != cfg.HTTPReadTimeout || srv.WriteTimeout != cfg.HTTPWriteTimeout || srv.IdleTimeout != cfg.HTTPIdleTimeout {
		t.Fatalf("timeouts: %+v", srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Shutdown(context.Background())

	for name, request := range map[string]string{
		"slow headers": "POST / HTTP/1.1\r\nHost: omni\r\n",
		"slow body":    "POST / HTTP/1.1\r\nHost: omni\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"id\":",
	} {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(conn, request); err != nil {
			t.Fatal(err)
		}
		// The client stalls; the server must close the connection. The
		// deadline is only there so that a server that never does fails
		// the test rather than hanging it.
		_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, err = io.Copy(io.Discard, conn)
		if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s: the server kept the connection open", name)
		}
		conn.Close()
	}
}
