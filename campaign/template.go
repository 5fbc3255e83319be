package campaign

import (
	"fmt"

	"github.com/osteele/liquid"
)

// The Liquid engine is safe for concurrent use. Variables a template uses
// but the customer lacks render as empty text, as in Braze and Customer.io.
var engine = liquid.NewEngine()

// CheckTemplate reports whether src compiles as a Liquid template.
func CheckTemplate(src string) error {
	if _, err := engine.ParseString(src); err != nil {
		return err
	}
	return nil
}

// Render renders src with the given variables.
func Render(src string, vars map[string]any) (string, error) {
	out, err := engine.ParseAndRenderString(src, vars)
	if err != nil {
		return "", fmt.Errorf("render template: %w", err)
	}
	return out, nil
}
