package metrics_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/omni-orchestrator/omni/internal/testenv"
	"github.com/omni-orchestrator/omni/metrics"
)

func Greet(ctx workflow.Context) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	return workflow.ExecuteActivity(ctx, Hello).Get(ctx, nil)
}

func Hello(context.Context) error { return nil }

// A worker's Temporal metrics reach /metrics in Prometheus's names.
func TestTemporalWorkerMetricsAreServed(t *testing.T) {
	m := metrics.New()
	handler, closer := m.Temporal(slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer closer.Close()
	srv := testenv.DevServer(t)
	c, err := client.Dial(client.Options{HostPort: srv.FrontendHostPort(), MetricsHandler: handler})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w := worker.New(c, "metrics-test", worker.Options{})
	w.RegisterWorkflow(Greet)
	w.RegisterActivity(Hello)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	run, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{TaskQueue: "metrics-test"}, Greet)
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Get(context.Background(), nil); err != nil {
		t.Fatal(err)
	}

	want := []string{
		`temporal_workflow_completed_total{`,
		`temporal_activity_execution_latency_seconds_bucket{`,
		`activity_type="Hello"`,
		`task_queue="metrics-test"`,
		`go_goroutines `,
	}
	var body string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		body = rec.Body.String()
		missing := false
		for _, w := range want {
			missing = missing || !strings.Contains(body, w)
		}
		if !missing {
			return
		}
	}
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("/metrics lacks %s", w)
		}
	}

}
