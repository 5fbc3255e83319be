package campaign

import (
	"slices"
	"strings"
	"testing"

	"github.com/omni-orchestrator/omni/campaign/campaigntest"
)

var welcome = campaigntest.Welcome("48h")

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
	t.Run("unreachable step with other problems", func(t *testing.T) {
		body := strings.NewReplacer(
			`"done":    {"exit": {}}`, `"done": {"exit": {}}, "orphan": {"exit": {}}`,
			`"channel": "sms"`, `"channel": "fax"`,
			`"timeout": "48h"`, `"timeout": "2days"`,
		).Replace(welcome)
		_, ps := Parse([]byte(body))
		want := Problems{
			{"steps.orphan", `not reachable from start_at "email-1"`},
			{"steps.sms-1.send.channel", `unknown channel "fax"; one of [email sms push]`},
			{"steps.wait-1.wait.timeout", `"2days" is not a duration: write e.g. 90m, 36h, 7d, 2w`},
		}
		slices.SortFunc(ps, func(a, b Problem) int { return strings.Compare(a.Path, b.Path) })
		if !slices.Equal(ps, want) {
			t.Fatalf("got %v\nwant %v", ps, want)
		}
	})
	t.Run("a step a broken reference meant is unreachable", func(t *testing.T) {
		body := strings.Replace(welcome, `"next": "wait-1"`, `"next": "wait1"`, 1)
		_, ps := Parse([]byte(body))
		got := paths(ps)
		for _, want := range []string{"steps.email-1.next", "steps.wait-1", "steps.push-1", "steps.sms-1", "steps.done"} {
			if !slices.Contains(got, want) {
				t.Errorf("no problem at %s; got %v", want, ps)
			}
		}
	})
	t.Run("no graph problems without a start", func(t *testing.T) {
		body := strings.Replace(welcome, `"start_at": "email-1"`, `"start_at": "email-0"`, 1)
		_, ps := Parse([]byte(body))
		if len(ps) != 1 || ps[0].Path != "start_at" {
			t.Fatalf("got %v", ps)
		}
	})
	t.Run("loop without a wait", func(t *testing.T) {
		body := strings.Replace(welcome, `"next": "done"},
    "sms-1"`, `"next": "sms-1"},
    "sms-1"`, 1)
		body = strings.Replace(body, `10% off today"}}, "next": "done"}`, `10% off today"}}, "next": "push-1"}`, 1)
		_, ps := Parse([]byte(body))
		if len(ps) != 1 || !strings.Contains(ps[0].Message, "loop without a wait or delay") {
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

func TestParseAcceptsAProviderTemplate(t *testing.T) {
	body := strings.Replace(welcome, `{"subject": "Hi {{first_name}}", "body": "<p>10% off, {{first_name}}</p>"}`, `{"template_id": "d-0123456789abcdef0123456789abcdef"}`, 1)
	if body == welcome {
		t.Fatal("test edit did not apply")
	}
	if _, ps := Parse([]byte(body)); len(ps) > 0 {
		t.Fatal(ps)
	}
}

func TestValidateSteps(t *testing.T) {
	for name, tc := range map[string]struct{ from, to, path string }{
		"template does not compile":    {`Hi {{first_name}}`, `Hi {% if %}`, "steps.email-1.send.template.subject"},
		"email needs a subject":        {`"subject": "Hi {{first_name}}", `, ``, "steps.email-1.send.template.subject"},
		"sms has no title":             {`"template": {"body": "{{first_name}}`, `"template": {"title": "x", "body": "{{first_name}}`, "steps.sms-1.send.template.title"},
		"two kinds":                    {`"done":    {"exit": {}}`, `"done": {"exit": {}, "wait": {"for": ["clicked"], "timeout": "1h"}}`, "steps.done"},
		"no kind":                      {`"done":    {"exit": {}}`, `"done": {}`, "steps.done"},
		"on for unawaited type":        {`"timeout": "sms-1"}`, `"timeout": "sms-1", "opened": "done"}`, "steps.wait-1.on.opened"},
		"wait outcome with no step":    {`, "timeout": "sms-1"}`, `}`, "steps.wait-1.on"},
		"bad frequency cap":            {`"start_at"`, `"rules": {"frequency_cap": {"max": 0, "per": "24h"}}, "start_at"`, "rules.frequency_cap.max"},
		"bad suppression period":       {`"start_at"`, `"rules": {"suppress_rejected_for": "30 days"}, "start_at"`, "rules.suppress_rejected_for"},
		"unknown exit_on type":         {`"start_at"`, `"rules": {"exit_on": ["rejected", "bored"]}, "start_at"`, "rules.exit_on[1]"},
		"bad quiet hours":              {`"start_at"`, `"rules": {"quiet_hours": {"from": "21:00", "to": "8am"}}, "start_at"`, "rules.quiet_hours.to"},
		"channel and channels":         {`"channel": "sms"`, `"channel": "sms", "channels": ["sms"]`, "steps.sms-1.send"},
		"channel listed twice":         {`"channel": "sms"`, `"channels": ["sms", "push", "sms"]`, "steps.sms-1.send.channels[2]"},
		"no template for a channel":    {`"channel": "sms", "template": {"body": "{{first_name}}, 10% off today"}}`, `"channels": ["sms", "email"], "templates": {"sms": {"body": "x"}}}`, "steps.sms-1.send.template"},
		"template for unused channel":  {`"channel": "sms", "template": {"body": "{{first_name}}, 10% off today"}}`, `"channel": "sms", "templates": {"sms": {"body": "x"}, "push": {"body": "y"}}}`, "steps.sms-1.send.templates.push"},
		"delay with for and until":     {`"done":    {"exit": {}}`, `"done": {"delay": {"for": "1h", "until_local": "09:00"}, "next": "end"}, "end": {"exit": {}}`, "steps.done.delay"},
		"delay until a bad time":       {`"done":    {"exit": {}}`, `"done": {"delay": {"until_local": "25:00"}, "next": "end"}, "end": {"exit": {}}`, "steps.done.delay.until_local"},
		"branch without else":          {`"done":    {"exit": {}}`, `"done": {"branch": [{"when": {"attribute": "tier", "equals": "gold"}, "next": "end"}]}, "end": {"exit": {}}`, "steps.done.else"},
		"condition testing two things": {`"done":    {"exit": {}}`, `"done": {"branch": [{"when": {"attribute": "tier", "equals": "gold", "responded": "clicked"}, "next": "end"}], "else": "end"}, "end": {"exit": {}}`, "steps.done.branch[0].when"},
		"condition without a test":     {`"done":    {"exit": {}}`, `"done": {"branch": [{"when": {"attribute": "tier"}, "next": "end"}], "else": "end"}, "end": {"exit": {}}`, "steps.done.branch[0].when"},
		"nested condition":             {`"done":    {"exit": {}}`, `"done": {"branch": [{"when": {"any": [{"reachable": "fax"}]}, "next": "end"}], "else": "end"}, "end": {"exit": {}}`, "steps.done.branch[0].when.any[0].reachable"},
		"zero weight":                  {`"done":    {"exit": {}}`, `"done": {"experiment": {"variants": [{"name": "A", "weight": 0, "next": "end"}, {"name": "B", "weight": 1, "next": "end"}]}}, "end": {"exit": {}}`, "steps.done.experiment.variants[0].weight"},
		"duplicate variant":            {`"done":    {"exit": {}}`, `"done": {"experiment": {"variants": [{"name": "A", "weight": 1, "next": "end"}, {"name": "A", "weight": 1, "next": "end"}]}}, "end": {"exit": {}}`, "steps.done.experiment.variants[1].name"},
		"next on a branch":             {`"done":    {"exit": {}}`, `"done": {"branch": [{"when": {"responded": "clicked"}, "next": "end"}], "else": "end", "next": "end"}, "end": {"exit": {}}`, "steps.done.next"},
		"bad id":                       {`"id": "welcome"`, `"id": "a:b"`, "id"},
		"template id on sms":           {`"template": {"body": "{{first_name}}`, `"template": {"template_id": "d-0123456789abcdef0123456789abcdef", "body": "{{first_name}}`, "steps.sms-1.send.template.template_id"},
		"malformed template id":        {`"subject": "Hi {{first_name}}", `, `"template_id": "welcome-v2", `, "steps.email-1.send.template.template_id"},
		"link on sms":                  {`"template": {"body": "{{first_name}}`, `"template": {"link": "shop://x", "body": "{{first_name}}`, "steps.sms-1.send.template.link"},
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
	got, err := Render("Hi {{first_name}}{% if tier == 'gold' %}, gold member{% endif %}! {{missing}}.", map[string]any{"first_name": "Ada", "tier": "gold"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if got != "Hi Ada, gold member! ." {
		t.Fatalf("got %q", got)
	}
}

func TestRenderEscapesValuesInHTML(t *testing.T) {
	vars := map[string]any{"name": "<script>x</script> & Co", "data": map[string]any{"note": "<b>hi</b>"}}
	got, err := Render("<p>{{name}} {{data.note}} {{data.note | raw}}</p>", vars, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := "<p>&lt;script&gt;x&lt;/script&gt; &amp; Co &lt;b&gt;hi&lt;/b&gt; <b>hi</b></p>"; got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	if plain, _ := Render("{{name}}", vars, false); plain != "<script>x</script> & Co" {
		t.Fatalf("plain text was escaped: %q", plain)
	}
}

func TestValidateCoupon(t *testing.T) {
	for name, tc := range map[string]struct{ def, path string }{
		"no offer":     {`{"id": "c", "start_at": "code", "steps": {"code": {"coupon": {}, "next": "done"}, "done": {"exit": {}}}}`, "steps.code.coupon"},
		"short code":   {`{"id": "c", "offer_id": "O", "start_at": "code", "steps": {"code": {"coupon": {"length": 4}, "next": "done"}, "done": {"exit": {}}}}`, "steps.code.coupon.length"},
		"bad validity": {`{"id": "c", "offer_id": "O", "start_at": "code", "steps": {"code": {"coupon": {"valid_for": "a month"}, "next": "done"}, "done": {"exit": {}}}}`, "steps.code.coupon.valid_for"},
		"no next":      {`{"id": "c", "offer_id": "O", "start_at": "code", "steps": {"code": {"coupon": {}}, "done": {"exit": {}}}}`, "steps.code.next"},
	} {
		t.Run(name, func(t *testing.T) {
			_, ps := Parse([]byte(tc.def))
			if !slices.Contains(paths(ps), tc.path) {
				t.Fatalf("no problem at %s; got %v", tc.path, ps)
			}
		})
	}
	if _, ps := Parse([]byte(`{"id": "c", "offer_id": "O", "start_at": "code", "steps": {"code": {"coupon": {"prefix": "SPRING-"}, "next": "done"}, "done": {"exit": {}}}}`)); len(ps) > 0 {
		t.Fatal(ps)
	}
}
