package campaign

import (
	"cmp"
	"encoding/json"
	"regexp"
	"slices"
	"sort"
)

// namePattern keeps campaign ids and step names safe inside workflow IDs
// (`journey:<campaign>:<customer>`), URLs and JSON paths.
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
	CampaignID.Check(&ps, "id", d.ID)
	if d.OfferID != "" {
		OfferID.Check(&ps, "offer_id", d.OfferID)
	}
	if d.Rules != nil {
		d.Rules.validate(&ps)
	}
	d.validateTrigger(&ps)
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
	// The graph is checked whatever else is wrong, so that an orphan step is
	// reported with a bad channel rather than after it is fixed; it needs a
	// start to walk from (a broken reference is a problem of its own, and a
	// step it was meant to reach is unreachable indeed).
	if _, ok := d.Steps[d.StartAt]; ok {
		d.validateGraph(&ps)
	}
	d.validateSize(&ps)
	return ps
}

// MaxDefinitionBytes bounds a definition as it is serialized into every
// journey's start (the workflow input carries the version's definition).
// Temporal refuses a payload over 2 MB and a gRPC message over 4 MB; the
// definition and the enrolment's data (MaxDataBytes) stay well inside.
const MaxDefinitionBytes = 512 << 10

// validateSize checks that every journey of d can start.
func (d *Definition) validateSize(ps *Problems) {
	data, err := json.Marshal(d) // as Temporal's JSON payload converter writes it
	if err != nil {
		ps.add("", "the definition cannot be serialized: %v", err)
		return
	}
	if len(data) > MaxDefinitionBytes {
		ps.add("", "the definition is %d bytes serialized; at most %d (%s), so that each journey's start fits Temporal's payload limit",
			len(data), MaxDefinitionBytes, bytesText(MaxDefinitionBytes))
	}
}

// MaxDataBytes bounds an enrolment's data, serialized, which every
// journey's start carries next to the definition.
const MaxDataBytes = 64 << 10

// CheckData adds a problem at path to ps when enrolment data is too large
// for a journey's start.
func CheckData(ps *Problems, path string, data map[string]any) {
	if data == nil {
		return
	}
	b, err := json.Marshal(data)
	switch {
	case err != nil:
		ps.add(path, "cannot be serialized: %v", err)
	case len(b) > MaxDataBytes:
		ps.add(path, "is %d bytes serialized; at most %d (%s), so that the journey's start fits Temporal's payload limit",
			len(b), MaxDataBytes, bytesText(MaxDataBytes))
	}
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
	for i, typ := range r.ExitOn {
		checkResponseType(ps, Index("rules.exit_on", i), typ)
	}
	if r.Goal != "" {
		checkResponseType(ps, "rules.goal", r.Goal)
	}
	if q := r.QuietHours; q != nil {
		_, errFrom := checkClock(ps, "rules.quiet_hours.from", q.From)
		_, errTo := checkClock(ps, "rules.quiet_hours.to", q.To)
		if errFrom == nil && errTo == nil && q.From == q.To {
			ps.add("rules.quiet_hours", "from and to must differ")
		}
	}
	if r.SuppressRejectedFor != "" {
		checkDuration(ps, "rules.suppress_rejected_for", r.SuppressRejectedFor)
	}
	if f := r.FrequencyCap; f != nil {
		if f.Max < 1 {
			ps.add("rules.frequency_cap.max", "must be at least 1")
		}
		checkDuration(ps, "rules.frequency_cap.per", f.Per)
	}
}

func checkResponseType(ps *Problems, path, typ string) {
	if !slices.Contains(ResponseTypes, typ) {
		ps.add(path, "unknown response type %q; one of %v", typ, ResponseTypes)
	}
}

func checkChannel(ps *Problems, path, ch string) {
	if !slices.Contains(Channels, ch) {
		ps.add(path, "unknown channel %q; one of %v", ch, Channels)
	}
}

func checkClock(ps *Problems, path, s string) (int, error) {
	h, m, err := ParseClock(s)
	if err != nil {
		ps.add(path, "must be a time of day such as \"08:00\"")
	}
	return h*60 + m, err
}

func checkDuration(ps *Problems, path, s string) {
	if _, err := ParseDuration(s); err != nil {
		ps.add(path, "%v", err)
	}
}

func (d *Definition) validateStep(ps *Problems, path string, s Step) {
	kinds := s.Kinds()
	switch len(kinds) {
	case 0:
		ps.add(path, "a step needs one of send, wait, branch, experiment, delay, exit, coupon")
		return
	case 1:
	default:
		ps.add(path, "a step has exactly one kind, found %v", kinds)
		return
	}
	allowed := map[string]bool{}
	switch kinds[0] {
	case "send":
		d.validateSend(ps, path, s.Send)
		d.checkRef(ps, Join(path, "next"), s.Next)
		allowed["next"] = true
	case "wait":
		d.validateWait(ps, path, s)
		allowed["next"], allowed["on"] = true, true
	case "branch":
		d.validateBranch(ps, path, s)
		allowed["else"] = true
	case "experiment":
		d.validateExperiment(ps, Join(path, "experiment"), s.Experiment)
	case "delay":
		validateDelay(ps, Join(path, "delay"), s.Delay)
		d.checkRef(ps, Join(path, "next"), s.Next)
		allowed["next"] = true
	case "exit":
	case "coupon":
		d.validateCoupon(ps, Join(path, "coupon"), s.Coupon)
		d.checkRef(ps, Join(path, "next"), s.Next)
		allowed["next"] = true
	}
	for field, set := range map[string]bool{"next": s.Next != "", "on": s.On != nil, "else": s.Else != ""} {
		if set && !allowed[field] {
			ps.add(Join(path, field), "a %s step has no %s", kinds[0], field)
		}
	}
}

var couponPrefix = regexp.MustCompile(`^[A-Z0-9-]{0,16}$`)

func (d *Definition) validateCoupon(ps *Problems, path string, c *Coupon) {
	if d.OfferID == "" {
		ps.add(path, "a coupon is for the campaign's offer: set offer_id")
	}
	if !couponPrefix.MatchString(c.Prefix) {
		ps.add(Join(path, "prefix"), "up to 16 of A-Z, 0-9 and -")
	}
	if c.Length != 0 && (c.Length < 6 || c.Length > 16) {
		ps.add(Join(path, "length"), "from 6 to 16 random characters")
	}
	if c.ValidFor != "" {
		checkDuration(ps, Join(path, "valid_for"), c.ValidFor)
	}
}

func (d *Definition) validateSend(ps *Problems, path string, s *Send) {
	path = Join(path, "send")
	switch {
	case s.Channel != "" && s.Channels != nil:
		ps.add(path, "give channel or channels, not both")
		return
	case s.Channel != "":
		checkChannel(ps, Join(path, "channel"), s.Channel)
	case len(s.Channels) > 0:
		for i, ch := range s.Channels {
			checkChannel(ps, Index(Join(path, "channels"), i), ch)
			if slices.Index(s.Channels, ch) < i {
				ps.add(Index(Join(path, "channels"), i), "%q is listed twice", ch)
			}
		}
	default:
		ps.add(Join(path, "channel"), "required: a channel, or channels in order of preference")
		return
	}
	candidates := s.Candidates()
	for _, ch := range sortedKeys(s.Templates) {
		if !slices.Contains(candidates, ch) {
			ps.add(Join(Join(path, "templates"), ch), "the send does not use channel %q", ch)
		}
	}
	if s.Template != nil {
		validateTemplate(ps, Join(path, "template"), *s.Template, candidates)
	}
	for _, ch := range candidates {
		if t, ok := s.Templates[ch]; ok {
			validateTemplate(ps, Join(Join(path, "templates"), ch), t, []string{ch})
		} else if s.Template == nil {
			ps.add(Join(path, "template"), "required: a template, or templates for every channel (no template for %s)", ch)
		}
	}
}

// validateTemplate checks that t compiles and has what each of the
// channels it serves needs: email a subject and body, push a title or
// body, SMS a body.
func validateTemplate(ps *Problems, path string, t Template, channels []string) {
	for _, f := range []struct{ name, src string }{{"subject", t.Subject}, {"title", t.Title}, {"body", t.Body}, {"link", t.Link}} {
		if f.src == "" {
			continue
		}
		if err := CheckTemplate(f.src); err != nil {
			ps.add(Join(path, f.name), "%v", err)
		}
	}
	uses := func(ch string) bool { return slices.Contains(channels, ch) }
	dynamic := t.TemplateID != ""
	switch {
	case dynamic && !uses(Email):
		ps.add(Join(path, "template_id"), "only email messages use a SendGrid dynamic template")
	case dynamic && !dynamicTemplateID.MatchString(t.TemplateID):
		ps.add(Join(path, "template_id"), "a SendGrid dynamic template id looks like d-0123456789abcdef0123456789abcdef")
	}
	if uses(Email) && t.Subject == "" && !dynamic {
		ps.add(Join(path, "subject"), "required for email (or a template_id)")
	}
	if (uses(Email) && !dynamic || uses(SMS)) && t.Body == "" {
		ps.add(Join(path, "body"), "required for email (or a template_id) and sms")
	}
	if uses(Push) && t.Title == "" && t.Body == "" {
		ps.add(Join(path, "body"), "push needs a title or a body")
	}
	if t.Subject != "" && !uses(Email) {
		ps.add(Join(path, "subject"), "only email messages have a subject")
	}
	if t.Title != "" && !uses(Push) {
		ps.add(Join(path, "title"), "only push messages have a title")
	}
	if t.Link != "" && !uses(Push) {
		ps.add(Join(path, "link"), "only push messages have a link")
	}
}

var dynamicTemplateID = regexp.MustCompile(`^d-[0-9a-f]{32}$`)

func (d *Definition) validateWait(ps *Problems, path string, s Step) {
	w := s.Wait
	wpath := Join(path, "wait")
	if len(w.For) == 0 && len(w.Events) == 0 {
		ps.add(Join(wpath, "for"), "name at least one response type (for) or event (events) to wait for")
	}
	for i, typ := range w.For {
		checkResponseType(ps, Index(Join(wpath, "for"), i), typ)
	}
	d.validateWaitEvents(ps, wpath, w)
	if w.Timeout == "" {
		ps.add(Join(wpath, "timeout"), "required: a duration; "+durationExamples)
	} else {
		checkDuration(ps, Join(wpath, "timeout"), w.Timeout)
	}
	for _, outcome := range sortedKeys(s.On) {
		if outcome != Timeout && !slices.Contains(w.For, outcome) && !slices.Contains(w.Events, outcome) {
			ps.add(Join(Join(path, "on"), outcome), "the wait does not await %q", outcome)
		}
		d.checkRef(ps, Join(Join(path, "on"), outcome), s.On[outcome])
	}
	if s.Next != "" {
		d.checkRef(ps, Join(path, "next"), s.Next)
		return
	}
	for _, outcome := range append(append(slices.Clone(w.For), w.Events...), Timeout) {
		if _, ok := s.On[outcome]; !ok {
			ps.add(Join(path, "on"), "no step for %q: add it to on, or give the wait a next", outcome)
		}
	}
}

func (d *Definition) validateBranch(ps *Problems, path string, s Step) {
	if len(s.Branch) == 0 {
		ps.add(Join(path, "branch"), "at least one case is required")
	}
	for i, c := range s.Branch {
		cpath := Index(Join(path, "branch"), i)
		validateCondition(ps, Join(cpath, "when"), c.When)
		d.checkRef(ps, Join(cpath, "next"), c.Next)
	}
	d.checkRef(ps, Join(path, "else"), s.Else)
}

func validateCondition(ps *Problems, path string, c Condition) {
	attributeTests := c.Equals != nil || c.In != nil || c.Exists != nil || c.GT != nil || c.GTE != nil || c.LT != nil || c.LTE != nil
	var kinds []string
	for _, k := range []struct {
		name string
		set  bool
	}{
		{"attribute", c.Attribute != "" || attributeTests && c.Property == ""}, {"property", c.Property != ""},
		{"reachable", c.Reachable != ""}, {"consent", c.Consent != ""},
		{"responded", c.Responded != ""}, {"all", c.All != nil}, {"any", c.Any != nil}, {"not", c.Not != nil},
	} {
		if k.set {
			kinds = append(kinds, k.name)
		}
	}
	if len(kinds) != 1 {
		ps.add(path, "a condition tests one thing: attribute or property (with equals, in, exists, gt, gte, lt or lte), reachable, consent, responded, all, any or not; found %v", kinds)
		return
	}
	switch kinds[0] {
	case "attribute", "property":
		name := cmp.Or(c.Attribute, c.Property)
		if name == "" {
			ps.add(Join(path, "attribute"), "required: the attribute to test")
		} else if !attributeTests {
			ps.add(path, "say what to test of %s %q: equals, in, exists, gt, gte, lt or lte", kinds[0], name)
		}
		if c.In != nil && len(c.In) == 0 {
			ps.add(Join(path, "in"), "list at least one value")
		}
	case "reachable":
		checkChannel(ps, Join(path, "reachable"), c.Reachable)
	case "consent":
		checkChannel(ps, Join(path, "consent"), c.Consent)
	case "responded":
		checkResponseType(ps, Join(path, "responded"), c.Responded)
	case "all", "any":
		subs := c.All
		if kinds[0] == "any" {
			subs = c.Any
		}
		if len(subs) == 0 {
			ps.add(Join(path, kinds[0]), "list at least one condition")
		}
		for i, sub := range subs {
			validateCondition(ps, Index(Join(path, kinds[0]), i), sub)
		}
	case "not":
		validateCondition(ps, Join(path, "not"), *c.Not)
	}
}

// ValidateFilter checks a condition that picks customers for a launch:
// anything a branch may test but responses, since no journey has begun.
func ValidateFilter(path string, c Condition) Problems {
	var ps Problems
	validateCondition(&ps, path, c)
	noResponses(&ps, path, c)
	return ps
}

func noResponses(ps *Problems, path string, c Condition) {
	if c.Responded != "" {
		ps.add(Join(path, "responded"), "a launch filter picks customers before their journey begins: test attributes, consent or reachable")
	}
	if c.Property != "" {
		ps.add(Join(path, "property"), "a launch has no event: test attributes, consent or reachable")
	}
	for i, sub := range c.All {
		noResponses(ps, Index(Join(path, "all"), i), sub)
	}
	for i, sub := range c.Any {
		noResponses(ps, Index(Join(path, "any"), i), sub)
	}
	if c.Not != nil {
		noResponses(ps, Join(path, "not"), *c.Not)
	}
}

func (d *Definition) validateExperiment(ps *Problems, path string, e *Experiment) {
	if len(e.Variants) < 2 {
		ps.add(Join(path, "variants"), "an experiment needs at least two variants")
	}
	seen := map[string]bool{}
	for i, v := range e.Variants {
		vpath := Index(Join(path, "variants"), i)
		switch {
		case v.Name == "":
			ps.add(Join(vpath, "name"), "required")
		case seen[v.Name]:
			ps.add(Join(vpath, "name"), "%q is used twice", v.Name)
		}
		seen[v.Name] = true
		if v.Weight <= 0 {
			ps.add(Join(vpath, "weight"), "must be a positive whole number, got %d", v.Weight)
		}
		d.checkRef(ps, Join(vpath, "next"), v.Next)
	}
}

func validateDelay(ps *Problems, path string, dl *Delay) {
	switch {
	case (dl.For == "") == (dl.UntilLocal == ""):
		ps.add(path, "give exactly one of for (a duration) or until_local (a time of day)")
	case dl.For != "":
		checkDuration(ps, Join(path, "for"), dl.For)
	default:
		checkClock(ps, Join(path, "until_local"), dl.UntilLocal)
	}
}

func (d *Definition) checkRef(ps *Problems, path, ref string) {
	if ref == "" {
		ps.add(path, "required")
		return
	}
	if _, ok := d.Steps[ref]; !ok {
		ps.add(path, "no step named %q", ref)
	}
}

// StepOrder lists the steps breadth-first from start_at, the order a
// marketer reads the campaign in.
func (d *Definition) StepOrder() []string {
	order := []string{d.StartAt}
	seen := map[string]bool{d.StartAt: true}
	for i := 0; i < len(order); i++ {
		for _, next := range d.Steps[order[i]].Successors() {
			if !seen[next] {
				seen[next] = true
				order = append(order, next)
			}
		}
	}
	return order
}

// validateGraph checks that every step is reachable and that no loop can
// run without passing a wait or a delay (it would spin, or send without
// pause).
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

	// Depth-first search over the edges that do not pause.
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
			ps.add(Join("steps", name), "loop without a wait or delay: %v", append(trail, name))
			return true
		case done:
			return false
		}
		state[name] = active
		if s := d.Steps[name]; !s.Pauses() {
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

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
