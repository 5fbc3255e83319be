// Package testenv starts the real parts integration tests run against: a
// Temporal dev server (from the CLI that `make test` installs) and an omni
// worker on a fresh PostgreSQL database.
package testenv

import (
	"context"
	"io"
	"log/slog"
	"maps"
	neturl "net/url"
	"os"
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/omni-orchestrator/omni/channels"
	"github.com/omni-orchestrator/omni/channels/sandbox"
	"github.com/omni-orchestrator/omni/codec"
	"github.com/omni-orchestrator/omni/enroll"
	"github.com/omni-orchestrator/omni/responses"
	"github.com/omni-orchestrator/omni/store"
	"github.com/omni-orchestrator/omni/store/storetest"
	"github.com/omni-orchestrator/omni/worker"
)

// TaskQueue is the task queue test workers poll.
const TaskQueue = "omni-test"

// PayloadKeys is the key (in OMNI_PAYLOAD_KEYS's format) that every test
// env's Temporal client encrypts payloads with, as omni's always do: the
// end-to-end tests run the codec, and the journey histories tests record
// into workflows/testdata decrypt with it. It protects nothing.
const PayloadKeys = "test:mXB+MvBz6b6JOkw+9rV4Xetg2mCEnhQNgJF9HyZ4SaI="

// Codec is the codec of PayloadKeys.
func Codec(t testing.TB) *codec.Codec {
	c, err := codec.New(PayloadKeys)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TemporalCLI is the Temporal CLI the tests start dev servers from:
// OMNI_TEMPORAL_CLI, as `make test` sets it, or the Makefile's default path.
func TemporalCLI(t testing.TB) string {
	path := os.Getenv("OMNI_TEMPORAL_CLI")
	if path == "" {
		home, _ := os.UserHomeDir()
		path = filepath.Join(home, ".cache", "omni", "bin", "temporal-v1.5.1", "temporal")
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no Temporal CLI at %s: run the tests with `make test`, which installs it", path)
	}
	return path
}

// Temporal starts an in-memory Temporal dev server for this test, with
// omni's search attributes registered the way the worker registers them,
// and returns a client that encrypts payloads with Codec.
func Temporal(t testing.TB) client.Client {
	t.Helper()
	return DevServer(t).Client()
}

// DevServer is Temporal, for tests that need the server's address too
// (its Client encrypts with Codec).
func DevServer(t testing.TB) *testsuite.DevServer {
	t.Helper()
	ctx := context.Background()
	out := io.Discard
	if testing.Verbose() {
		out = os.Stderr
	}
	co := &client.Options{Logger: log.NewStructuredLogger(slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelWarn})))}
	Codec(t).Apply(co)
	srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath:  TemporalCLI(t),
		ClientOptions: co,
		LogLevel:      "error",
		Stdout:        out,
		Stderr:        out,
	})
	if err != nil {
		t.Fatalf("start Temporal dev server: %v", err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	if err := worker.EnsureSearchAttributes(ctx, srv.Client(), "default"); err != nil {
		t.Fatal(err)
	}
	return srv
}

// Env is a running omni backend: a store on a fresh database, a Temporal
// dev server and a worker with sandbox channels.
type Env struct {
	Store *store.Store
	// DatabaseURL is the store's database, for tests that read its tables.
	DatabaseURL string
	Temporal    client.Client
	Enroller    *enroll.Enroller
	Responses   *responses.Recorder
	Senders     map[string]channels.Sender
	// StopWorkers stops the env's workers, as a worker that died leaves the
	// journeys, and returns a function that starts new ones.
	StopWorkers func() (restart func())
	// Database is the proxy between the env and PostgreSQL, with
	// Options.DatabaseProxy.
	Database *Proxy
}

// Start brings up an Env with sandbox channels for the test and stops it
// when the test ends.
func Start(t testing.TB) *Env {
	t.Helper()
	return StartWith(t, Options{})
}

// Options change what StartWith brings up.
type Options struct {
	// Senders replace the sandbox for their channels.
	Senders map[string]channels.Sender
	// Rates cap each channel's sends per second (none when absent).
	Rates map[string]float64
	// DatabaseProxy puts a proxy (Env.Database) between the env and
	// PostgreSQL, for tests that cut the database away.
	DatabaseProxy bool
}

// StartWith brings up an Env with opts.
func StartWith(t testing.TB, opts Options) *Env {
	t.Helper()
	st, dbURL := storetest.New(t)
	var db *Proxy
	if opts.DatabaseProxy {
		st, db = proxied(t, dbURL)
	}
	tc := Temporal(t)
	e := &Env{
		Database:    db,
		Store:       st,
		DatabaseURL: dbURL,
		Temporal:    tc,
		Enroller:    &enroll.Enroller{Store: st, Temporal: tc, TaskQueue: TaskQueue, DefaultTimezone: "UTC"},
		Senders:     sandbox.All(slog.New(slog.NewTextHandler(io.Discard, nil))),
	}
	e.Responses = &responses.Recorder{Store: st, Temporal: tc, Enroller: e.Enroller}
	maps.Copy(e.Senders, opts.Senders)
	deps := worker.Deps{Store: st, Temporal: tc, Senders: e.Senders, Enroller: e.Enroller}
	wo := worker.Options{TaskQueue: TaskQueue, Rates: opts.Rates, SendConcurrency: 50, PageSize: 2, Concurrency: 4}
	start := func() worker.Workers {
		ws := worker.New(deps, wo)
		if err := ws.Start(); err != nil {
			t.Fatal(err)
		}
		return ws
	}
	running := start()
	t.Cleanup(func() { running.Stop() })
	e.StopWorkers = func() func() {
		running.Stop()
		running = nil
		return func() { running = start() }
	}
	return e
}

// proxied opens a store on the database at url through a proxy of its own.
func proxied(t testing.TB, url string) (*store.Store, *Proxy) {
	t.Helper()
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	p := NewProxy(t, u.Host)
	u.Host = p.Addr()
	st, err := store.Open(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st, p
}
