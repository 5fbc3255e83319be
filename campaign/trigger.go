package campaign

import (
	"regexp"
	"slices"
	"time"
)

// Trigger enrolls a customer at once when an event of name Event happens
// to them (and Where, over the event's properties and the customer, holds),
// while the campaign is active; or when they enter (or leave, On) the
// segment Segment. The event's properties are the journey's `event`, in
// templates and conditions.
type Trigger struct {
	Event   string     `json:"event,omitempty"`
	Where   *Condition `json:"where,omitempty"`
	Segment string     `json:"segment,omitempty"`
	On      string     `json:"on,omitempty"`
}

// Segment triggers fire on entering (the default) or leaving.
const (
	SegmentEnter = "enter"
	SegmentLeave = "leave"
)

// Entry says when a customer may enter the campaign (again). Key names a
// property of the triggering event that names a journey of its own (one
// journey per cart: two carts are two journeys, the same cart's event
// twice enters once). Reentry is never (the default: once per customer, or
// per key), after_exit (again once the previous journey ended) or always
// (on every trigger, while one runs too); Cooldown is the least time
// between a customer's entries, Max the most entries a customer makes.
type Entry struct {
	Key      string `json:"key,omitempty"`
	Reentry  string `json:"reentry,omitempty"`
	Cooldown string `json:"cooldown,omitempty"`
	Max      int    `json:"max,omitempty"`
}

// Reentry modes.
const (
	ReenterNever     = "never"
	ReenterAfterExit = "after_exit"
	ReenterAlways    = "always"
)

// Rule is the entry rule in force: the definition's, else once per
// customer.
func (d *Definition) Rule() Entry {
	e := Entry{Reentry: ReenterNever}
	if d.Entry != nil {
		e = *d.Entry
		if e.Reentry == "" {
			e.Reentry = ReenterNever
		}
	}
	return e
}

// CooldownDuration is the parsed Cooldown of a validated entry.
func (e Entry) CooldownDuration() time.Duration {
	d, _ := time.ParseDuration(e.Cooldown)
	return d
}

// Listens lists the events the campaign's journeys wait for or exit on,
// which are routed to them.
func (d *Definition) Listens() []string {
	names := []string{}
	add := func(n string) {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if d.Rules != nil {
		for _, n := range d.Rules.ExitOnEvents {
			add(n)
		}
	}
	for _, name := range d.stepNames() {
		if w := d.Steps[name].Wait; w != nil {
			for _, n := range w.Events {
				add(n)
			}
		}
	}
	return names
}

// eventName is what an event's name may be: what systems call their
// events (cart_abandoned, order.placed, and Segment's Order Completed:
// spaces between words), short enough for an index.
var eventName = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9_.: -]{0,98}[A-Za-z0-9_.:-])?$`)

// EventName is the rule of event names.
var EventName = idRule(eventName.String(), "1 to 100 letters, digits, '_', '.', ':', '-' or spaces between them, starting with a letter or digit")

func (d *Definition) validateTrigger(ps *Problems) {
	if t := d.Trigger; t != nil {
		switch {
		case t.Event != "" && t.Segment != "":
			ps.add("trigger", "a trigger is an event or a segment, not both")
		case t.Event != "":
			EventName.Check(ps, "trigger.event", t.Event)
			if t.On != "" {
				ps.add("trigger.on", "an event trigger fires when the event happens; on is for segments")
			}
		case t.Segment != "":
			CampaignID.Check(ps, "trigger.segment", t.Segment)
			if t.On != "" && t.On != SegmentEnter && t.On != SegmentLeave {
				ps.add("trigger.on", "enter or leave")
			}
			if t.Where != nil {
				ps.add("trigger.where", "a segment trigger has no event to test; put the condition in the segment")
			}
		default:
			ps.add("trigger", "name the event (trigger.event) or the segment (trigger.segment) that enrolls")
		}
		if t.Where != nil {
			validateCondition(ps, "trigger.where", *t.Where)
			noResponded(ps, "trigger.where", *t.Where)
		}
	}
	if e := d.Entry; e != nil {
		if e.Key != "" && (d.Trigger == nil || d.Trigger.Event == "") {
			ps.add("entry.key", "the key is a property of the triggering event: this campaign has no event trigger")
		}
		if e.Reentry != "" && !slices.Contains([]string{ReenterNever, ReenterAfterExit, ReenterAlways}, e.Reentry) {
			ps.add("entry.reentry", "never, after_exit or always")
		}
		if e.Cooldown != "" {
			checkDuration(ps, "entry.cooldown", e.Cooldown)
		}
		if e.Max < 0 {
			ps.add("entry.max", "at least 0 (0: no limit)")
		}
	}
	if d.Rules != nil {
		for i, n := range d.Rules.ExitOnEvents {
			EventName.Check(ps, Index("rules.exit_on_events", i), n)
		}
	}
}

// validateWaitEvents checks what a wait awaits of events.
func (d *Definition) validateWaitEvents(ps *Problems, wpath string, w *Wait) {
	for i, n := range w.Events {
		p := Index(Join(wpath, "events"), i)
		EventName.Check(ps, p, n)
		if slices.Contains(ResponseTypes, n) || n == Timeout {
			ps.add(p, "%q is a response type (or the timeout); a wait awaits responses in for", n)
		}
	}
	if len(w.Match) > 0 {
		if len(w.Events) == 0 {
			ps.add(Join(wpath, "match"), "match compares events' properties: name the events to wait for")
		}
		if d.Trigger == nil || d.Trigger.Event == "" {
			ps.add(Join(wpath, "match"), "match compares with the event that entered the journey: this campaign has no event trigger")
		}
		for i, p := range w.Match {
			if p == "" {
				ps.add(Index(Join(wpath, "match"), i), "a property name")
			}
		}
	}
}

// noResponded refuses responded in a trigger's condition, which tests an
// event before any journey has responses.
func noResponded(ps *Problems, path string, c Condition) {
	if c.Responded != "" {
		ps.add(Join(path, "responded"), "a trigger tests the event and the customer before their journey begins")
	}
	for i, sub := range c.All {
		noResponded(ps, Index(Join(path, "all"), i), sub)
	}
	for i, sub := range c.Any {
		noResponded(ps, Index(Join(path, "any"), i), sub)
	}
	if c.Not != nil {
		noResponded(ps, Join(path, "not"), *c.Not)
	}
}
