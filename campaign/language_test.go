package campaign

import (
	"encoding/json"
	"testing"
	"time"
)

// The example of PRODUCT.md, with a template on reach-1 (a send must say
// what it sends).
const springSale = `{
  "id": "spring-sale",
  "name": "Spring sale",
  "offer_id": "SPRING-24",
  "start_at": "email-1",
  "rules": {
    "suppress_rejected_for": "720h",
    "quiet_hours": {"from": "21:00", "to": "08:00"},
    "frequency_cap": {"max": 3, "per": "24h"},
    "exit_on": ["rejected", "unsubscribed"],
    "goal": "converted"
  },
  "steps": {
    "email-1": {"send": {"channel": "email", "template": {"subject": "Hi {{first_name}}", "body": "..."}}, "next": "wait-1"},
    "wait-1":  {"wait": {"for": ["clicked", "converted"], "timeout": "48h"},
                "on": {"clicked": "push-1", "converted": "done", "timeout": "reach-1"}},
    "push-1":  {"send": {"channel": "push", "template": {"title": "...", "body": "..."}}, "next": "tier"},
    "reach-1": {"send": {"channels": ["push", "sms", "email"], "template": {"subject": "Last chance", "title": "Last chance", "body": "20% off ends today"}}, "next": "tier"},
    "tier":    {"branch": [{"when": {"attribute": "tier", "equals": "gold"}, "next": "ab"}], "else": "later"},
    "ab":      {"experiment": {"variants": [{"name": "A", "weight": 45, "next": "later"}, {"name": "B", "weight": 45, "next": "morning"}, {"name": "control", "weight": 10, "next": "done"}]}},
    "later":   {"delay": {"for": "24h"}, "next": "morning"},
    "morning": {"delay": {"until_local": "09:00"}, "next": "done"},
    "done":    {"exit": {}}
  }
}`

func TestParseAcceptsTheWholeLanguage(t *testing.T) {
	d, ps := Parse([]byte(springSale))
	if len(ps) > 0 {
		t.Fatalf("problems: %v", ps)
	}
	if got := d.Steps["reach-1"].Send.Candidates(); len(got) != 3 || got[0] != "push" {
		t.Errorf("candidates = %v", got)
	}
	if d.Rules.QuietHours.From != "21:00" || d.Rules.Goal != "converted" || len(d.Rules.ExitOn) != 2 {
		t.Errorf("rules = %+v", d.Rules)
	}
	// The definition travels through Temporal's JSON converter (encoding/json).
	data, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var back Definition
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if ps := back.Validate(); len(ps) > 0 || back.Steps["tier"].Branch[0].When.Equals != "gold" {
		t.Fatalf("round trip: %v, %+v", ps, back.Steps["tier"])
	}
}

func f(v float64) *float64 { return &v }
func b(v bool) *bool       { return &v }

func TestConditions(t *testing.T) {
	facts := Facts{
		Attributes: map[string]any{"tier": "gold", "orders": 3.0, "address": map[string]any{"city": "Köln"}},
		Reachable:  map[string]bool{"email": true, "push": false},
		Consent:    map[string]bool{"email": true, "sms": false},
	}
	responded := []string{"delivered", "opened"}
	for name, tc := range map[string]struct {
		c    Condition
		want bool
	}{
		"equals":             {Condition{Attribute: "tier", Equals: "gold"}, true},
		"equals other":       {Condition{Attribute: "tier", Equals: "silver"}, false},
		"equals number":      {Condition{Attribute: "orders", Equals: 3}, true},
		"in":                 {Condition{Attribute: "tier", In: []any{"silver", "gold"}}, true},
		"exists":             {Condition{Attribute: "tier", Exists: b(true)}, true},
		"not exists":         {Condition{Attribute: "vip", Exists: b(false)}, true},
		"missing equals":     {Condition{Attribute: "vip", Equals: "yes"}, false},
		"range":              {Condition{Attribute: "orders", GTE: f(2), LT: f(5)}, true},
		"range miss":         {Condition{Attribute: "orders", GT: f(3)}, false},
		"number on a string": {Condition{Attribute: "tier", GT: f(1)}, false},
		"nested":             {Condition{Attribute: "address.city", Equals: "Köln"}, true},
		"reachable":          {Condition{Reachable: "email"}, true},
		"unreachable":        {Condition{Reachable: "push"}, false},
		"consent":            {Condition{Consent: "sms"}, false},
		"responded":          {Condition{Responded: "opened"}, true},
		"not responded":      {Condition{Responded: "clicked"}, false},
		"all":                {Condition{All: []Condition{{Reachable: "email"}, {Responded: "opened"}}}, true},
		"any":                {Condition{Any: []Condition{{Reachable: "push"}, {Consent: "email"}}}, true},
		"not":                {Condition{Not: &Condition{Responded: "clicked"}}, true},
	} {
		if got := tc.c.Eval(facts, responded); got != tc.want {
			t.Errorf("%s: got %v, want %v", name, got, tc.want)
		}
	}
	if (Condition{Responded: "x"}).NeedsFacts() || !(Condition{Not: &Condition{Attribute: "a", Exists: b(true)}}).NeedsFacts() {
		t.Error("NeedsFacts is wrong")
	}
}

func TestExperimentAssignmentIsStableAndWeighted(t *testing.T) {
	e := &Experiment{Variants: []Variant{{Name: "A", Weight: 45}, {Name: "B", Weight: 45}, {Name: Control, Weight: 10}}}
	counts := map[string]int{}
	for i := range 10000 {
		id := "customer-" + string(rune('a'+i%26)) + "-" + time.Duration(i).String()
		v := e.Assign("spring-sale", "ab", id)
		if again := e.Assign("spring-sale", "ab", id); again.Name != v.Name {
			t.Fatalf("%s: %s then %s", id, v.Name, again.Name)
		}
		counts[v.Name]++
	}
	for name, want := range map[string]int{"A": 4500, "B": 4500, Control: 1000} {
		if got := counts[name]; got < want*85/100 || got > want*115/100 {
			t.Errorf("%s: %d of 10000, want about %d", name, got, want)
		}
	}
}

func TestLocalTimes(t *testing.T) {
	berlin := Location("Europe/Berlin", "")
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, berlin)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	q := &QuietHours{From: "21:00", To: "08:00"}
	for _, tc := range []struct {
		now, until string
		quiet      bool
	}{
		{"2026-03-10 22:30", "2026-03-11 08:00", true},
		{"2026-03-10 07:59", "2026-03-10 08:00", true},
		{"2026-03-10 08:00", "", false},
		{"2026-03-10 20:59", "", false},
		{"2026-03-28 23:00", "2026-03-29 08:00", true}, // across the switch to summer time
	} {
		until, quiet := q.QuietUntil(at(tc.now), berlin)
		if quiet != tc.quiet || (quiet && !until.Equal(at(tc.until))) {
			t.Errorf("%s: quiet=%v until %v, want %v until %s", tc.now, quiet, until, tc.quiet, tc.until)
		}
	}
	day := &QuietHours{From: "12:00", To: "14:00"}
	if _, quiet := day.QuietUntil(at("2026-03-10 13:00"), berlin); !quiet {
		t.Error("13:00 is inside 12:00-14:00")
	}
	if got := NextLocal(at("2026-03-10 10:00"), berlin, "09:00"); !got.Equal(at("2026-03-11 09:00")) {
		t.Errorf("next 09:00 after 10:00 = %v", got)
	}
	if got := NextLocal(at("2026-03-10 08:00"), berlin, "09:00"); !got.Equal(at("2026-03-10 09:00")) {
		t.Errorf("next 09:00 after 08:00 = %v", got)
	}
	if Location("Mars/Olympus", "Europe/Berlin").String() != "Europe/Berlin" || Location("", "") != time.UTC {
		t.Error("Location fallback is wrong")
	}
}
