package campaign

import (
	"fmt"
	"html"

	"github.com/osteele/liquid"
)

// The Liquid engine is safe for concurrent use. Variables a template uses
// but the customer lacks render as empty text, as in Braze and Customer.io.
var engine = newEngine()

func newEngine() *liquid.Engine {
	e := liquid.NewEngine()
	// Values are escaped before they reach an HTML body (see Render); raw
	// opts out for a value that is trusted HTML.
	e.RegisterFilter("raw", html.UnescapeString)
	return e
}

// CheckTemplate reports whether src compiles as a Liquid template.
func CheckTemplate(src string) error {
	if _, err := engine.ParseString(src); err != nil {
		return err
	}
	return nil
}

// Render renders src with the given variables. For an HTML body every
// string value is HTML-escaped first (the Liquid engine has no
// auto-escaping), so customer data cannot inject markup into an email.
func Render(src string, vars map[string]any, htmlBody bool) (string, error) {
	if htmlBody {
		vars = escapeAll(vars).(map[string]any)
	}
	out, err := engine.ParseAndRenderString(src, vars)
	if err != nil {
		return "", fmt.Errorf("render template: %w", err)
	}
	return out, nil
}

func escapeAll(v any) any {
	switch v := v.(type) {
	case string:
		return html.EscapeString(v)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = escapeAll(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = escapeAll(x)
		}
		return out
	}
	return v
}
