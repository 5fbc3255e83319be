package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/channels/sendgrid/sendgridtest"
	"github.com/omni-orchestrator/omni/enroll"
	"github.com/omni-orchestrator/omni/internal/testenv"
	"github.com/omni-orchestrator/omni/journey"
	"github.com/omni-orchestrator/omni/store"
	"github.com/omni-orchestrator/omni/store/storetest"
)

// proc is an omni process a test runs; it is killed when the test ends.
type proc struct {
	cmd    *exec.Cmd
	exited chan error
}

func startProc(t *testing.T, bin string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = t.Output(), t.Output()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, exited: make(chan error, 1)}
	go func() { p.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.exited
	})
	return p
}

// wait returns how the process exited, or fails the test if it runs on
// for longer than within.
func (p *proc) wait(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case err := <-p.exited:
		p.exited <- err // for the cleanup
		return err
	case <-time.After(within):
		t.Fatalf("%s still runs after %v", p.cmd.Args[1], within)
		return nil
	}
}

func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "omni")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// SIGTERM drains: the worker stops taking work and lets the sends it has in
// flight finish and be recorded, so that nothing is retried and nothing is
// sent twice when another worker carries on.
func TestSIGTERMLetsInFlightSendsFinish(t *testing.T) {
	bin := build(t)
	st, dbURL := storetest.New(t)
	temporal := testenv.DevServer(t)
	tc := temporal.Client()
	sg := sendgridtest.New(t)
	sg.Answer(2 * time.Second)
	const taskQueue = "omni-drain"
	start := func() *proc {
		return startProc(t, bin, []string{"OMNI_METRICS_ADDR=127.0.0.1:0", "DATABASE_URL=" + dbURL, "TEMPORAL_ADDRESS=" + temporal.FrontendHostPort(), "OMNI_PAYLOAD_KEYS=" + testenv.PayloadKeys,
			"OMNI_TASK_QUEUE=" + taskQueue, "SENDGRID_API_KEY=" + sg.APIKey, "SENDGRID_API_URL=" + sg.URL,
			"SENDGRID_FROM=Shop <news@shop.example>", "LOG_LEVEL=warn", "OMNI_SHUTDOWN_TIMEOUT=20s"}, "worker")
	}
	ctx := context.Background()
	const n = 5
	var patches []store.CustomerPatch
	for i := range n {
		email := fmt.Sprintf("c%d@example.com", i)
		patches = append(patches, store.CustomerPatch{ID: fmt.Sprintf("c%d", i), Email: &email})
	}
	if _, err := st.UpsertCustomers(ctx, patches); err != nil {
		t.Fatal(err)
	}
	def, ps := campaign.Parse([]byte(`{"id": "drain", "start_at": "mail", "steps": {
		"mail": {"send": {"channel": "email", "template": {"subject": "Hi", "body": "Hi"}}, "next": "done"},
		"done": {"exit": {}}}}`))
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	c, err := st.CreateCampaign(ctx, def)
	if err != nil {
		t.Fatal(err)
	}
	first := start()
	enroller := &enroll.Enroller{Store: st, Temporal: tc, TaskQueue: taskQueue, DefaultTimezone: "UTC"}
	for _, p := range patches {
		if _, err := enroller.Enroll(ctx, c, store.CustomerRef{ID: p.ID}, nil); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every send to be at SendGrid", func() bool { return sg.Requests() == n })
	if err := first.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := first.wait(t, time.Minute); err != nil {
		t.Fatalf("the worker did not exit cleanly on SIGTERM: %v", err)
	}
	for _, p := range patches {
		ms := storetest.JourneyMessages(t, st, journey.ID(c.ID, p.ID))
		if len(ms) != 1 || ms[0].Status != journey.MessageSent {
			t.Fatalf("after the drain %s's messages are %+v; want the in-flight send finished and recorded", p.ID, ms)
		}
	}

	start()
	runCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for _, p := range patches {
		id := journey.ID(c.ID, p.ID)
		if err := tc.GetWorkflow(runCtx, id, "").Get(runCtx, nil); err != nil {
			t.Fatalf("journey %s: %v", id, err)
		}
		it := tc.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			if a := ev.GetActivityTaskStartedEventAttributes(); a != nil && a.GetAttempt() > 1 {
				t.Errorf("%s retried a send (attempt %d)", id, a.GetAttempt())
			}
		}
	}
	if got := len(sg.Accepted()); got != n || sg.Requests() != n {
		t.Fatalf("SendGrid took %d mails in %d requests, want %d in %d", got, sg.Requests(), n, n)
	}
}

// A worker and an API started while PostgreSQL does not answer wait for
// it, instead of exiting, and serve once it is there.
func TestProcessesStartedDuringAnOutageWaitForTheDatabase(t *testing.T) {
	bin := build(t)
	_, dbURL := storetest.New(t)
	temporal := testenv.DevServer(t)
	db := testenv.NewProxy(t, "127.0.0.1:5432")
	db.Cut()
	proxied := "postgres://postgres@" + db.Addr() + dbURL[len("postgres://postgres@127.0.0.1:5432"):]
	port := freePort(t)
	api := startProc(t, bin, []string{"DATABASE_URL=" + proxied, "TEMPORAL_ADDRESS=" + temporal.FrontendHostPort(), "OMNI_PAYLOAD_KEYS=" + testenv.PayloadKeys,
		"OMNI_HTTP_ADDR=" + port, "LOG_LEVEL=warn"}, "api")
	select {
	case err := <-api.exited:
		t.Fatalf("omni api exited while the database was down: %v", err)
	case <-time.After(3 * time.Second):
	}
	db.Restore()
	waitFor(t, "omni api to be ready", func() bool {
		res, err := http.Get("http://" + port + "/readyz")
		if err != nil {
			return false
		}
		_ = res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
}

// freePort returns a loopback address no one listens on.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
