package api

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/omni-orchestrator/omni/auth"
	"github.com/omni-orchestrator/omni/metrics"
	"github.com/omni-orchestrator/omni/store"
	"github.com/omni-orchestrator/omni/store/storetest"
)

// BenchmarkAuth measures what the key check costs: GET
// /v1/customers/{id} through the API as it is served, and through the
// same API with no middleware on its routes, on one database, in
// alternating rounds (so that drift hits both alike), with a few clients
// at once. It reports p50 and p99 latency of each and the ratio of their
// throughputs (auth/open; the goal is at least 0.95). Run it with
// -benchtime 1x (make bench does); it takes about 15 seconds.
func BenchmarkAuth(b *testing.B) {
	ctx := context.Background()
	st, _ := storetest.New(b)
	const customers = 100
	patches := make([]store.CustomerPatch, customers)
	for i := range patches {
		email := fmt.Sprintf("c%03d@example.com", i)
		patches[i] = store.CustomerPatch{ID: fmt.Sprintf("c%03d", i), Email: &email, Attributes: map[string]any{"first_name": "Ada"}}
	}
	if _, err := st.UpsertCustomers(ctx, patches); err != nil {
		b.Fatal(err)
	}
	_, key, err := auth.Create(ctx, st, "bench", auth.Scopes, nil)
	if err != nil {
		b.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	served := httptest.NewServer((&Server{Store: st, Logger: quiet}).Handler())
	defer served.Close()
	bare := &Server{Store: st, Logger: quiet, Metrics: metrics.New()}
	e := bare.echo()
	for _, r := range bare.routes() {
		e.Add(r.method, r.path, r.handle)
	}
	open := httptest.NewServer(e)
	defer open.Close()

	const clients, rounds, phase = 4, 3, 2 * time.Second
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	run := func(base string) ([]time.Duration, error) {
		var mu sync.Mutex
		var all []time.Duration
		var firstErr error
		var wg sync.WaitGroup
		deadline := time.Now().Add(phase)
		for w := range clients {
			wg.Go(func() {
				var mine []time.Duration
				for i := w; time.Now().Before(deadline); i += clients {
					req, _ := http.NewRequest("GET", fmt.Sprintf("%s/v1/customers/c%03d", base, i%customers), nil)
					req.Header.Set("Authorization", "Bearer "+key)
					start := time.Now()
					res, err := client.Do(req)
					if err == nil {
						_, _ = io.Copy(io.Discard, res.Body)
						res.Body.Close()
						if res.StatusCode != http.StatusOK {
							err = fmt.Errorf("%s: %s", req.URL, res.Status)
						}
					}
					if err != nil {
						mu.Lock()
						firstErr = err
						mu.Unlock()
						return
					}
					mine = append(mine, time.Since(start))
				}
				mu.Lock()
				all = append(all, mine...)
				mu.Unlock()
			})
		}
		wg.Wait()
		return all, firstErr
	}
	// A warm-up of each, then the rounds.
	latencies := map[string][]time.Duration{}
	for round := range rounds + 1 {
		order := []string{"open", "auth"}
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, name := range order {
			base := map[string]string{"open": open.URL, "auth": served.URL}[name]
			got, err := run(base)
			if err != nil {
				b.Fatal(err)
			}
			if round > 0 {
				latencies[name] = append(latencies[name], got...)
			}
		}
	}
	elapsed := float64(rounds) * phase.Seconds()
	for _, name := range []string{"open", "auth"} {
		l := latencies[name]
		slices.Sort(l)
		b.ReportMetric(float64(l[len(l)/2].Microseconds()), name+"-p50-µs")
		b.ReportMetric(float64(l[len(l)*99/100].Microseconds()), name+"-p99-µs")
		b.ReportMetric(float64(len(l))/elapsed, name+"-req/s")
	}
	b.ReportMetric(float64(len(latencies["auth"]))/float64(len(latencies["open"])), "auth/open-throughput")
}
