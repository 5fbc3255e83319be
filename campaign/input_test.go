package campaign

import (
	"fmt"
	"strings"
	"testing"
)

func TestIDRules(t *testing.T) {
	for _, tc := range []struct {
		rule  IDRule
		valid []string
		bad   []string
	}{
		{CustomerID, []string{"c1", "CUST-00123", "auth0|5f1c", "a/b?c#d%e", "x@example.com", strings.Repeat("x", 128), "~"},
			[]string{"", "a b", " a", "a\tb", "a\x00b", "a\x7fb", "ünïcode", "\xff", strings.Repeat("x", 129)}},
		{EventID, []string{"evt-1", strings.Repeat("e", 200)}, []string{"", "evt 1", strings.Repeat("e", 201)}},
		{CampaignID, []string{"spring-sale", "A_1"}, []string{"", "a:b", "-a", "a b", strings.Repeat("c", 101)}},
	} {
		for _, id := range tc.valid {
			if !tc.rule.Valid(id) {
				t.Errorf("%q refused (%s)", id, tc.rule.Rule)
			}
		}
		for _, id := range tc.bad {
			var ps Problems
			if tc.rule.Check(&ps, "id", id); len(ps) != 1 || ps[0].Path != "id" {
				t.Errorf("%q: %v (%s)", id, ps, tc.rule.Rule)
			}
		}
	}
}

func TestADefinitionTooLargeForAJourneyStartIsRefused(t *testing.T) {
	var steps []string
	for i := range 5 {
		steps = append(steps, fmt.Sprintf(`"s%d": {"send": {"channel": "sms", "template": {"body": %q}}, "next": "s%d"}`, i, strings.Repeat("x", 110<<10), i+1))
	}
	big := `{"id": "big", "start_at": "s0", "steps": {` + strings.Join(steps, ",") + `, "s5": {"exit": {}}}}`
	_, ps := Parse([]byte(big))
	if len(ps) != 1 || ps[0].Path != "" || !strings.Contains(ps[0].Message, "at most 524288 (512 KiB)") {
		t.Fatalf("problems: %v", ps)
	}
	// Reported with the definition's other problems, not after them.
	_, ps = Parse([]byte(strings.Replace(big, `"start_at": "s0"`, `"start_at": "s0", "rules": {"goal": "liked"}`, 1)))
	if got := paths(ps); len(got) != 2 || got[0] != "rules.goal" || got[1] != "" {
		t.Fatalf("problems: %v", ps)
	}

	var data Problems
	CheckData(&data, "data", map[string]any{"blob": strings.Repeat("x", 64<<10)})
	if len(data) != 1 || data[0].Path != "data" || !strings.Contains(data[0].Message, "64 KiB") {
		t.Fatalf("data problems: %v", data)
	}
	data = nil
	CheckData(&data, "data", map[string]any{"cart": map[string]any{"total": 42}})
	if len(data) != 0 {
		t.Fatalf("small data: %v", data)
	}
}

func TestPushLinksWhoseSchemeIsFixedAreCheckedAtValidation(t *testing.T) {
	def := func(template string) *Definition {
		d, ps := Parse([]byte(`{"id": "p", "start_at": "push", "steps": {"push": {"send": {"channels": ["push", "sms"], ` + template + `}, "next": "done"}, "done": {"exit": {}}}}`))
		if len(ps) > 0 {
			t.Fatalf("%s: %v", template, ps)
		}
		return d
	}
	schemes := LinkSchemes{"myapp"}
	for template, path := range map[string]string{
		`"template": {"title": "T", "body": "B", "link": "javascript:alert(1)"}`:                                         "steps.push.send.template.link",
		`"template": {"title": "T", "body": "B", "link": "http://x.example.com/{{id}}"}`:                                 "steps.push.send.template.link",
		`"template": {"body": "B"}, "templates": {"push": {"title": "T", "link": "vbscript:{{x}}"}}`:                     "steps.push.send.templates.push.link",
		`"template": {"title": "T", "body": "B", "link": "https://"}`:                                                    "steps.push.send.template.link",
		`"template": {"title": "T", "body": "B", "link": "https://shop.example.com/{{sku}}"}`:                            "",
		`"template": {"title": "T", "body": "B", "link": "MyApp://home"}`:                                                "",
		`"template": {"title": "T", "body": "B", "link": "{{data.link}}"}`:                                               "",
		`"template": {"body": "B"}, "templates": {"push": {"title": "T", "link": "myapp://p/{{sku}}?ref={{data.ref}}"}}`: "",
	} {
		ps := schemes.Check(def(template))
		switch {
		case path == "" && len(ps) > 0:
			t.Errorf("%s: %v", template, ps)
		case path != "" && (len(ps) != 1 || ps[0].Path != path):
			t.Errorf("%s: %v, want a problem at %s", template, ps, path)
		}
	}
}

func TestTextProblemFindsNULAndInvalidUTF8(t *testing.T) {
	for doc, want := range map[string]string{
		`{"id": "x", "attributes": {"a": "b\u0000"}}`: "attributes.a",
		`{"a\u0000": 1}`:                          `"a\x00"`,
		`{"x": [1, {"y": "\u0000"}]}`:             "x[1].y",
		"{\"x\": [\"ok\", \"\xc3\x28\"]}":         "x[1]",
		"\"\xff\"":                                "",
		`{"x": "\\u0000 is how JSON writes NUL"}`: "-",
		`{"x": "fine", "y": [true, null, 1.5]}`:   "-",
		`{"x":`:                                   "-", // malformed: DecodeStrict's to explain
	} {
		p := TextProblem([]byte(doc))
		switch {
		case want == "-" && p != nil:
			t.Errorf("%q: %v", doc, p)
		case want != "-" && (p == nil || p.Path != want):
			t.Errorf("%q: %v, want a problem at %q", doc, p, want)
		}
	}
}
