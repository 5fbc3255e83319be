package campaign

import (
	"regexp"
	"slices"
	"sort"
	"time"
)

// namePattern keeps campaign ids and step names safe inside workflow IDs
// (`journey:<campaign>:<customer>`), URLs and log lines.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$`)

// Parse decodes and validates a campaign definition. It returns every
// problem found, each at its JSON path.
func Parse(data []byte) (*Definition, Problems) {
	var d Definition
	if p := DecodeStrict(data, &d); p != nil {
		return nil, Problems{*p}
	}
	if ps := d.Validate(); len(ps) > 0 {
		return nil, ps
	}
	return &d, nil
}

// Validate reports every problem of the definition at once.
func (d *Definition) Validate() Problems {
	var ps Problems
	switch {
	case d.ID == "":
		ps.add("id", "required")
	case !namePattern.MatchString(d.ID):
		ps.add("id", "must be 1-100 letters, digits, '_' or '-', starting with a letter or digit")
	}
	if d.Rules != nil {
		d.Rules.validate(&ps)
	}
	if len(d.Steps) == 0 {
		ps.add("steps", "at least one step is required")
	}
	switch {
	case d.StartAt == "":
		ps.add("start_at", "required")
	case len(d.Steps) > 0:
		if _, ok := d.Steps[d.StartAt]; !ok {
			ps.add("start_at", "no step named %q", d.StartAt)
		}
	}
	for _, name := range d.stepNames() {
		path := Join("steps", name)
		if !namePattern.MatchString(name) {
			ps.add(path, "step names must be 1-100 letters, digits, '_' or '-', starting with a letter or digit")
		}
		d.validateStep(&ps, path, d.Steps[name])
	}
	if len(ps) == 0 {
		d.validateGraph(&ps)
	}
	return ps
}

func (d *Definition) stepNames() []string {
	names := make([]string, 0, len(d.Steps))
	for name := range d.Steps {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func (r *Rules) validate(ps *Problems) {
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"suppress_rejected_for", r.SuppressRejectedFor != nil},
		{"quiet_hours", r.QuietHours != nil},
		{"frequency_cap", r.FrequencyCap != nil},
		{"exit_on", r.ExitOn != nil},
		{"goal", r.Goal != nil},
	} {
		if f.set {
			ps.add(Join("rules", f.name), "not supported yet by this version of omni")
		}
	}
}

func (d *Definition) validateStep(ps *Problems, path string, s Step) {
	kinds := s.Kinds()
	switch len(kinds) {
	case 0:
		ps.add(path, "a step needs one of send, wait, exit")
		return
	case 1:
	default:
		ps.add(path, "a step has exactly one kind, found %v", kinds)
		return
	}
	if s.Else != nil {
		ps.add(Join(path, "else"), "not supported yet by this version of omni")
	}
	switch kinds[0] {
	case "send":
		d.validateSend(ps, path, s)
	case "wait":
		d.validateWait(ps, path, s)
	case "exit":
		if s.Next != "" {
			ps.add(Join(path, "next"), "an exit step has no next")
		}
		if s.On != nil {
			ps.add(Join(path, "on"), "an exit step has no on")
		}
	default:
		ps.add(Join(path, kinds[0]), "step kind %q is not supported yet by this version of omni", kinds[0])
	}
}

func (d *Definition) validateSend(ps *Problems, path string, s Step) {
	send := Join(path, "send")
	if s.Send.Channels != nil {
		ps.add(Join(send, "channels"), "cross-channel fallback is not supported yet by this version of omni; use channel")
	}
	switch {
	case s.Send.Channel == "":
		if s.Send.Channels == nil {
			ps.add(Join(send, "channel"), "required")
		}
	case !slices.Contains(Channels, s.Send.Channel):
		ps.add(Join(send, "channel"), "unknown channel %q; one of %v", s.Send.Channel, Channels)
	}
	t := s.Send.Template
	tpath := Join(send, "template")
	fields := []struct {
		name, src string
		required  bool
	}{
		{"subject", t.Subject, s.Send.Channel == Email},
		{"title", t.Title, false},
		{"body", t.Body, true},
	}
	for _, f := range fields {
		switch {
		case f.src == "" && f.required:
			ps.add(Join(tpath, f.name), "required for %s", s.Send.Channel)
		case f.src != "":
			if err := CheckTemplate(f.src); err != nil {
				ps.add(Join(tpath, f.name), "template does not compile: %v", err)
			}
		}
	}
	if t.Subject != "" && s.Send.Channel != Email && s.Send.Channel != "" {
		ps.add(Join(tpath, "subject"), "only email messages have a subject")
	}
	if t.Title != "" && s.Send.Channel != Push && s.Send.Channel != "" {
		ps.add(Join(tpath, "title"), "only push messages have a title")
	}
	if s.On != nil {
		ps.add(Join(path, "on"), "a send step continues at next; on belongs to waits")
	}
	d.checkRef(ps, Join(path, "next"), s.Next, true)
}

func (d *Definition) validateWait(ps *Problems, path string, s Step) {
	w := s.Wait
	wpath := Join(path, "wait")
	if len(w.For) == 0 {
		ps.add(Join(wpath, "for"), "name at least one response type to wait for")
	}
	for i, typ := range w.For {
		if !slices.Contains(ResponseTypes, typ) {
			ps.add(Index(Join(wpath, "for"), i), "unknown response type %q; one of %v", typ, ResponseTypes)
		}
	}
	if w.Timeout == "" {
		ps.add(Join(wpath, "timeout"), "required (a Go duration such as \"48h\" or \"30m\")")
	} else if dur, err := time.ParseDuration(w.Timeout); err != nil || dur <= 0 {
		ps.add(Join(wpath, "timeout"), "must be a positive duration such as \"48h\" or \"30m\"")
	}
	for _, outcome := range sortedKeys(s.On) {
		if outcome != Timeout && !slices.Contains(w.For, outcome) {
			ps.add(Join(Join(path, "on"), outcome), "the wait does not await %q", outcome)
		}
		d.checkRef(ps, Join(Join(path, "on"), outcome), s.On[outcome], true)
	}
	if s.Next != "" {
		d.checkRef(ps, Join(path, "next"), s.Next, true)
		return
	}
	for _, outcome := range append(slices.Clone(w.For), Timeout) {
		if _, ok := s.On[outcome]; !ok {
			ps.add(Join(path, "on"), "no step for %q: add it to on, or give the wait a next", outcome)
		}
	}
}

func (d *Definition) checkRef(ps *Problems, path, ref string, required bool) {
	if ref == "" {
		if required {
			ps.add(path, "required")
		}
		return
	}
	if _, ok := d.Steps[ref]; !ok {
		ps.add(path, "no step named %q", ref)
	}
}

// Successors lists the steps a step can continue at.
func (s Step) Successors() []string {
	var next []string
	if s.Next != "" {
		next = append(next, s.Next)
	}
	for _, k := range sortedKeys(s.On) {
		next = append(next, s.On[k])
	}
	return next
}

// validateGraph checks that every step is reachable and that no loop can
// run without passing a wait (it would send without pause).
func (d *Definition) validateGraph(ps *Problems) {
	reached := map[string]bool{}
	var visit func(string)
	visit = func(name string) {
		if reached[name] {
			return
		}
		reached[name] = true
		for _, next := range d.Steps[name].Successors() {
			visit(next)
		}
	}
	visit(d.StartAt)
	for _, name := range d.stepNames() {
		if !reached[name] {
			ps.add(Join("steps", name), "not reachable from start_at %q", d.StartAt)
		}
	}

	// Depth-first search over the edges that do not pass a wait.
	const (
		unseen = iota
		active
		done
	)
	state := map[string]int{}
	var walk func(name string, trail []string) bool
	walk = func(name string, trail []string) bool {
		switch state[name] {
		case active:
			ps.add(Join("steps", name), "loop without a wait: %v", append(trail, name))
			return true
		case done:
			return false
		}
		state[name] = active
		if s := d.Steps[name]; s.Wait == nil {
			for _, next := range s.Successors() {
				if walk(next, append(trail, name)) {
					return true
				}
			}
		}
		state[name] = done
		return false
	}
	for _, name := range d.stepNames() {
		if walk(name, nil) {
			return
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
