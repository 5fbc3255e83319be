package campaign

import (
	"slices"
	"strings"
	"time"
)

// Segment is a named set of customers, kept as events and profile changes
// arrive: those for whom Where holds. Where is the condition language over
// the customer (attribute, reachable, consent, combined with all, any and
// not) plus performed, a test of what the customer did.
type Segment struct {
	ID    string    `json:"id"`
	Name  string    `json:"name,omitempty"`
	Where Condition `json:"where"`
}

// Performed tests a customer's events of one name. Alone (or with
// at_least and within) it holds when the customer performed the event at
// least AtLeast times (default 1) within the last Within (ever, without
// one); LastBefore holds when they performed it, but not within that long
// (lapsed); LastAfter when the last time was within that long (the same as
// within); Never when they did not perform it (within Within, if given).
type Performed struct {
	Event      string `json:"event"`
	AtLeast    int    `json:"at_least,omitempty"`
	Within     string `json:"within,omitempty"`
	LastBefore string `json:"last_before,omitempty"`
	LastAfter  string `json:"last_after,omitempty"`
	Never      bool   `json:"never,omitempty"`
}

// Behaviour is a Performed test in the form membership is computed in: the
// customer's Nth latest event of the name (N = Count) is "recent" when it occurred
// within Window (Window 0: ever). Holds is recent, not recent, or
// performed but not recent.
type Behaviour struct {
	Event  string
	Count  int
	Window time.Duration
	Holds  string
}

// How a Behaviour's recent event decides it.
const (
	HoldsRecent    = "recent"     // at least Count events within Window
	HoldsNotRecent = "not_recent" // fewer (never, within Window)
	HoldsLapsed    = "lapsed"     // performed, but not within Window
)

// Behaviour is the validated test in the form membership is computed in.
func (p Performed) Behaviour() Behaviour {
	b := Behaviour{Event: p.Event, Count: max(p.AtLeast, 1), Holds: HoldsRecent}
	switch {
	case p.LastBefore != "":
		b.Window, b.Holds = mustSpan(p.LastBefore), HoldsLapsed
	case p.LastAfter != "":
		b.Window = mustSpan(p.LastAfter)
	case p.Never:
		b.Holds = HoldsNotRecent
		if p.Within != "" {
			b.Window = mustSpan(p.Within)
		}
	case p.Within != "":
		b.Window = mustSpan(p.Within)
	}
	return b
}

// ParseSegment decodes and validates a segment definition, reporting every
// problem at its JSON path.
func ParseSegment(data []byte) (*Segment, Problems) {
	var s Segment
	if p := DecodeStrict(data, &s); p != nil {
		return nil, Problems{*p}
	}
	var ps Problems
	CampaignID.Check(&ps, "id", s.ID)
	if len(s.Name) > 200 {
		ps.add("name", "at most 200 characters")
	}
	validateSegmentCondition(&ps, "where", s.Where, 0)
	if len(ps) > 0 {
		return nil, ps
	}
	return &s, nil
}

// maxSegmentDepth bounds how deeply all, any and not nest: each level is a
// level of SQL.
const maxSegmentDepth = 8

// maxSegmentBehaviours bounds the performed tests of a segment: each is a
// lookup per customer evaluated.
const maxSegmentBehaviours = 16

func validateSegmentCondition(ps *Problems, path string, c Condition, depth int) {
	if depth > maxSegmentDepth {
		ps.add(path, "nested more than %d levels deep", maxSegmentDepth)
		return
	}
	if c.Performed == nil && c.All == nil && c.Any == nil && c.Not == nil {
		// A test of the customer, as a launch filter tests them.
		switch {
		case c.Property != "":
			ps.add(Join(path, "property"), "a segment has no event of its own: test attributes, consent, reachable or performed")
		case c.Responded != "":
			ps.add(Join(path, "responded"), "a segment spans journeys: test performed events instead")
		default:
			validateCondition(ps, path, c)
		}
		return
	}
	if n := countKinds(c); n != 1 {
		ps.add(path, "a condition tests one thing: attribute (with equals, in, exists, gt, gte, lt or lte), reachable, consent, performed, all, any or not")
		return
	}
	switch {
	case c.Performed != nil:
		validatePerformed(ps, Join(path, "performed"), *c.Performed)
	case c.All != nil || c.Any != nil:
		kind, subs := "all", c.All
		if c.Any != nil {
			kind, subs = "any", c.Any
		}
		if len(subs) == 0 {
			ps.add(Join(path, kind), "list at least one condition")
		}
		for i, sub := range subs {
			validateSegmentCondition(ps, Index(Join(path, kind), i), sub, depth+1)
		}
	case c.Not != nil:
		validateSegmentCondition(ps, Join(path, "not"), *c.Not, depth+1)
	}
	if depth == 0 && len(c.Behaviours()) > maxSegmentBehaviours {
		ps.add(path, "at most %d performed tests", maxSegmentBehaviours)
	}
}

// countKinds counts what a condition with performed, all, any or not
// tests; the customer's tests count as one.
func countKinds(c Condition) int {
	n := 0
	for _, set := range []bool{c.Performed != nil, c.All != nil, c.Any != nil, c.Not != nil,
		c.Attribute != "" || c.Property != "" || c.Reachable != "" || c.Consent != "" || c.Responded != "" ||
			c.Equals != nil || c.In != nil || c.Exists != nil || c.GT != nil || c.GTE != nil || c.LT != nil || c.LTE != nil} {
		if set {
			n++
		}
	}
	return n
}

func validatePerformed(ps *Problems, path string, p Performed) {
	EventName.Check(ps, Join(path, "event"), p.Event)
	if p.AtLeast < 0 {
		ps.add(Join(path, "at_least"), "a count of 1 or more")
	}
	var modes []string
	for _, m := range []struct {
		name string
		set  bool
	}{{"last_before", p.LastBefore != ""}, {"last_after", p.LastAfter != ""}, {"never", p.Never}} {
		if m.set {
			modes = append(modes, m.name)
		}
	}
	if len(modes) > 1 {
		ps.add(path, "one of last_before, last_after or never; found %v", modes)
		return
	}
	if len(modes) == 1 && (p.AtLeast != 0 || p.Within != "" && !p.Never) {
		ps.add(path, "%s tests the last event: at_least and within go with performed alone (within with never too)", modes[0])
	}
	for _, d := range []struct{ name, v string }{{"within", p.Within}, {"last_before", p.LastBefore}, {"last_after", p.LastAfter}} {
		if d.v != "" {
			checkSpan(ps, Join(path, d.name), d.v)
		}
	}
}

// maxSpan bounds a window: ten years, far enough for any lifecycle.
const maxSpan = 10 * 365 * day

func checkSpan(ps *Problems, path, s string) {
	if d, err := ParseDuration(s); err != nil {
		ps.add(path, "%v", err)
	} else if d > maxSpan {
		ps.add(path, "at most 10 years (520w)")
	}
}

// mustSpan is the parsed span of a validated definition.
func mustSpan(s string) time.Duration {
	d, _ := ParseDuration(s)
	return d
}

// Behaviours lists the performed tests in c, depth first.
func (c Condition) Behaviours() []Behaviour {
	var out []Behaviour
	c.walk(func(c Condition) {
		if c.Performed != nil {
			out = append(out, c.Performed.Behaviour())
		}
	})
	return out
}

// SegmentInputs are what a segment's membership depends on: the names of
// the events it tests, and the customer's fields (Fields: "email",
// "phone", "push_token", "consent.<channel>", "attributes.<top-level key>").
func (c Condition) SegmentInputs() (events, fields []string) {
	add := func(list *[]string, v string) {
		if !slices.Contains(*list, v) {
			*list = append(*list, v)
		}
	}
	c.walk(func(c Condition) {
		switch {
		case c.Performed != nil:
			add(&events, c.Performed.Event)
		case c.Attribute != "":
			add(&fields, "attributes."+strings.SplitN(c.Attribute, ".", 2)[0])
		case c.Reachable != "":
			add(&fields, ReachableField(c.Reachable))
		case c.Consent != "":
			add(&fields, "consent."+c.Consent)
		}
	})
	return events, fields
}

// ReachableField is the customer's field that makes them reachable on
// channel.
func ReachableField(channel string) string {
	switch channel {
	case SMS:
		return "phone"
	case Push:
		return "push_token"
	}
	return "email"
}

func (c Condition) walk(visit func(Condition)) {
	visit(c)
	for _, sub := range c.All {
		sub.walk(visit)
	}
	for _, sub := range c.Any {
		sub.walk(visit)
	}
	if c.Not != nil {
		c.Not.walk(visit)
	}
}
