package api_test

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// The README's examples of the API are what a new user pastes first: this
// test runs them (the walk through the API, then the abandoned cart),
// command by command in order, with bash, curl and jq as the reader would,
// against the API on a real Temporal dev server and PostgreSQL. It reads
// the commands from README.md itself, so the two cannot drift apart.
func TestTheREADMEExamplesWorkPastedInOrder(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the walk-through needs %s: %v", tool, err)
		}
	}
	walk := readmeCommands(t, "../README.md", "A walk through the API")
	cart := readmeCommands(t, "../README.md", "Events and triggered campaigns")
	segments := readmeCommands(t, "../README.md", "Segments")
	commands := slices.Concat(walk, cart, segments)
	c, _ := start(t)
	u, err := url.Parse(c.base)
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "OMNI_KEY="+c.key)
	for i, cmd := range commands {
		cmd = strings.ReplaceAll(cmd, "localhost:8080", u.Host)
		if m := capture.FindStringSubmatch(cmd); m != nil {
			// A value read from an answer, such as the coupon code the
			// journey issues after the launch: as a reader would, try again
			// until the journey has got that far.
			name := m[1]
			var value string
			eventually(t, fmt.Sprintf("command %d gives %s: %s", i+1, name, cmd), func() bool {
				out, err := runShell(env, cmd+`; [ -n "$`+name+`" ] && [ "$`+name+`" != null ] && printf %s "$`+name+`"`)
				value = out
				return err == nil
			})
			t.Logf("%s=%s", name, value)
			env = append(env, name+"="+value)
			continue
		}
		out, err := runShell(env, cmd)
		if err != nil {
			t.Fatalf("README example, command %d failed (%v):\n%s\n%s", i+1, err, cmd, out)
		}
		t.Logf("command %d: %.200s", i+1, out)
	}

	// The walk-through did what it says: Jana got the email with her
	// coupon, and redeeming it at the till recorded her conversion.
	view := c.must(200, "GET", "/v1/customers/c1", nil)
	coupons := view["coupons"].([]any)
	if len(coupons) != 1 {
		t.Fatalf("coupons = %v", coupons)
	}
	coupon := coupons[0].(map[string]any)
	if coupon["redeemed_channel"] != "pos" || coupon["order_ref"] != "till-7/0042" {
		t.Fatalf("coupon = %v", coupon)
	}
	var emailed bool
	for _, m := range messages(view) {
		emailed = emailed || m["channel"] == "email" && strings.Contains(m["body"].(string), coupon["code"].(string))
	}
	if !emailed {
		t.Errorf("no email showed the coupon: %v", view["messages"])
	}
	var converted bool
	for _, r := range view["responses"].([]any) {
		r := r.(map[string]any)
		converted = converted || r["type"] == "converted" && r["channel"] == "pos" && r["campaign_id"] == "spring-sale"
	}
	if !converted {
		t.Errorf("the redemption recorded no conversion: %v", view["responses"])
	}
	// The code is single-use: pasted again it answers the same, and
	// redeemed for another order 409.
	redeem := strings.ReplaceAll(walk[len(walk)-2], "localhost:8080", u.Host)
	if !strings.Contains(redeem, "/redeem") || !strings.Contains(redeem, "till-7/0042") {
		t.Fatalf("the walk-through's last but one command is not the redemption of till-7/0042: %s", redeem)
	}
	if out, err := runShell(env, redeem); err != nil || !strings.Contains(out, `"redeemed_channel":"pos"`) {
		t.Errorf("the redemption retried answers %v: %s", err, out)
	}
	if out, err := runShell(env, strings.ReplaceAll(redeem, "till-7/0042", "till-9/0001")); err == nil || !strings.Contains(out, "already_redeemed") {
		t.Errorf("redeemed for a second order (%v): %s", err, out)
	}

	// Jana's abandoned cart entered a journey whose email shows the cart's
	// total, and the order of that cart ended it before the reminder.
	var cartJourney map[string]any
	for _, j := range view["journeys"].([]any) {
		if j := j.(map[string]any); j["campaign_id"] == "cart" {
			cartJourney = j
		}
	}
	if cartJourney == nil {
		t.Fatalf("the cart_abandoned event entered no journey: %v", view["journeys"])
	}
	id := cartJourney["workflow_id"].(string)
	eventually(t, "the order ends the cart's journey", func() bool {
		for _, j := range c.must(200, "GET", "/v1/customers/c1", nil)["journeys"].([]any) {
			if j := j.(map[string]any); j["workflow_id"] == id {
				cartJourney = j
			}
		}
		return cartJourney["status"] == "completed"
	})
	var cartMessages []string
	for _, m := range messages(c.must(200, "GET", "/v1/customers/c1", nil)) {
		if m["journey_id"] == id {
			cartMessages = append(cartMessages, m["channel"].(string)+": "+m["body"].(string))
		}
	}
	if !slices.Equal(cartMessages, []string{"email: Your cart: 42 EUR"}) || cartJourney["current_step"] != "done" {
		t.Errorf("the cart's journey %v sent %q", cartJourney, cartMessages)
	}

	// Jana's orders made her a repeat buyer, which entered thanks-repeat.
	view = c.must(200, "GET", "/v1/customers/c1", nil)
	if segs := view["segments"].([]any); len(segs) != 1 || segs[0].(map[string]any)["segment_id"] != "repeat-buyers" {
		t.Errorf("Jana's segments: %v", segs)
	}
	if js := journeysOf(c, "c1", "thanks-repeat"); js["journey:thanks-repeat:c1"] == nil {
		t.Errorf("entering repeat-buyers entered no journey: %v", view["journeys"])
	}
}

// capture is a command that keeps a value for the following ones:
// NAME=$(…).
var capture = regexp.MustCompile(`(?s)^([A-Z_]+)=\$\((.*)\)$`)

// runShell runs one command of the walk-through with bash, curl failing on
// an error answer (4xx, 5xx) as the reader would notice it.
func runShell(env []string, command string) (string, error) {
	script := "set -eu -o pipefail\ncurl() { command curl --fail-with-body --show-error --max-time 30 \"$@\"; }\n" + command
	cmd := exec.Command("bash", "-c", script)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		return "", err
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), err
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		return out.String(), fmt.Errorf("no answer in a minute")
	}
}

// readmeCommands reads the shell commands of the first sh block of the
// README's section title, in order: a command runs on over lines ending in
// a backslash and over quoted text; comments are left out. Every command
// must be curl, or a NAME=$(curl …) the later ones use, so that nothing
// the reader pastes goes untested.
func readmeCommands(t *testing.T, path, title string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	_, section, ok := strings.Cut(text, "\n## "+title+"\n")
	if !ok {
		t.Fatalf("%s has no section %q", path, title)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	_, block, ok := strings.Cut(section, "\n```sh\n")
	if !ok {
		t.Fatalf("the section %q of %s has no sh block", title, path)
	}
	block, _, ok = strings.Cut(block, "\n```\n")
	if !ok {
		t.Fatalf("the sh block of %q in %s does not end", title, path)
	}
	var commands []string
	var current strings.Builder
	for line := range strings.Lines(block) {
		if current.Len() == 0 && (strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		current.WriteString(line)
		if open(current.String()) {
			continue
		}
		cmd := strings.TrimSpace(current.String())
		current.Reset()
		if !strings.HasPrefix(cmd, "curl ") && !capture.MatchString(cmd) {
			t.Fatalf("%q has a command this test does not run as the reader would: %s", title, cmd)
		}
		commands = append(commands, cmd)
	}
	if current.Len() > 0 {
		t.Fatalf("the example of %q ends inside a command: %s", title, current.String())
	}
	if len(commands) < 3 {
		t.Fatalf("read only %d commands from %q", len(commands), title)
	}
	return commands
}

// open reports whether shell text continues on the next line: inside
// quotes, or after a trailing backslash.
func open(s string) bool {
	var quote rune
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			escaped = false
		case quote == '\'':
			if r == '\'' {
				quote = 0
			}
		case r == '\\':
			escaped = true
		case quote == '"':
			if r == '"' {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		}
	}
	return quote != 0 || strings.HasSuffix(strings.TrimRight(s, "\n"), "\\")
}
