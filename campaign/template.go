package campaign

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/osteele/liquid/parser"
	"github.com/osteele/liquid/render"
)

// Templates are Liquid (github.com/osteele/liquid). Anyone who can define
// a campaign writes them, and they run in the worker and in the API's
// preview, so what a render may cost is bounded whatever the template
// does, and no template reads a file. A render is one field of one message
// (an email's subject, its body, a push link); one that needs more than a
// limit fails with an error naming it.
const (
	// MaxTemplateBytes bounds a template's source: the largest hand-built
	// HTML emails fit (Gmail clips a message at 102 KB), and it bounds the
	// work a template without loops can do.
	MaxTemplateBytes = 128 << 10
	// MaxLoopIterations bounds the iterations of all for loops of a render
	// together, nested loops included: loops are how a template repeats
	// work, and a message lists tens of products, not thousands.
	MaxLoopIterations = 10_000
	// MaxOutputBytes bounds a rendered field, well above Gmail's clipping
	// point and far above SMS and push sizes.
	MaxOutputBytes = 256 << 10
	// MaxBuiltBytes bounds the strings and arrays that filters (append,
	// replace, split, concat, ...) and captures build in a render, which
	// is how a template grows memory: doubling a string in a loop stops at
	// 1 MiB instead of taking gigabytes. An assign stores what its
	// expression's filters built, so it is counted there.
	MaxBuiltBytes = 1 << 20
	// MaxRenderTime bounds a render's wall time, checked at every loop
	// iteration, filter and write; renders take microseconds.
	MaxRenderTime = 250 * time.Millisecond
)

// renderTime is the wall-time bound in force: MaxRenderTime, except in
// tests of the count budgets, which a loaded machine must not fail on
// time.
var renderTime = MaxRenderTime

var (
	errTooLarge   = fmt.Errorf("template is larger than %s", bytesText(MaxTemplateBytes))
	errIterations = fmt.Errorf("template exceeds %d loop iterations", MaxLoopIterations)
	errOutput     = fmt.Errorf("template output exceeds %s", bytesText(MaxOutputBytes))
	errBuilt      = fmt.Errorf("template builds more than %s of strings and arrays", bytesText(MaxBuiltBytes))
	errTime       = fmt.Errorf("template takes longer than %v to render", MaxRenderTime)
)

func bytesText(n int) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// CheckTemplate reports whether src is a template Render accepts: small
// enough, compiling, and using no refused tag (include, render, tablerow).
func CheckTemplate(src string) error {
	r := renderers.Get().(*renderer)
	defer renderers.Put(r)
	_, err := r.compile(src)
	return err
}

// Render renders src with the given variables; one the customer lacks
// renders as empty text, as in Braze and Customer.io. In an HTML body the
// final value of every {{ }}, after its filters, is HTML-escaped, unless its
// last filter is raw; subjects, SMS and push text are not HTML and are not
// escaped.
func Render(src string, vars map[string]any, htmlBody bool) (string, error) {
	r := renderers.Get().(*renderer)
	defer renderers.Put(r)
	out, err := r.render(src, vars, htmlBody)
	if err != nil {
		return "", fmt.Errorf("render template: %w", err)
	}
	return out, nil
}

// Renderers are pooled: the filters and tags of a renderer's Liquid
// configuration keep its render's state, so a renderer serves one render
// at a time and concurrent renders never share a budget.
var renderers = sync.Pool{New: func() any { return newRenderer() }}

type renderer struct {
	text, html render.Config
	s          state
}

func (r *renderer) compile(src string) (render.Node, error) {
	if len(src) > MaxTemplateBytes {
		return nil, errTooLarge
	}
	root, err := r.text.Compile(src, parser.SourceLoc{})
	if err != nil {
		return nil, fmt.Errorf("template does not compile: %w", err)
	}
	return root, nil
}

func (r *renderer) render(src string, vars map[string]any, htmlBody bool) (out string, err error) {
	root, err := r.compile(src)
	if err != nil {
		return "", err
	}
	r.s.reset(time.Now().Add(renderTime))
	cfg := r.text
	if htmlBody {
		cfg = r.html
	}
	o := &output{s: &r.s}
	defer func() {
		// The library panics when a writer fails at the end of a block
		// (ours do at a limit), and a filter's bug must not take the
		// worker down.
		if p := recover(); p != nil {
			if err = r.s.err; err == nil {
				slog.Error("template render panicked", "panic", p, "stack", string(debug.Stack()))
				if e, ok := p.(error); ok {
					p = cause(e) // the library's rethrown errors carry a stack
				}
				err = fmt.Errorf("template failed: %v", p)
			}
		}
	}()
	if rerr := render.Render(root, o, vars, cfg); rerr != nil {
		// The library wraps a limit's error in its own; the state keeps it plain.
		if r.s.err != nil {
			return "", r.s.err
		}
		return "", rerr
	}
	if r.s.err != nil { // a failed write the library did not report
		return "", r.s.err
	}
	return o.String(), nil
}

// state is one render's budget and what its tags remember.
type state struct {
	deadline   time.Time
	iterations int
	built      int
	cycles     map[string]int // the cycle tags' positions, by group
	err        error          // the first limit exceeded; every later check fails with it
}

func (s *state) reset(deadline time.Time) {
	*s = state{deadline: deadline, cycles: map[string]int{}}
}

func (s *state) fail(err error) error {
	if s.err == nil {
		s.err = err
	}
	return s.err
}

// check fails once a limit has been exceeded or the render's time is up.
func (s *state) check() error {
	if s.err == nil && time.Now().After(s.deadline) {
		s.err = errTime
	}
	return s.err
}

// iterate counts one loop iteration.
func (s *state) iterate() error {
	if s.iterations++; s.iterations > MaxLoopIterations {
		return s.fail(errIterations)
	}
	return s.check()
}

// fits fails if building n more bytes would exceed MaxBuiltBytes.
func (s *state) fits(n int) error {
	if n < 0 || n > MaxBuiltBytes-s.built {
		return s.fail(errBuilt)
	}
	return s.check()
}

// build counts n bytes built.
func (s *state) build(n int) error {
	if err := s.fits(n); err != nil {
		return err
	}
	s.built += n
	return nil
}

// output collects a render's text, up to MaxOutputBytes.
type output struct {
	strings.Builder
	s *state
}

func (o *output) Write(p []byte) (int, error) {
	if err := o.s.check(); err != nil {
		return 0, err
	}
	if o.Len()+len(p) > MaxOutputBytes {
		return 0, o.s.fail(errOutput)
	}
	return o.Builder.Write(p)
}

// captured collects a capture block's text, which counts as built.
type captured struct {
	strings.Builder
	s *state
}

func (c *captured) Write(p []byte) (int, error) {
	if err := c.s.build(len(p)); err != nil {
		return 0, err
	}
	return c.Builder.Write(p)
}

// noFiles is the renderers' template store: templates never read files.
// The include tag that would read one is refused when a template compiles;
// this makes sure no other way to it does either.
type noFiles struct{}

func (noFiles) ReadTemplate(name string) ([]byte, error) {
	return nil, errors.New("templates cannot read files")
}
