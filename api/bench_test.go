package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omni-orchestrator/omni/api"
	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/internal/testenv"
	"github.com/omni-orchestrator/omni/store"
	"github.com/omni-orchestrator/omni/workflows"
)

// BenchmarkResponseLatency measures how long a journey takes to act on a
// response: from posting it to /v1/responses to the journey, waiting for a
// click, completing. BENCH_RESPONSES responses (default 1000) are posted at
// BENCH_RATE per second (default 20; on a 2-core machine the Temporal dev
// server completes about 30-40 journeys a second, and a faster rate
// measures its queue). Run it with -benchtime 1x.
func BenchmarkResponseLatency(b *testing.B) {
	n := envInt("BENCH_RESPONSES", 1000)
	rate := envInt("BENCH_RATE", 20)
	env := testenv.Start(b)
	srv := httptest.NewServer((&api.Server{Store: env.Store, Temporal: env.Temporal, Enroller: env.Enroller,
		Responses: env.Responses, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}).Handler())
	b.Cleanup(srv.Close)
	ctx := context.Background()

	for i := range b.N {
		id := fmt.Sprintf("latency-%d", i)
		c := seedWaitingJourneys(b, env, id, n)
		latencies := make([]time.Duration, n)
		var wg sync.WaitGroup
		tick := time.NewTicker(time.Second / time.Duration(rate))
		for j := range n {
			<-tick.C
			wg.Go(func() {
				customer := fmt.Sprintf("c%05d", j)
				body := fmt.Sprintf(`{"event_id": "%s-%d", "customer_id": %q, "campaign_id": %q, "channel": "email", "type": "clicked"}`, id, j, customer, c.ID)
				posted := time.Now()
				res, err := http.Post(srv.URL+"/v1/responses", "application/json", strings.NewReader(body))
				if err != nil || res.StatusCode != http.StatusCreated {
					b.Errorf("post: %v %v", err, res.Status)
					return
				}
				res.Body.Close()
				if err := env.Temporal.GetWorkflow(ctx, workflows.JourneyID(c.ID, customer), "").Get(ctx, nil); err != nil {
					b.Error(err)
				}
				latencies[j] = time.Since(posted)
			})
		}
		tick.Stop()
		wg.Wait()
		slices.Sort(latencies)
		b.ReportMetric(float64(latencies[n/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(latencies[n*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(latencies[n-1].Microseconds())/1000, "max-ms")
		b.Logf("%d responses at %d/s: p50 %v, p99 %v, max %v", n, rate, latencies[n/2], latencies[n*99/100], latencies[n-1])
	}
}

// seedWaitingJourneys enrolls n customers in a campaign that emails them
// and waits for a click, and returns once every journey waits.
func seedWaitingJourneys(b *testing.B, env *testenv.Env, id string, n int) store.Campaign {
	b.Helper()
	ctx := context.Background()
	def := fmt.Sprintf(`{"id": %q, "start_at": "mail", "steps": {
		"mail": {"send": {"channel": "email", "template": {"subject": "Hi", "body": "Hi"}}, "next": "wait"},
		"wait": {"wait": {"for": ["clicked"], "timeout": "1h"}, "next": "done"},
		"done": {"exit": {}}}}`, id)
	parsed, ps := campaign.Parse([]byte(def))
	if len(ps) > 0 {
		b.Fatal(ps)
	}
	c, err := env.Store.CreateCampaign(ctx, parsed)
	if err != nil {
		b.Fatal(err)
	}
	patches := make([]store.CustomerPatch, n)
	email := "bench@example.com"
	for j := range patches {
		patches[j] = store.CustomerPatch{ID: fmt.Sprintf("c%05d", j), Email: &email}
	}
	if _, err := env.Store.UpsertCustomers(ctx, patches); err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, p := range patches {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if _, err := env.Enroller.Enroll(ctx, c, store.CustomerRef{ID: p.ID}, nil); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		counts, err := env.Store.JourneySteps(ctx, c.ID)
		if err != nil {
			b.Fatal(err)
		}
		if counts["wait"] == n {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("journeys never all waited: %v", counts)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return c
}

func envInt(key string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(key)); err == nil && n > 0 {
		return n
	}
	return def
}
