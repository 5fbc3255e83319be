package campaign

import (
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"90m", 90 * time.Minute},
		{"36h", 36 * time.Hour},
		{"7d", 7 * 24 * time.Hour},
		{"2w", 14 * 24 * time.Hour},
		{"1w2d", 9 * 24 * time.Hour},
		{"2d12h", 60 * time.Hour},
		{"1d1d", 48 * time.Hour},
		{"1.5d", 36 * time.Hour},
		{".5w", 84 * time.Hour},
		{"720h", 30 * 24 * time.Hour},
		{"30d", 720 * time.Hour},
		{"1h30m", 90 * time.Minute},
		{"3s", 3 * time.Second},
		{"250ms", 250 * time.Millisecond},
		{"1µs", time.Microsecond},
		{"1ns", 1},
		{"+1h", time.Hour},
		{"15250w", 15250 * 7 * 24 * time.Hour},
		{"9223372036854775807ns", 1<<63 - 1},
	} {
		got, err := ParseDuration(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseDurationRefuses(t *testing.T) {
	for _, tc := range []struct{ in, msg string }{
		{"", `"" is not a duration: write e.g. 90m, 36h, 7d, 2w`},
		{"7days", `"7days" is not a duration: write e.g. 90m, 36h, 7d, 2w`},
		{"two days", `"two days" is not a duration`},
		{"7", `"7" is not a duration`},
		{"d", `"d" is not a duration`},
		{"7D", `"7D" is not a duration`},
		{"1w 2d", `"1w 2d" is not a duration`},
		{"1y", `"1y" is not a duration`},
		{"1mo", `"1mo" is not a duration`},
		{".d", `".d" is not a duration`},
		{"-1h", `"-1h" is not a duration`},
		{"+", `"+" is not a duration`},
		{"0d", `"0d" is not more than zero`},
		{"0h0m", `"0h0m" is not more than zero`},
		{"15251w", `"15251w" is too long: at most 15250w (about 292 years)`},
		{"15250w2d", `is too long`},
		{"106751992d", `is too long`},
		{"9223372036854775808ns", `is too long`},
		{"99999999999999999999h", `is too long`},
		{"2562047h2562047h", `is too long`},
	} {
		_, err := ParseDuration(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("ParseDuration(%q) = %v; want an error with %q", tc.in, err, tc.msg)
		}
	}
}

// FuzzParseDuration checks that whatever time.ParseDuration accepts as
// positive (how definitions were validated before days and weeks) reads
// the same, so existing definitions keep their timers, and that nothing
// reads as zero or less.
func FuzzParseDuration(f *testing.F) {
	for _, seed := range []string{"720h", "1.5h", "0.1s", "1h30m", "7d", "1w2d", "2w", "1.000000000000000000001h", "9223372036854775807ns", "0.9223372036854775808s"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseDuration(s)
		if err == nil && got <= 0 {
			t.Fatalf("ParseDuration(%q) = %v: not positive", s, got)
		}
		if want, goErr := time.ParseDuration(s); goErr == nil && want > 0 && (err != nil || got != want) {
			t.Fatalf("ParseDuration(%q) = %v, %v; time.ParseDuration says %v", s, got, err, want)
		}
	})
}

// A definition with every duration the language has, in days and weeks.
const everyDuration = `{
  "id": "cart", "offer_id": "CART-5", "start_at": "code",
  "trigger": {"event": "cart_abandoned"},
  "entry": {"key": "cart_id", "reentry": "after_exit", "cooldown": "1w"},
  "rules": {"suppress_rejected_for": "2w", "frequency_cap": {"max": 3, "per": "7d"}},
  "steps": {
    "code":  {"coupon": {"valid_for": "1w2d"}, "next": "email"},
    "email": {"send": {"channel": "email", "template": {"subject": "Your cart", "body": "{{coupon}}"}}, "next": "wait"},
    "wait":  {"wait": {"events": ["order_placed"], "match": ["cart_id"], "timeout": "3d"}, "on": {"order_placed": "done", "timeout": "later"}},
    "later": {"delay": {"for": "1.5d"}, "next": "done"},
    "done":  {"exit": {}}
  }
}`

func TestEveryDurationOfADefinitionTakesDaysAndWeeks(t *testing.T) {
	d, ps := Parse([]byte(everyDuration))
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	later, _ := ParseDuration(d.Steps["later"].Delay.For)
	for what, got := range map[string][2]time.Duration{
		"entry.cooldown":              {d.Rule().CooldownDuration(), 7 * day},
		"rules.suppress_rejected_for": {d.Rules.SuppressionPeriod(), 14 * day},
		"rules.frequency_cap.per":     {d.Rules.FrequencyCap.Window(), 7 * day},
		"coupon.valid_for":            {d.Steps["code"].Coupon.Validity(), 9 * day},
		"wait.timeout":                {d.Steps["wait"].Wait.TimeoutDuration(), 3 * day},
		"delay.for":                   {later, 36 * time.Hour},
	} {
		if got[0] != got[1] {
			t.Errorf("%s = %v, want %v", what, got[0], got[1])
		}
	}

	// Each one wrong is a problem at its path, with examples.
	for _, tc := range []struct{ from, to, path string }{
		{`"cooldown": "1w"`, `"cooldown": "1 week"`, "entry.cooldown"},
		{`"suppress_rejected_for": "2w"`, `"suppress_rejected_for": "2weeks"`, "rules.suppress_rejected_for"},
		{`"per": "7d"`, `"per": "day"`, "rules.frequency_cap.per"},
		{`"valid_for": "1w2d"`, `"valid_for": "9days"`, "steps.code.coupon.valid_for"},
		{`"timeout": "3d"`, `"timeout": "3D"`, "steps.wait.wait.timeout"},
		{`"for": "1.5d"`, `"for": "0d"`, "steps.later.delay.for"},
	} {
		_, ps := Parse([]byte(strings.Replace(everyDuration, tc.from, tc.to, 1)))
		if len(ps) != 1 || ps[0].Path != tc.path || !strings.HasSuffix(ps[0].Message, "write e.g. 90m, 36h, 7d, 2w") {
			t.Errorf("%s: got %v, want one problem at %s with examples", tc.to, ps, tc.path)
		}
	}
}
