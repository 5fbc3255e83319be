package campaign

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/osteele/liquid/expressions"
	"github.com/osteele/liquid/filters"
	"github.com/osteele/liquid/render"
	"github.com/osteele/liquid/values"
)

// newRenderer makes a Liquid configuration of omni's own rather than the
// library's engine: the engine's for loop can be neither bounded nor
// replaced (a block cannot be redefined), and its filters cannot see a
// render. So the tags are omni's, after the library's and Shopify's
// semantics, and the standard filters are wrapped to report to the
// renderer's state.
func newRenderer() *renderer {
	r := &renderer{}
	s := &r.s
	cfg := render.NewConfig()
	cfg.TemplateStore = noFiles{}
	m := metered{&cfg, s}
	filters.AddStandardFilters(m)
	m.AddFilter("replace", s.replace)
	m.AddFilter("join", s.join)
	cfg.AddFilter("raw", raw)

	cfg.AddTag("assign", assignTag)
	cfg.AddTag("cycle", s.cycleTag)
	cfg.AddTag("break", loopControl(errBreak))
	cfg.AddTag("continue", loopControl(errContinue))
	cfg.AddBlock("capture").Compiler(s.captureBlock)
	cfg.AddBlock("case").Clause("when").Clause("else").Compiler(caseBlock)
	cfg.AddBlock("comment") // the parser skips comment and raw blocks once they are defined
	cfg.AddBlock("raw")
	cfg.AddBlock("for").Clause("else").Compiler(s.forBlock)
	cfg.AddBlock("if").Clause("elsif").Clause("else").Compiler(ifBlock(false))
	cfg.AddBlock("unless").Clause("else").Compiler(ifBlock(true))
	cfg.AddTag("include", refused("include", "templates cannot read files"))
	cfg.AddTag("render", refused("render", "templates cannot read files"))
	cfg.AddTag("tablerow", refused("tablerow", "use a for loop"))

	r.text, r.html = cfg, cfg
	r.html.SetAutoEscapeReplacer(render.HtmlEscaper)
	return r
}

// raw marks a value to write as is into an HTML body: the library's safe
// filter, under the name omni's templates use. Like safe it comes last: a
// filter after it sees the plain value, and its result is escaped.
func raw(v any) any {
	if _, ok := v.(values.SafeValue); ok {
		return v
	}
	return values.SafeValue{Value: v}
}

func refused(name, why string) render.TagCompiler {
	return func(string) (func(io.Writer, render.Context) error, error) {
		return nil, fmt.Errorf("%s is not allowed: %s", name, why)
	}
}

// metered adds filters so that the render's state sees their work.
type metered struct {
	cfg *render.Config
	s   *state
}

func (m metered) AddFilter(name string, fn any) { m.cfg.AddFilter(name, m.s.meter(fn)) }

var (
	anyType   = reflect.TypeFor[any]()
	errorType = reflect.TypeFor[error]()
)

// meter wraps a filter. The wrapper takes the filter's parameters as any,
// so that the library does not make a range into an array before the
// state sees how long it is, and converts them as the library would;
// optional parameters (functions) pass as they are.
func (s *state) meter(fn any) any {
	f := reflect.ValueOf(fn)
	in := make([]reflect.Type, f.Type().NumIn())
	for i := range in {
		if in[i] = f.Type().In(i); in[i].Kind() != reflect.Func {
			in[i] = anyType
		}
	}
	wrapper := reflect.FuncOf(in, []reflect.Type{anyType, errorType}, false)
	return reflect.MakeFunc(wrapper, func(args []reflect.Value) []reflect.Value {
		v, err := s.filter(f, args)
		return []reflect.Value{reflect.ValueOf(&v).Elem(), reflect.ValueOf(&err).Elem()}
	}).Interface()
}

// filter runs a filter within the render's limits: it checks the time,
// refuses a range too long to make into an array, and counts what the
// filter builds. A filter that panics (truncate: 5000 does) fails the
// render instead of the worker.
func (s *state) filter(f reflect.Value, args []reflect.Value) (result any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	if err := s.check(); err != nil {
		return nil, err
	}
	for i, a := range args {
		typ := f.Type().In(i)
		if typ.Kind() == reflect.Func {
			continue
		}
		v := a.Interface()
		if safe, ok := v.(values.SafeValue); ok {
			v = safe.Value
		}
		if r, ok := v.(values.Range); ok && (typ.Kind() == reflect.Slice || typ.Kind() == reflect.Array) {
			n := max(r.Len(), 0)
			if n > MaxBuiltBytes/wordBytes { // before n*wordBytes can overflow
				return nil, s.fail(errBuilt)
			}
			if err := s.fits(wordBytes * n); err != nil {
				return nil, err
			}
			if n == 0 {
				v = []any{} // (5..1) is empty; the library fails to make it an array
			}
		}
		if v == nil {
			args[i] = reflect.Zero(typ)
			continue
		}
		c, err := values.Convert(v, typ)
		if err != nil {
			return nil, err
		}
		args[i] = reflect.ValueOf(c)
	}
	out := f.Call(args)
	if len(out) == 2 && !out[1].IsNil() {
		return nil, out[1].Interface().(error)
	}
	result = out[0].Interface()
	return result, s.build(size(result))
}

// wordBytes is what an array element costs beyond its text: a string's or
// an interface's header.
const wordBytes = 16

// size is what a filter's result holds: its text, or an array's elements
// and their text.
func size(v any) int {
	switch v := v.(type) {
	case string:
		return len(v)
	case []string:
		n := wordBytes * len(v)
		for _, s := range v {
			n += len(s)
		}
		return n
	case []any:
		n := wordBytes * len(v)
		for _, x := range v {
			if s, ok := x.(string); ok {
				n += len(s)
			}
		}
		return n
	}
	return 0
}

// replace and join can build far more than they are given (a one-byte
// string replaced everywhere by a long one, a long separator between many
// items), so unlike the library's they refuse before building.

func (s *state) replace(in, old, new string) (string, error) {
	if n := strings.Count(in, old); n > 0 {
		if err := s.fits(len(in) + n*(len(new)-len(old))); err != nil {
			return "", err
		}
	}
	return strings.ReplaceAll(in, old, new), nil
}

func (s *state) join(items []any, separator func(string) string) (string, error) {
	sep := separator(" ")
	if err := s.fits(len(items) * len(sep)); err != nil {
		return "", err
	}
	parts := make([]string, 0, len(items))
	for _, v := range items {
		if v != nil {
			parts = append(parts, fmt.Sprint(v))
		}
	}
	return strings.Join(parts, sep), nil
}

func assignTag(args string) (func(io.Writer, render.Context) error, error) {
	stmt, err := expressions.ParseStatement(expressions.AssignStatementSelector, args)
	if err != nil {
		return nil, err
	}
	if len(stmt.Path) > 1 {
		return nil, errors.New("assign sets a variable, not a property")
	}
	a := stmt.Assignment
	return func(_ io.Writer, ctx render.Context) error {
		v, err := ctx.Evaluate(a.ValueFn)
		if err != nil {
			return err
		}
		ctx.Set(a.Variable, v)
		return nil
	}, nil
}

var variableName = regexp.MustCompile(`^[A-Za-z_][\w-]*$`)

// captureBlock compiles capture, which renders its body into a variable,
// counted as built. In an HTML body that text is HTML, its values escaped
// as they were written, so it is output with raw, which cannot inject
// anything the capture did not already hold.
func (s *state) captureBlock(node render.BlockNode) (func(io.Writer, render.Context) error, error) {
	name := strings.TrimSpace(node.Args)
	if !variableName.MatchString(name) {
		return nil, fmt.Errorf("capture needs a variable name, not %q", node.Args)
	}
	return func(_ io.Writer, ctx render.Context) error {
		c := &captured{s: s}
		if err := ctx.RenderChildren(c); err != nil {
			return err
		}
		ctx.Set(name, c.String())
		return nil
	}, nil
}

// ifBlock compiles if, or unless, which negates its test: the first
// branch whose test holds (is neither nil nor false) renders.
func ifBlock(negate bool) render.BlockCompiler {
	return func(node render.BlockNode) (func(io.Writer, render.Context) error, error) {
		type branch struct {
			test expressions.Expression
			body *render.BlockNode
		}
		test, err := expressions.Parse(node.Args)
		if err != nil {
			return nil, err
		}
		if negate {
			test = expressions.Not(test)
		}
		branches := []branch{{test, &node}}
		for _, c := range node.Clauses {
			test := expressions.Constant(true) // else
			if c.Name == "elsif" {
				if test, err = expressions.Parse(c.Args); err != nil {
					return nil, err
				}
			}
			branches = append(branches, branch{test, c})
		}
		return func(w io.Writer, ctx render.Context) error {
			for _, b := range branches {
				v, err := ctx.Evaluate(b.test)
				if err != nil {
					return err
				}
				if v != nil && v != false {
					return ctx.RenderBlock(w, b.body)
				}
			}
			return nil
		}, nil
	}
}

// caseBlock compiles case: the first when with a value equal to the
// case's renders, else the else.
func caseBlock(node render.BlockNode) (func(io.Writer, render.Context) error, error) {
	type when struct {
		values    []expressions.Expression
		otherwise bool
		body      *render.BlockNode
	}
	subject, err := expressions.Parse(node.Args)
	if err != nil {
		return nil, err
	}
	var whens []when
	for _, c := range node.Clauses {
		w := when{otherwise: c.Name == "else", body: c}
		if !w.otherwise {
			stmt, err := expressions.ParseStatement(expressions.WhenStatementSelector, c.Args)
			if err != nil {
				return nil, err
			}
			w.values = stmt.When.Exprs
		}
		whens = append(whens, w)
	}
	return func(w io.Writer, ctx render.Context) error {
		v, err := ctx.Evaluate(subject)
		if err != nil {
			return err
		}
		for _, c := range whens {
			match := c.otherwise
			for _, e := range c.values {
				x, err := ctx.Evaluate(e)
				if err != nil {
					return err
				}
				match = match || values.Equal(v, x)
			}
			if match {
				return ctx.RenderBlock(w, c.body)
			}
		}
		return nil
	}, nil
}

// cycleTag compiles cycle, which writes its values in turn, as in
// Shopify's Liquid: the turn is the render's, by the cycle's group or, for
// a cycle without one, by its values.
func (s *state) cycleTag(args string) (func(io.Writer, render.Context) error, error) {
	stmt, err := expressions.ParseStatement(expressions.CycleStatementSelector, args)
	if err != nil {
		return nil, err
	}
	c := stmt.Cycle
	group := c.Group
	if group == "" {
		group = "\x00" + strings.Join(c.Values, "\x00")
	}
	return func(w io.Writer, _ render.Context) error {
		n := s.cycles[group]
		s.cycles[group] = n + 1
		_, err := io.WriteString(w, c.Values[n%len(c.Values)])
		return err
	}, nil
}

// break and continue end the loop's iteration with an error the loop
// recognizes; outside a loop they fail the render.
var (
	errBreak    = errors.New("break outside a for loop")
	errContinue = errors.New("continue outside a for loop")
)

func loopControl(err error) render.TagCompiler {
	return func(string) (func(io.Writer, render.Context) error, error) {
		return func(io.Writer, render.Context) error { return err }, nil
	}
}

// cause is the error that stopped a render, out of the library's
// wrapping (which has Cause, not Unwrap).
func cause(err error) error {
	for {
		c, ok := err.(interface{ Cause() error })
		if !ok || c.Cause() == nil {
			return err
		}
		err = c.Cause()
	}
}

// forBlock compiles for, as Liquid has it: offset and limit apply first,
// then reversed, whatever their order; else renders when there is nothing
// to go through; forloop has index, index0, rindex, rindex0, first, last,
// length and parentloop. Every iteration counts towards
// MaxLoopIterations and checks the time, so even a loop with an empty
// body stops.
func (s *state) forBlock(node render.BlockNode) (func(io.Writer, render.Context) error, error) {
	stmt, err := expressions.ParseStatement(expressions.LoopStatementSelector, node.Args)
	if err != nil {
		return nil, err
	}
	if len(node.Clauses) > 1 {
		return nil, errors.New("a for loop has at most one else")
	}
	loop := stmt.Loop
	return func(w io.Writer, ctx render.Context) error {
		v, err := ctx.Evaluate(loop.Expr)
		if err != nil {
			return err
		}
		items := listOf(v)
		n := max(items.Len(), 0)
		from, err := loopNumber(ctx, loop.Offset, "offset", 0)
		if err != nil {
			return err
		}
		from = min(max(from, 0), n)
		limit, err := loopNumber(ctx, loop.Limit, "limit", n)
		if err != nil {
			return err
		}
		if n = min(max(limit, 0), n-from); n == 0 {
			if len(node.Clauses) == 1 {
				return ctx.RenderBlock(w, node.Clauses[0])
			}
			return nil
		}
		parent, shadowed := ctx.Get("forloop"), ctx.Get(loop.Variable)
		defer func() {
			ctx.Set("forloop", parent)
			ctx.Set(loop.Variable, shadowed)
		}()
		forloop := map[string]any{"length": n, "parentloop": parent}
		ctx.Set("forloop", forloop)
		for i := range n {
			if err := s.iterate(); err != nil {
				return err
			}
			at := from + i
			if loop.Reversed {
				at = from + n - 1 - i
			}
			ctx.Set(loop.Variable, items.Index(at))
			forloop["index"], forloop["index0"], forloop["rindex"], forloop["rindex0"] = i+1, i, n-i, n-i-1
			forloop["first"], forloop["last"] = i == 0, i == n-1
			if err := ctx.RenderChildren(w); err != nil {
				switch cause(err) {
				case errBreak:
					return nil
				case errContinue:
				default:
					return err
				}
			}
		}
		return nil
	}, nil
}

// loopNumber evaluates a loop's offset or limit; without one, or when it
// is nil, it is def.
func loopNumber(ctx render.Context, e expressions.Expression, name string, def int) (int, error) {
	if e == nil {
		return def, nil
	}
	v, err := ctx.Evaluate(e)
	if err != nil {
		return 0, err
	}
	switch n := v.(type) {
	case nil:
		return def, nil
	case int:
		return n, nil
	case float64: // a number from JSON
		return int(n), nil
	}
	return 0, fmt.Errorf("for loop %s must be a number, not %v", name, v)
}

// list is what a for loop goes through.
type list interface {
	Len() int
	Index(int) any
}

type items []any

func (l items) Len() int        { return len(l) }
func (l items) Index(i int) any { return l[i] }

type reflected struct{ reflect.Value }

func (l reflected) Index(i int) any { return l.Value.Index(i).Interface() }

// listOf is what a for loop over v goes through, as in Liquid: the items
// of an array or a range (which is never made into an array), the [key,
// value] pairs of an object (by key, so that renders repeat), a non-empty
// string once, and nothing of anything else.
func listOf(v any) list {
	switch v := v.(type) {
	case values.Range:
		return v
	case string:
		if v == "" {
			return items{}
		}
		return items{v}
	case map[string]any:
		pairs := make(items, 0, len(v))
		for _, k := range slices.Sorted(maps.Keys(v)) {
			pairs = append(pairs, []any{k, v[k]})
		}
		return pairs
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
		return reflected{rv}
	}
	return items{}
}
