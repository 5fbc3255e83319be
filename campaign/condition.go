package campaign

import (
	"reflect"
	"strings"
)

// Condition is a branch test. Attribute tests (equals, in, exists, gt, gte,
// lt, lte; several together must all hold, so gte and lt make a range) look
// at the customer's attribute, which may be a dotted path into nested
// objects ("address.city"); Property tests, the same, at a property of the
// event that entered the journey (or of the event a trigger tests).
// Reachable and Consent test a channel, Responded a response type received
// so far in this journey; All, Any and Not combine. Performed, a test of
// the customer's events, is for segments only (see Segment).
type Condition struct {
	Attribute string   `json:"attribute,omitempty"`
	Property  string   `json:"property,omitempty"`
	Equals    any      `json:"equals,omitempty"`
	In        []any    `json:"in,omitempty"`
	Exists    *bool    `json:"exists,omitempty"`
	GT        *float64 `json:"gt,omitempty"`
	GTE       *float64 `json:"gte,omitempty"`
	LT        *float64 `json:"lt,omitempty"`
	LTE       *float64 `json:"lte,omitempty"`

	Reachable string `json:"reachable,omitempty"`
	Consent   string `json:"consent,omitempty"`
	Responded string `json:"responded,omitempty"`

	Performed *Performed `json:"performed,omitempty"`

	All []Condition `json:"all,omitempty"`
	Any []Condition `json:"any,omitempty"`
	Not *Condition  `json:"not,omitempty"`
}

// Facts are what conditions know of the customer at the moment a branch is
// taken.
type Facts struct {
	Attributes map[string]any
	// Reachable: the customer has an address or token on the channel.
	Reachable map[string]bool
	Consent   map[string]bool
	// Event is the properties of the event that entered the journey, or
	// that a trigger tests.
	Event map[string]any
}

// NeedsFacts reports whether evaluating c needs the customer's profile
// (anything but Responded and Property).
func (c Condition) NeedsFacts() bool {
	if c.Attribute != "" || c.Reachable != "" || c.Consent != "" {
		return true
	}
	for _, sub := range append(append([]Condition{}, c.All...), c.Any...) {
		if sub.NeedsFacts() {
			return true
		}
	}
	return c.Not != nil && c.Not.NeedsFacts()
}

// Eval evaluates c against the facts and the response types received so far.
func (c Condition) Eval(f Facts, responded []string) bool {
	switch {
	case c.Attribute != "":
		return c.evalValue(f.Attributes, c.Attribute)
	case c.Property != "":
		return c.evalValue(f.Event, c.Property)
	case c.Reachable != "":
		return f.Reachable[c.Reachable]
	case c.Consent != "":
		return f.Consent[c.Consent]
	case c.Responded != "":
		for _, r := range responded {
			if r == c.Responded {
				return true
			}
		}
		return false
	case c.All != nil:
		for _, sub := range c.All {
			if !sub.Eval(f, responded) {
				return false
			}
		}
		return true
	case c.Any != nil:
		for _, sub := range c.Any {
			if sub.Eval(f, responded) {
				return true
			}
		}
		return false
	case c.Not != nil:
		return !c.Not.Eval(f, responded)
	}
	return false
}

// evalValue applies the value tests to the value at path in values.
func (c Condition) evalValue(values map[string]any, path string) bool {
	v, ok := lookup(values, path)
	if c.Exists != nil && ok != *c.Exists {
		return false
	}
	if c.Equals != nil && !(ok && Equal(v, c.Equals)) {
		return false
	}
	if c.In != nil {
		found := false
		for _, want := range c.In {
			found = found || (ok && Equal(v, want))
		}
		if !found {
			return false
		}
	}
	n, isNumber := v.(float64)
	for _, cmp := range []struct {
		bound *float64
		holds func(a, b float64) bool
	}{
		{c.GT, func(a, b float64) bool { return a > b }},
		{c.GTE, func(a, b float64) bool { return a >= b }},
		{c.LT, func(a, b float64) bool { return a < b }},
		{c.LTE, func(a, b float64) bool { return a <= b }},
	} {
		if cmp.bound != nil && !(isNumber && cmp.holds(n, *cmp.bound)) {
			return false
		}
	}
	return true
}

// lookup follows a dotted path through nested objects.
func lookup(attrs map[string]any, path string) (any, bool) {
	var cur any = attrs
	for _, key := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[key]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// Equal compares JSON values; numbers compare by value whatever their Go
// type.
func Equal(a, b any) bool {
	if x, ok := number(a); ok {
		y, ok := number(b)
		return ok && x == y
	}
	return reflect.DeepEqual(a, b)
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}
