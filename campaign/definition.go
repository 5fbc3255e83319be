// Package campaign is the campaign definition marketers write: its model,
// strict parsing, validation, branch conditions, experiment assignment and
// message templates.
package campaign

import "time"

// Channels a send step can use.
const (
	Email = "email"
	SMS   = "sms"
	Push  = "push"
)

// Channels lists every channel in a fixed order.
var Channels = []string{Email, SMS, Push}

// Response types: what channel systems and providers report of a
// customer, and what waits, exit_on and goals name.
const (
	Delivered    = "delivered"
	Opened       = "opened"
	Clicked      = "clicked"
	Converted    = "converted"
	Rejected     = "rejected"     // the customer declined the offer: it is suppressed everywhere
	Unsubscribed = "unsubscribed" // consent off, on the channel (or all, with data.scope "all")
	Subscribed   = "subscribed"   // consent on again, as an SMS START does
	Bounced      = "bounced"
	Failed       = "failed"       // the provider could not deliver
	OfferViewed  = "offer_viewed" // an inbound channel (shop, app, contact centre) showed the offer
)

// ResponseTypes lists every response type.
var ResponseTypes = []string{Delivered, Opened, Clicked, Converted, Rejected, Unsubscribed, Subscribed, Bounced, Failed, OfferViewed}

// Timeout is the `on` key a wait follows when no awaited response arrived in time.
const Timeout = "timeout"

// Control is the name of an experiment's control group.
const Control = "control"

// Definition is one version of a campaign: a graph of named steps.
type Definition struct {
	ID      string `json:"id"`
	Name    string `json:"name,omitempty"`
	OfferID string `json:"offer_id,omitempty"`
	StartAt string `json:"start_at"`
	// Trigger enrolls customers as they act (see Trigger); Entry says
	// when a customer may enter again.
	Trigger *Trigger        `json:"trigger,omitempty"`
	Entry   *Entry          `json:"entry,omitempty"`
	Rules   *Rules          `json:"rules,omitempty"`
	Steps   map[string]Step `json:"steps"`
}

// Rules apply to every step of a journey.
type Rules struct {
	// ExitOn ends the journey, from whatever step, when one of these
	// responses arrives; ExitOnEvents when one of these events does.
	ExitOn       []string `json:"exit_on,omitempty"`
	ExitOnEvents []string `json:"exit_on_events,omitempty"`
	// Goal is the response that marks the journey converted.
	Goal string `json:"goal,omitempty"`
	// QuietHours hold sends while the customer's local time is inside them.
	QuietHours *QuietHours `json:"quiet_hours,omitempty"`
	// SuppressRejectedFor is how long a customer who rejected the offer is
	// not offered it again, on any channel, in any campaign (default 30d).
	SuppressRejectedFor string `json:"suppress_rejected_for,omitempty"`
	// FrequencyCap limits the messages a customer gets, across all
	// campaigns, in a rolling window; a send over it is skipped.
	FrequencyCap *FrequencyCap `json:"frequency_cap,omitempty"`
}

// DefaultSuppressRejectedFor applies when a campaign does not say.
const DefaultSuppressRejectedFor = 30 * day

// SuppressionPeriod is how long a rejection of this campaign's offer lasts.
func (r *Rules) SuppressionPeriod() time.Duration {
	if r != nil && r.SuppressRejectedFor != "" {
		if d, err := ParseDuration(r.SuppressRejectedFor); err == nil {
			return d
		}
	}
	return DefaultSuppressRejectedFor
}

// FrequencyCap is at most Max messages per Per.
type FrequencyCap struct {
	Max int    `json:"max"`
	Per string `json:"per"`
}

// Window is the parsed Per of a validated cap.
func (f *FrequencyCap) Window() time.Duration {
	d, _ := ParseDuration(f.Per)
	return d
}

// QuietHours is a daily window of local time, "HH:MM" to "HH:MM"; it may
// span midnight ("21:00" to "08:00").
type QuietHours struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Step is one node of the graph. Exactly one of the step kinds is set.
type Step struct {
	Send       *Send       `json:"send,omitempty"`
	Wait       *Wait       `json:"wait,omitempty"`
	Branch     []Case      `json:"branch,omitempty"`
	Experiment *Experiment `json:"experiment,omitempty"`
	Delay      *Delay      `json:"delay,omitempty"`
	Exit       *Exit       `json:"exit,omitempty"`
	Coupon     *Coupon     `json:"coupon,omitempty"`

	// Next is where send, delay and coupon steps continue, and waits answered by a
	// response without an `on` entry.
	Next string `json:"next,omitempty"`
	// On maps a wait's outcome (a response type or "timeout") to a step.
	On map[string]string `json:"on,omitempty"`
	// Else is where a branch continues when no case matches.
	Else string `json:"else,omitempty"`
}

// Send delivers one message: on Channel, or on the first of Channels on
// which the customer is reachable and has consented (the customer's
// preferred channel, when listed, goes first).
type Send struct {
	Channel  string   `json:"channel,omitempty"`
	Channels []string `json:"channels,omitempty"`
	// Template serves every channel; Templates, per channel, win over it.
	Template  *Template           `json:"template,omitempty"`
	Templates map[string]Template `json:"templates,omitempty"`
}

// Candidates lists the channels a send may use, in order.
func (s *Send) Candidates() []string {
	if len(s.Channels) > 0 {
		return s.Channels
	}
	return []string{s.Channel}
}

// TemplateFor returns the template for a channel.
func (s *Send) TemplateFor(channel string) (Template, bool) {
	if t, ok := s.Templates[channel]; ok {
		return t, true
	}
	if s.Template != nil {
		return *s.Template, true
	}
	return Template{}, false
}

// Template is a message in Liquid: email uses Subject and Body (HTML),
// push uses Title and Body (and Link), SMS uses Body.
type Template struct {
	Subject string `json:"subject,omitempty"`
	Title   string `json:"title,omitempty"`
	Body    string `json:"body,omitempty"`
	// TemplateID names a SendGrid dynamic template (d-…) that renders the
	// email instead of Subject and Body; it gets the customer's profile,
	// attributes and enrolment data as dynamic_template_data.
	TemplateID string `json:"template_id,omitempty"`
	// Link is the deep link a push notification opens.
	Link string `json:"link,omitempty"`
}

// Coupon issues the customer a personal, single-use code for the
// campaign's offer; later templates show it as {{coupon}}, and redeeming
// it on any channel counts as the journey's conversion.
type Coupon struct {
	// Prefix starts the code (e.g. "SPRING-"); Length random characters
	// follow (default 8).
	Prefix string `json:"prefix,omitempty"`
	Length int    `json:"length,omitempty"`
	// ValidFor is how long the code can be redeemed (default 30d).
	ValidFor string `json:"valid_for,omitempty"`
}

// DefaultCouponValidity applies when a coupon step does not say.
const DefaultCouponValidity = 30 * day

// Validity is the parsed ValidFor of a validated coupon.
func (c *Coupon) Validity() time.Duration {
	if c.ValidFor == "" {
		return DefaultCouponValidity
	}
	d, _ := ParseDuration(c.ValidFor)
	return d
}

// CodeLength is the number of random characters, default 8.
func (c *Coupon) CodeLength() int {
	if c.Length == 0 {
		return 8
	}
	return c.Length
}

// Wait holds the journey until one of the awaited responses (For) or
// events (Events) arrives, or the timeout passes. Match names event
// properties that must equal the entering event's (the purchase of this
// cart).
type Wait struct {
	For     []string `json:"for,omitempty"`
	Events  []string `json:"events,omitempty"`
	Match   []string `json:"match,omitempty"`
	Timeout string   `json:"timeout"`
}

// TimeoutDuration is the parsed Timeout of a validated definition.
func (w *Wait) TimeoutDuration() time.Duration {
	d, _ := ParseDuration(w.Timeout)
	return d
}

// Case is one arm of a branch.
type Case struct {
	When Condition `json:"when"`
	Next string    `json:"next"`
}

// Experiment splits customers between weighted variants.
type Experiment struct {
	Variants []Variant `json:"variants"`
}

// Variant is one arm of an experiment; the one named "control" is the
// control group.
type Variant struct {
	Name   string `json:"name"`
	Weight int    `json:"weight"`
	Next   string `json:"next"`
}

// Delay holds the journey for a duration, or until a local time of day.
type Delay struct {
	For        string `json:"for,omitempty"`
	UntilLocal string `json:"until_local,omitempty"`
}

// Exit ends the journey.
type Exit struct {
	Reason string `json:"reason,omitempty"`
}

// Kinds lists the step kinds set on s; a valid step has exactly one.
func (s Step) Kinds() []string {
	var kinds []string
	add := func(name string, set bool) {
		if set {
			kinds = append(kinds, name)
		}
	}
	add("send", s.Send != nil)
	add("wait", s.Wait != nil)
	add("branch", s.Branch != nil)
	add("experiment", s.Experiment != nil)
	add("delay", s.Delay != nil)
	add("exit", s.Exit != nil)
	add("coupon", s.Coupon != nil)
	return kinds
}

// Pauses reports whether the step lets time pass (a wait or a delay), which
// a loop must contain.
func (s Step) Pauses() bool { return s.Wait != nil || s.Delay != nil }

// WaitNext is where a wait continues after outcome (a response type or
// Timeout).
func (s Step) WaitNext(outcome string) string {
	if next, ok := s.On[outcome]; ok {
		return next
	}
	return s.Next
}

// Successors lists the steps a step can continue at.
func (s Step) Successors() []string {
	var next []string
	add := func(n string) {
		if n != "" {
			next = append(next, n)
		}
	}
	add(s.Next)
	for _, k := range sortedKeys(s.On) {
		add(s.On[k])
	}
	for _, c := range s.Branch {
		add(c.Next)
	}
	add(s.Else)
	if s.Experiment != nil {
		for _, v := range s.Experiment.Variants {
			add(v.Next)
		}
	}
	return next
}
