// Package chaos runs omni as it runs in production, as separate processes
// on loopback (two `omni worker`, two `omni api`, a Temporal server,
// PostgreSQL behind a proxy the test can cut), puts a campaign with waits
// and clicks through them, and injects the faults production has: kill -9
// of a worker, of an API (clients retry, as real ones do), of the Temporal
// server, a PostgreSQL cut, webhooks delivered twice. It then checks what
// omni promises: no journey lost, no acknowledged response ignored, no
// message sent twice, no response lost, KPI counters equal to the rows.
//
// `make test` runs a short version (a few hundred customers, one fault of
// each kind); `make chaos` the long one (CHAOS_FULL=1: 1,000 customers,
// several faults of each kind, with webhooks signed and then unverified),
// which writes its figures to bench/results.
package chaos_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/omni-orchestrator/omni/auth"
	"github.com/omni-orchestrator/omni/channels/sendgrid"
	"github.com/omni-orchestrator/omni/channels/sendgrid/sendgridtest"
	"github.com/omni-orchestrator/omni/internal/testenv"
	"github.com/omni-orchestrator/omni/store/storetest"
)

// The campaign: an email, a 20-second wait for a click, then a thank-you
// to those who clicked and a reminder to the others.
const campaignDef = `{"id": "chaos", "start_at": "first", "steps": {
  "first":    {"send": {"channel": "email", "template": {"subject": "Hi", "body": "Hi {{id}}"}}, "next": "wait"},
  "wait":     {"wait": {"for": ["clicked"], "timeout": "20s"}, "on": {"clicked": "thanks", "timeout": "reminder"}},
  "thanks":   {"send": {"channel": "email", "template": {"subject": "Thanks", "body": "Thanks {{id}}"}}, "next": "done"},
  "reminder": {"send": {"channel": "email", "template": {"subject": "Reminder", "body": "Still there, {{id}}?"}}, "next": "done"},
  "done":     {"exit": {}}}}`

func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("the chaos suite runs real processes")
	}
	full := os.Getenv("CHAOS_FULL") == "1"
	customers := 300
	if full {
		customers = 1000
	}
	if n, err := strconv.Atoi(os.Getenv("CHAOS_CUSTOMERS")); err == nil && n > 0 {
		customers = n
	}
	var results []result
	for _, signed := range []bool{true, false} {
		if !signed && !full {
			continue
		}
		name := map[bool]string{true: "webhooks-signed", false: "webhooks-unverified"}[signed]
		t.Run(name, func(t *testing.T) {
			r := run(t, customers, signed, full)
			r.Name = name
			results = append(results, r)
			t.Logf("%s: %+v", name, r)
			switch {
			case r.JourneysLost != 0:
				t.Errorf("%d journeys lost", r.JourneysLost)
			case r.ClicksIgnored != 0:
				t.Errorf("%d acknowledged clicks ignored", r.ClicksIgnored)
			case r.ResponsesLost != 0:
				t.Errorf("%d acknowledged responses not stored", r.ResponsesLost)
			case len(r.CountersOff) > 0:
				t.Errorf("KPI counters differ from the rows: %v", r.CountersOff)
			case signed && r.DuplicateSends != 0:
				t.Errorf("%d messages sent twice with signed webhooks", r.DuplicateSends)
			}
		})
	}
	if dir := os.Getenv("CHAOS_RESULTS"); dir != "" && len(results) > 0 {
		data, _ := json.MarshalIndent(map[string]any{"customers": customers, "full": full, "runs": results}, "", "  ")
		file := filepath.Join(dir, time.Now().UTC().Format("2006-01-02T150405Z")+"-chaos.json")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", file)
	}
}

// result is what a run measured.
type result struct {
	Name            string         `json:"name"`
	Faults          []string       `json:"faults"`
	Journeys        int            `json:"journeys"`
	JourneysLost    int            `json:"journeys_lost"`
	Clicks          int            `json:"clicks_acknowledged"`
	ClicksIgnored   int            `json:"clicks_ignored"`
	ResponsesLost   int            `json:"responses_lost"`
	Messages        int            `json:"messages_expected"`
	ProviderTook    int            `json:"provider_accepted"`
	DuplicateSends  int            `json:"duplicate_sends"`
	CountersOff     map[string]any `json:"counters_off,omitempty"`
	DrainSeconds    float64        `json:"drain_seconds"`
	ClientRetries   int64          `json:"client_retries"`
	JourneyStatuses map[string]int `json:"journey_statuses"`
}

func run(t *testing.T, customers int, signed, full bool) result {
	ctx := context.Background()
	c := startCluster(t, signed)
	var r result

	// Customers, the campaign and its launch, through the API.
	var batch []map[string]any
	for i := range customers {
		batch = append(batch, map[string]any{"id": fmt.Sprintf("c%05d", i), "email": fmt.Sprintf("c%05d@example.com", i)})
		if len(batch) == 500 || i == customers-1 {
			c.call(t, "POST", "/v1/customers", batch, 200)
			batch = nil
		}
	}
	c.call(t, "POST", "/v1/campaigns", campaignDef, 201)
	c.call(t, "POST", "/v1/campaigns/chaos/launch", `{"audience": {"all": true}}`, 202)

	// Three customers in ten click, 0.5 to 8 seconds after their first email.
	clicks := c.clickAfterFirstEmails(t, func(customer string) bool {
		n, _ := strconv.Atoi(customer[1:])
		return n%10 < 3
	})

	// The faults, one after another while journeys send, wait and click.
	faults := []func(){
		func() { r.Faults = append(r.Faults, "kill -9 worker 1"); c.workers[0].restart(t, 3*time.Second) },
		func() { r.Faults = append(r.Faults, "kill -9 api 1"); c.apis[0].restart(t, 2*time.Second) },
		func() { r.Faults = append(r.Faults, "kill -9 Temporal"); c.temporal.restart(t, 2*time.Second) },
		func() {
			r.Faults = append(r.Faults, "PostgreSQL cut 10s")
			c.db.Cut()
			time.Sleep(10 * time.Second)
			c.db.Restore()
		},
	}
	if full {
		faults = append(faults,
			func() { r.Faults = append(r.Faults, "kill -9 worker 2"); c.workers[1].restart(t, time.Second) },
			func() { r.Faults = append(r.Faults, "kill -9 api 2"); c.apis[1].restart(t, time.Second) },
			func() { r.Faults = append(r.Faults, "kill -9 worker 1"); c.workers[0].restart(t, 5*time.Second) },
		)
	}
	r.Faults = append(r.Faults, "every webhook delivered twice")
	for _, fault := range faults {
		time.Sleep(3 * time.Second)
		fault()
	}
	faultsOver := time.Now()

	// Drain: every journey ends.
	db := c.database(t)
	deadline := time.Now().Add(10 * time.Minute)
	for {
		var active, total int
		if err := db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'active'), count(*) FROM journeys WHERE campaign_id = 'chaos'`).Scan(&active, &total); err != nil {
			t.Fatal(err)
		}
		if total == customers && active == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 minutes %d of %d journeys are still active", active, total)
		}
		time.Sleep(time.Second)
	}
	r.DrainSeconds = math.Round(time.Since(faultsOver).Seconds()*10) / 10
	clicks.stop()
	c.sg.WaitForWebhooks()

	r.Journeys, r.JourneyStatuses = customers, map[string]int{}
	rows, _ := db.Query(ctx, `SELECT status, count(*) FROM journeys WHERE campaign_id = 'chaos' GROUP BY status`)
	var status string
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&status, &n}, func() error { r.JourneyStatuses[status] = n; return nil }); err != nil {
		t.Fatal(err)
	}
	r.JourneysLost = customers - r.JourneyStatuses["completed"]

	// Every acknowledged click is stored, and answered the wait unless the
	// wait's timer fired before the click reached the journey.
	acked := clicks.acknowledged()
	r.Clicks = len(acked)
	tc := c.temporalClient(t)
	for customer, eventID := range acked {
		var stored bool
		if err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM responses WHERE event_id = $1)`, eventID).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if !stored {
			r.ResponsesLost++
			continue
		}
		var thanked bool
		if err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM messages WHERE journey_id = $1 AND step = 'thanks')`, "journey:chaos:"+customer).Scan(&thanked); err != nil {
			t.Fatal(err)
		}
		if !thanked && clickBeforeTimer(t, tc, "journey:chaos:"+customer) {
			r.ClicksIgnored++
			t.Logf("%s's click reached the journey before its timer fired, and was ignored", customer)
		}
	}

	// Each message reached the provider once.
	r.Messages = 2 * customers
	taken := map[string]int{}
	for _, m := range c.sg.Accepted() {
		taken[m.CustomArgs[sendgrid.ArgMessageID]]++
	}
	r.ProviderTook = len(c.sg.Accepted())
	for _, n := range taken {
		r.DuplicateSends += n - 1
	}

	// The KPI counters agree with the rows.
	stats := c.call(t, "GET", "/v1/campaigns/chaos/stats", nil, 200)
	var sent, clicked int
	if err := db.QueryRow(ctx, `SELECT (SELECT count(*) FROM messages WHERE campaign_id = 'chaos' AND status = 'sent'),
		(SELECT count(*) FROM responses WHERE campaign_id = 'chaos' AND type = 'clicked')`).Scan(&sent, &clicked); err != nil {
		t.Fatal(err)
	}
	total := stats["total"].(map[string]any)["metrics"].(map[string]any)
	journeys := stats["journeys"].(map[string]any)
	r.CountersOff = map[string]any{}
	for name, pair := range map[string][2]float64{
		"sent":            {total["sent"].(float64), float64(sent)},
		"clicked":         {num(total["clicked"]), float64(clicked)},
		"enrolled":        {journeys["enrolled"].(float64), float64(customers)},
		"ended:completed": {num(journeys["ended:completed"]), float64(r.JourneyStatuses["completed"])},
	} {
		if pair[0] != pair[1] {
			r.CountersOff[name] = fmt.Sprintf("counter %v, rows %v", pair[0], pair[1])
		}
	}
	r.ClientRetries = c.retries.Load()
	return r
}

func num(v any) float64 {
	f, _ := v.(float64)
	return f
}

// clickBeforeTimer says whether the journey's history has the click's
// signal before the wait's timer fired (or the timer never fired).
func clickBeforeTimer(t *testing.T, tc client.Client, id string) bool {
	it := tc.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	signalled := false
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
			signalled = true
		case enumspb.EVENT_TYPE_TIMER_FIRED:
			return signalled
		}
	}
	return signalled
}

// cluster is omni and what it runs on, each part a process the test can
// kill and start again.
type cluster struct {
	bin          string
	temporal     *proc
	temporalAddr string
	db           *testenv.Proxy
	dbURL        string // straight to PostgreSQL, for the test's own reads
	sg           *sendgridtest.Server
	workers      [2]*proc
	apis         [2]*proc
	apiAddrs     [2]string
	key          string
	retries      atomic.Int64
}

func startCluster(t *testing.T, signed bool) *cluster {
	c := &cluster{bin: build(t)}
	st, dbURL := storetest.New(t)
	c.dbURL = dbURL
	_, key, err := auth.Create(context.Background(), st, "chaos", auth.Scopes, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.key = key
	u, _ := url.Parse(dbURL)
	c.db = testenv.NewProxy(t, u.Host)
	u.Host = c.db.Addr()
	proxied := u.String()

	temporalAddr := freePort(t)
	c.temporalAddr = temporalAddr
	_, port, _ := net.SplitHostPort(temporalAddr)
	c.temporal = startProc(t, testenv.TemporalCLI(t), nil, "server", "start-dev", "--ip", "127.0.0.1", "--port", port, "--headless",
		"--db-filename", filepath.Join(t.TempDir(), "temporal.db"), "--log-level", "error",
		"--search-attribute", "CampaignId=Keyword", "--search-attribute", "CustomerId=Keyword")
	waitFor(t, "the Temporal server", func() bool {
		conn, err := net.Dial("tcp", temporalAddr)
		if err == nil {
			_ = conn.Close()
		}
		return err == nil
	})

	c.sg = sendgridtest.New(t)
	c.sg.Answer(100 * time.Millisecond)
	env := []string{"DATABASE_URL=" + proxied, "TEMPORAL_ADDRESS=" + temporalAddr, "OMNI_TASK_QUEUE=chaos", "LOG_LEVEL=warn",
		"OMNI_PAYLOAD_KEYS=" + testenv.PayloadKeys,
		"SENDGRID_API_KEY=" + c.sg.APIKey, "SENDGRID_API_URL=" + c.sg.URL, "SENDGRID_FROM=Shop <news@shop.example>",
		"OMNI_LAUNCH_CONCURRENCY=8"}
	hooks := c.webhookFailover(t)
	if signed {
		priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
		env = append(env, "SENDGRID_WEBHOOK_PUBLIC_KEY="+base64.StdEncoding.EncodeToString(der))
		c.sg.ReportTo(sendgridtest.Webhook{URL: hooks, Key: priv, Twice: true})
	} else {
		// Unverified events never prove a send, so there is nothing to
		// wait for: a send cut short is sent again at once.
		env = append(env, "OMNI_WEBHOOKS_UNVERIFIED=true", "OMNI_SEND_CONFIRM_WINDOW=0s")
		c.sg.ReportTo(sendgridtest.Webhook{URL: hooks, Twice: true})
	}
	for i := range c.workers {
		c.workers[i] = startProc(t, c.bin, append(env, "OMNI_METRICS_ADDR=127.0.0.1:0"), "worker")
	}
	for i := range c.apis {
		c.apiAddrs[i] = freePort(t)
		c.apis[i] = startProc(t, c.bin, append(env, "OMNI_HTTP_ADDR="+c.apiAddrs[i]), "api")
	}
	waitFor(t, "both APIs to be ready", func() bool {
		for _, a := range c.apiAddrs {
			res, err := http.Get("http://" + a + "/readyz")
			if err != nil {
				return false
			}
			_ = res.Body.Close()
			if res.StatusCode != 200 {
				return false
			}
		}
		return true
	})
	return c
}

// webhookFailover stands for the load balancer in front of the APIs: it
// forwards each webhook to an API that answers.
func (c *cluster) webhookFailover(t *testing.T) string {
	var next atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		for attempt := range 20 {
			addr := c.apiAddrs[(int(next.Add(1))+attempt)%2]
			req, _ := http.NewRequest(r.Method, "http://"+addr+r.URL.RequestURI(), bytes.NewReader(body))
			req.Header = r.Header.Clone()
			res, err := http.DefaultClient.Do(req)
			if err == nil && res.StatusCode < 500 {
				defer res.Body.Close()
				w.WriteHeader(res.StatusCode)
				_, _ = io.Copy(w, res.Body)
				return
			}
			if err == nil {
				_ = res.Body.Close()
			}
			time.Sleep(500 * time.Millisecond)
		}
		w.WriteHeader(http.StatusBadGateway)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String() + "/v1/webhooks/sendgrid"
}

// call sends a request to one API or the other, as a client with retries
// does, until it gets want (or a duplicate's 200) or five minutes pass.
func (c *cluster) call(t *testing.T, method, path string, body any, want int) map[string]any {
	t.Helper()
	var data []byte
	switch b := body.(type) {
	case nil:
	case string:
		data = []byte(b)
	default:
		data, _ = json.Marshal(b)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for attempt := 0; ; attempt++ {
		out, code, err := c.try(method, path, data, attempt)
		if err == nil && (code == want || want == 201 && code == 200) {
			return out
		}
		if err == nil && code < 500 && code != 429 {
			t.Fatalf("%s %s: %d %v", method, path, code, out)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s: no answer for five minutes (last: %d %v %v)", method, path, code, out, err)
		}
		c.retries.Add(1)
		time.Sleep(time.Duration(200+100*min(attempt, 10)) * time.Millisecond)
	}
}

func (c *cluster) try(method, path string, body []byte, attempt int) (map[string]any, int, error) {
	req, _ := http.NewRequest(method, "http://"+c.apiAddrs[attempt%2]+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+c.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return out, res.StatusCode, nil
}

// clicker posts the clicks of customers who click.
type clicker struct {
	mu    sync.Mutex
	acked map[string]string // customer → event id
	done  chan struct{}
	wg    sync.WaitGroup
}

func (c *cluster) clickAfterFirstEmails(t *testing.T, clicks func(customer string) bool) *clicker {
	k := &clicker{acked: map[string]string{}, done: make(chan struct{})}
	rnd := mrand.New(mrand.NewPCG(1, 2))
	seen := map[string]bool{}
	k.wg.Go(func() {
		for {
			select {
			case <-k.done:
				return
			case <-time.After(200 * time.Millisecond):
			}
			for _, m := range c.sg.Accepted() {
				customer := m.Personalizations[0].To[0].Email[:6]
				if m.Subject != "Hi" || seen[customer] || !clicks(customer) {
					continue
				}
				seen[customer] = true
				after := time.Duration(500+rnd.IntN(7500)) * time.Millisecond
				eventID := "click-" + customer
				k.wg.Go(func() {
					time.Sleep(after)
					c.call(t, "POST", "/v1/responses", map[string]any{"event_id": eventID, "customer_id": customer,
						"campaign_id": "chaos", "channel": "email", "type": "clicked"}, 201)
					k.mu.Lock()
					k.acked[customer] = eventID
					k.mu.Unlock()
				})
			}
		}
	})
	return k
}

func (k *clicker) stop() { close(k.done); k.wg.Wait() }

func (k *clicker) acknowledged() map[string]string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return maps.Clone(k.acked)
}

func (c *cluster) database(t *testing.T) *pgx.Conn {
	conn, err := pgx.Connect(context.Background(), c.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func (c *cluster) temporalClient(t *testing.T) client.Client {
	o := client.Options{HostPort: c.temporalAddr}
	testenv.Codec(t).Apply(&o)
	tc, err := client.Dial(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	return tc
}

// proc is a process of the cluster.
type proc struct {
	t      *testing.T
	path   string
	env    []string
	args   []string
	cmd    *exec.Cmd
	exited chan error
}

func startProc(t *testing.T, path string, env []string, args ...string) *proc {
	p := &proc{t: t, path: path, env: env, args: args}
	p.start()
	t.Cleanup(func() {
		if p.cmd != nil {
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

func (p *proc) start() {
	cmd := exec.Command(p.path, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = p.t.Output(), p.t.Output()
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.cmd, p.exited = cmd, make(chan error, 1)
	go func() { p.exited <- cmd.Wait() }()
}

// restart kills the process with SIGKILL and starts it again after down.
func (p *proc) restart(t *testing.T, down time.Duration) {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
	p.cmd = nil
	time.Sleep(down)
	p.start()
}

func build(t *testing.T) string {
	bin := filepath.Join(t.TempDir(), "omni")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/omni-orchestrator/omni/cmd/omni").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !ok(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}
