package campaign

import (
	"slices"
	"strings"
	"testing"
)

const welcome = `{
  "id": "welcome",
  "name": "Welcome",
  "offer_id": "WELCOME-10",
  "start_at": "email-1",
  "steps": {
    "email-1": {"send": {"channel": "email", "template": {"subject": "Hi {{first_name}}", "body": "<p>10% off</p>"}}, "next": "wait-1"},
    "wait-1":  {"wait": {"for": ["clicked", "converted"], "timeout": "48h"},
                "on": {"clicked": "push-1", "converted": "done", "timeout": "sms-1"}},
    "push-1":  {"send": {"channel": "push", "template": {"title": "Still there?", "body": "Your code expires soon"}}, "next": "done"},
    "sms-1":   {"send": {"channel": "sms", "template": {"body": "{{first_name}}, 10% off today"}}, "next": "done"},
    "done":    {"exit": {}}
  }
}`

func TestParseAcceptsTheCoreLanguage(t *testing.T) {
	d, ps := Parse([]byte(welcome))
	if len(ps) > 0 {
		t.Fatalf("problems: %v", ps)
	}
	if d.StartAt != "email-1" || len(d.Steps) != 5 {
		t.Fatalf("parsed %+v", d)
	}
	w := d.Steps["wait-1"]
	if got := w.Wait.TimeoutDuration().Hours(); got != 48 {
		t.Errorf("timeout = %vh", got)
	}
	if w.WaitNext("clicked") != "push-1" || w.WaitNext("timeout") != "sms-1" {
		t.Errorf("wait branches wrong: %v", w.On)
	}
}

func paths(ps Problems) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Path)
	}
	return out
}

func TestParseReportsEveryProblemWithItsPath(t *testing.T) {
	bad := strings.NewReplacer(
		`"channel": "sms"`, `"channel": "fax"`,
		`"next": "wait-1"`, `"next": "nowhere"`,
		`"timeout": "48h"`, `"timeout": "two days"`,
		`"clicked", "converted"`, `"clicked", "liked"`,
	).Replace(welcome)
	_, ps := Parse([]byte(bad))
	got := paths(ps)
	for _, want := range []string{
		"steps.sms-1.send.channel",
		"steps.email-1.next",
		"steps.wait-1.wait.timeout",
		"steps.wait-1.wait.for[1]",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("no problem at %s; got %v", want, ps)
		}
	}
}

func TestParseRejectsMalformedJSONUnknownFieldsAndWrongTypes(t *testing.T) {
	for name, tc := range map[string]struct{ body, path, msg string }{
		"malformed":     {`{"id": "x",`, "", "malformed JSON"},
		"unknown field": {strings.Replace(welcome, `"channel": "push"`, `"chanel": "push"`, 1), `steps.push-1.send.chanel`, "unknown field"},
		"wrong type":    {strings.Replace(welcome, `"timeout": "48h"`, `"timeout": 48`, 1), "steps.wait-1.wait.timeout", "expected a string, got number"},
		"duplicate key": {`{"id": "a", "id": "b"}`, "id", "duplicate"},
	} {
		t.Run(name, func(t *testing.T) {
			_, ps := Parse([]byte(tc.body))
			if len(ps) != 1 || ps[0].Path != tc.path || !strings.Contains(ps[0].Message, tc.msg) {
				t.Fatalf("got %#v, want one problem at %q containing %q", ps, tc.path, tc.msg)
			}
		})
	}
}

func TestValidateGraph(t *testing.T) {
	t.Run("unreachable step", func(t *testing.T) {
		body := strings.Replace(welcome, `"done":    {"exit": {}}`, `"done": {"exit": {}}, "orphan": {"exit": {}}`, 1)
		_, ps := Parse([]byte(body))
		if !slices.Contains(paths(ps), "steps.orphan") {
			t.Fatalf("got %v", ps)
		}
	})
	t.Run("loop without a wait", func(t *testing.T) {
		body := strings.Replace(welcome, `"next": "done"},
    "sms-1"`, `"next": "sms-1"},
    "sms-1"`, 1)
		body = strings.Replace(body, `10% off today"}}, "next": "done"}`, `10% off today"}}, "next": "push-1"}`, 1)
		_, ps := Parse([]byte(body))
		if len(ps) != 1 || !strings.Contains(ps[0].Message, "loop without a wait") {
			t.Fatalf("got %v", ps)
		}
	})
	t.Run("loop through a wait is fine", func(t *testing.T) {
		body := strings.Replace(welcome, `"converted": "done"`, `"converted": "email-1"`, 1)
		if _, ps := Parse([]byte(body)); len(ps) > 0 {
			t.Fatalf("got %v", ps)
		}
	})
}

func TestValidateSteps(t *testing.T) {
	for name, tc := range map[string]struct{ from, to, path string }{
		"template does not compile": {`Hi {{first_name}}`, `Hi {% if %}`, "steps.email-1.send.template.subject"},
		"email needs a subject":     {`"subject": "Hi {{first_name}}", `, ``, "steps.email-1.send.template.subject"},
		"sms has no title":          {`"template": {"body": "{{first_name}}`, `"template": {"title": "x", "body": "{{first_name}}`, "steps.sms-1.send.template.title"},
		"two kinds":                 {`"done":    {"exit": {}}`, `"done": {"exit": {}, "wait": {"for": ["clicked"], "timeout": "1h"}}`, "steps.done"},
		"no kind":                   {`"done":    {"exit": {}}`, `"done": {}`, "steps.done"},
		"on for unawaited type":     {`"timeout": "sms-1"}`, `"timeout": "sms-1", "opened": "done"}`, "steps.wait-1.on.opened"},
		"wait outcome with no step": {`, "timeout": "sms-1"}`, `}`, "steps.wait-1.on"},
		"unsupported step kind":     {`"done":    {"exit": {}}`, `"done": {"exit": {}}, "later": {"delay": {"for": "1h"}, "next": "done"}`, "steps.later.delay"},
		"unsupported rule":          {`"start_at"`, `"rules": {"goal": "converted"}, "start_at"`, "rules.goal"},
		"bad id":                    {`"id": "welcome"`, `"id": "a:b"`, "id"},
	} {
		t.Run(name, func(t *testing.T) {
			body := strings.Replace(welcome, tc.from, tc.to, 1)
			if body == welcome {
				t.Fatal("test edit did not apply")
			}
			_, ps := Parse([]byte(body))
			if !slices.Contains(paths(ps), tc.path) {
				t.Fatalf("no problem at %s; got %v", tc.path, ps)
			}
		})
	}
}

func TestRenderPersonalises(t *testing.T) {
	got, err := Render("Hi {{first_name}}{% if tier == 'gold' %}, gold member{% endif %}! {{missing}}.", map[string]any{"first_name": "Ada", "tier": "gold"})
	if err != nil {
		t.Fatal(err)
	}
	if got != "Hi Ada, gold member! ." {
		t.Fatalf("got %q", got)
	}
}
