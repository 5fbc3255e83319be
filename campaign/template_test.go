package campaign

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/osteele/liquid/render"
)

func TestCheckTemplateRefusesTagsThatReadFiles(t *testing.T) {
	for name, tc := range map[string]struct{ src, want string }{
		"include of /etc/passwd":       {`{% include "/etc/passwd" %}`, "include is not allowed"},
		"include of a relative":        {`Hi {% include "../../../../etc/passwd" %}`, "include is not allowed"},
		"include of the env":           {`{% include "/proc/self/environ" %}`, "include is not allowed"},
		"include of a variable":        {`{% include data.file %}`, "include is not allowed"},
		"include never rendered":       {`{% if false %}{% include "/etc/passwd" %}{% endif %}`, "include is not allowed"},
		"render":                       {`{% render "snippet" %}`, "render is not allowed"},
		"tablerow, which is unbounded": {`{% tablerow p in data.products %}{{ p }}{% endtablerow %}`, "tablerow is not allowed"},
		"a template over the limit":    {strings.Repeat("x", MaxTemplateBytes+1), "larger than 128 KiB"},
	} {
		t.Run(name, func(t *testing.T) {
			if err := CheckTemplate(tc.src); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckTemplate: %v, want an error containing %q", err, tc.want)
			}
			if out, err := Render(tc.src, nil, true); err == nil || !strings.Contains(err.Error(), tc.want) || out != "" {
				t.Fatalf("Render: %q, %v", out, err)
			}
		})
	}
}

func TestParseRefusesTemplatesThatReadFilesAtTheirPath(t *testing.T) {
	for name, tc := range map[string]struct{ from, to, path, want string }{
		"email body":  {`"body": "<p>10% off, {{first_name}}</p>"`, `"body": "<p>{% include '/etc/passwd' %}</p>"`, "steps.email-1.send.template.body", "include is not allowed"},
		"sms body":    {`"body": "{{first_name}}, 10% off today"`, `"body": "{% include '../../../../etc/passwd' %}"`, "steps.sms-1.send.template.body", "include is not allowed"},
		"push title":  {`"title": "Still there?"`, `"title": "{% render 'title' %}"`, "steps.push-1.send.template.title", "render is not allowed"},
		"big subject": {`"subject": "Hi {{first_name}}"`, `"subject": "` + strings.Repeat("x", MaxTemplateBytes+1) + `"`, "steps.email-1.send.template.subject", "larger than 128 KiB"},
	} {
		t.Run(name, func(t *testing.T) {
			body := strings.Replace(welcome, tc.from, tc.to, 1)
			if body == welcome {
				t.Fatal("test edit did not apply")
			}
			_, ps := Parse([]byte(body))
			for _, p := range ps {
				if p.Path == tc.path && strings.Contains(p.Message, tc.want) {
					return
				}
			}
			t.Fatalf("no problem at %s containing %q; got %v", tc.path, tc.want, ps)
		})
	}
}

func TestNoRenderReadsAFile(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A tag that reads a file as include does stands for one that slipped
	// past validation.
	r := newRenderer()
	r.text.AddTag("read", func(string) (func(io.Writer, render.Context) error, error) {
		return func(w io.Writer, ctx render.Context) error {
			s, err := ctx.RenderFile(secret, nil)
			if err != nil {
				return err
			}
			_, err = io.WriteString(w, s)
			return err
		}, nil
	})
	if out, err := r.render(`{% read %}`, nil, false); err == nil || strings.Contains(out, "s3cret") {
		t.Fatalf("read %q, %v", out, err)
	}
}

func TestRenderStopsAtItsLimits(t *testing.T) {
	// 500 KB built, then 5,000 truncates over it: within the loop and
	// build limits, and seconds of work.
	slow := `{% capture big %}{% for i in (1..5000) %}` + strings.Repeat("x", 100) + `{% endfor %}{% endcapture %}` +
		`{% for i in (1..5000) %}{{ big | truncate: 10 }}{% endfor %}`
	for name, tc := range map[string]struct {
		src       string
		want      error
		naming    string
		htmlBody  bool
		variables map[string]any
	}{
		"an empty loop of 100,000,000": {src: `{% for i in (1..100000000) %}{% endfor %}`, want: errIterations, naming: "10000 loop iterations"},
		"nested loops":                 {src: `{% for i in (1..1000) %}{% for j in (1..1000) %}{% endfor %}{% endfor %}`, want: errIterations, naming: "10000 loop iterations"},
		"loops one after another":      {src: `{% for i in (1..6000) %}{% endfor %}{% for i in (1..6000) %}{% endfor %}`, want: errIterations, naming: "10000 loop iterations"},
		"doubling with append":         {src: `{% assign s = "x" %}{% for i in (1..24) %}{% assign s = s | append: s %}{% endfor %}{{ s | size }}`, want: errBuilt, naming: "1 MiB"},
		"doubling with capture":        {src: `{% assign s = "x" %}{% for i in (1..24) %}{% capture s %}{{ s }}{{ s }}{% endcapture %}{% endfor %}{{ s | size }}`, want: errBuilt, naming: "1 MiB"},
		"doubling an array":            {src: `{% assign a = "x" | split: "," %}{% for i in (1..24) %}{% assign a = a | concat: a %}{% endfor %}{{ a | size }}`, want: errBuilt, naming: "1 MiB"},
		"replace everywhere":           {src: `{% assign s = "` + strings.Repeat("x", 2000) + `" %}{{ s | replace: "", s | size }}`, want: errBuilt, naming: "1 MiB"},
		"a long separator":             {src: `{{ (1..50000) | join: "` + strings.Repeat("-", 100) + `" | size }}`, want: errBuilt, naming: "1 MiB"},
		"a range made an array":        {src: `{{ (1..100000000) | first }}`, want: errBuilt, naming: "1 MiB"},
		"50 MB of text":                {src: `{% for i in (1..10000) %}` + strings.Repeat("x", 5000) + `{% endfor %}`, want: errOutput, naming: "256 KiB"},
		"a long value repeated":        {src: `{% for i in (1..100) %}{{ data.text }}{% endfor %}`, want: errOutput, naming: "256 KiB", htmlBody: true, variables: map[string]any{"data": map[string]any{"text": strings.Repeat("<>", 5000)}}},
		"slow work within the limits":  {src: slow, want: errTime, naming: "250ms"},
	} {
		t.Run(name, func(t *testing.T) {
			// The count budgets must fail on their count, not on a loaded
			// machine's time; the time bound is tested on its own.
			if tc.want != errTime {
				defer func(d time.Duration) { renderTime = d }(renderTime)
				renderTime = time.Minute
			}
			out, err := Render(tc.src, tc.variables, tc.htmlBody)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.naming) || out != "" {
				t.Fatalf("got %d bytes, %v; want %v", len(out), err, tc.want)
			}
		})
	}
}

func TestRenderEscapesTheFinalValueInHTML(t *testing.T) {
	vars := map[string]any{"x": "%3Cscript%3Ealert(1)%3C%2Fscript%3E", "name": "Ada", "note": "<b>hi</b>"}
	for name, tc := range map[string]struct{ src, want string }{
		"after url_decode":        {`{{ x | url_decode }}`, "&lt;script&gt;alert(1)&lt;/script&gt;"},
		"after append":            {`{{ name | append: "<br>" }}`, "Ada&lt;br&gt;"},
		"an assigned value":       {`{% assign s = x | url_decode %}{{ s }}`, "&lt;script&gt;alert(1)&lt;/script&gt;"},
		"the template's markup":   {`<p class="x">{{ name }}</p>`, `<p class="x">Ada</p>`},
		"raw opts out":            {`{{ note | raw }}`, "<b>hi</b>"},
		"raw after other filters": {`{{ x | url_decode | raw }}`, "<script>alert(1)</script>"},
		"a filter after raw":      {`{{ note | raw | upcase }}`, "&lt;B&gt;HI&lt;/B&gt;"},
		"a capture, with raw":     {`{% capture c %}<i>{{ note }}</i>{% endcapture %}{{ c | raw }}`, "<i>&lt;b&gt;hi&lt;/b&gt;</i>"},
	} {
		t.Run(name, func(t *testing.T) {
			if got, err := Render(tc.src, vars, true); err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if got, err := Render(`{{ x | url_decode }}`, vars, false); err != nil || got != "<script>alert(1)</script>" {
		t.Fatalf("plain text: %q, %v", got, err)
	}
}

func TestRenderLoopsAsLiquidDoes(t *testing.T) {
	vars := map[string]any{"items": []any{"a", "b", "c", "d", "e"}, "none": []any{}, "two": 2.0, "prices": map[string]any{"tea": 3.0, "cake": 4.5}}
	for name, tc := range map[string]struct{ src, want string }{
		"forloop": {`{% for i in items %}{{ forloop.index }}{{ forloop.index0 }}{{ forloop.rindex }}{{ forloop.rindex0 }}` +
			`{% if forloop.first %}F{% endif %}{% if forloop.last %}L{% endif %}/{{ forloop.length }} {% endfor %}`, "1054F/5 2143/5 3232/5 4321/5 5410L/5 "},
		"limit":                  {`{% for i in items limit: 2 %}{{ i }}{% endfor %}`, "ab"},
		"limit from data":        {`{% for i in items limit: two %}{{ i }}{% endfor %}`, "ab"},
		"offset":                 {`{% for i in items offset: 3 %}{{ i }}{% endfor %}`, "de"},
		"offset and limit":       {`{% for i in items offset: 1 limit: 2 %}{{ forloop.index }}{{ i }}{% endfor %}`, "1b2c"},
		"reversed":               {`{% for i in items reversed %}{{ i }}{% endfor %}`, "edcba"},
		"reversed after a limit": {`{% for i in items reversed limit: 2 %}{{ i }}{% endfor %}`, "ba"},
		"a range":                {`{% for i in (3..5) %}{{ i }}{% endfor %}`, "345"},
		"an object":              {`{% for p in prices %}{{ p[0] }} {{ p[1] }}; {% endfor %}`, "cake 4.5; tea 3; "},
		"else":                   {`{% for i in none %}{{ i }}{% else %}nothing{% endfor %}`, "nothing"},
		"else of a missing list": {`{% for i in missing %}{{ i }}{% else %}nothing{% endfor %}`, "nothing"},
		"else past the end":      {`{% for i in items offset: 9 %}{{ i }}{% else %}nothing{% endfor %}`, "nothing"},
		"break":                  {`{% for i in items %}{% if i == "c" %}{% break %}{% endif %}{{ i }}{% endfor %}`, "ab"},
		"continue":               {`{% for i in items %}{% if i == "c" %}{% continue %}{% endif %}{{ i }}{% endfor %}`, "abde"},
		"break of an inner loop": {`{% for i in (1..2) %}{% for j in items %}{% if j == "b" %}{% break %}{% endif %}{{ i }}{{ j }}{% endfor %}{% endfor %}`, "1a2a"},
		"parentloop":             {`{% for i in (1..2) %}{% for j in (1..2) %}{{ forloop.parentloop.index }}{{ forloop.index }} {% endfor %}{% endfor %}`, "11 12 21 22 "},
		"variables come back":    {`{% assign i = "x" %}{% for i in (1..2) %}{{ i }}{% endfor %}{{ i }}{{ forloop.index }}`, "12x"},
		"cycle":                  {`{% for i in items %}{% cycle "odd", "even" %} {% endfor %}`, "odd even odd even odd "},
		"cycles by values":       {`{% for i in (1..2) %}{% cycle "a", "b" %}{% cycle "x", "y" %}{% endfor %}`, "axby"},
		"cycle groups":           {`{% for i in (1..3) %}{% cycle "g": "1", "2" %}{% cycle "h": "1", "2" %}{% endfor %}`, "112211"},
	} {
		t.Run(name, func(t *testing.T) {
			if got, err := Render(tc.src, vars, false); err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestConcurrentRendersHaveTheirOwnBudgets(t *testing.T) {
	// Each render needs more than half the loop budget: two sharing one
	// would fail. The wall-time bound is lifted: a render starved by a
	// loaded machine (the race detector, other tests) is not what this
	// tests.
	defer func(d time.Duration) { renderTime = d }(renderTime)
	renderTime = time.Minute
	within := `{% for i in (1..5001) %}{% endfor %}ok`
	over := `{% for i in (1..20000) %}{% endfor %}`
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for range 20 {
				if out, err := Render(within, nil, false); err != nil || out != "ok" {
					t.Errorf("within the limits: %q, %v", out, err)
					return
				}
				if _, err := Render(over, nil, false); !errors.Is(err, errIterations) {
					t.Errorf("over the limit: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}
