// Package campaign is the campaign definition marketers write: its model,
// strict parsing, validation and message templates.
package campaign

import (
	"encoding/json"
	"time"
)

// Channels a send step can use.
const (
	Email = "email"
	SMS   = "sms"
	Push  = "push"
)

// Channels lists every channel in a fixed order.
var Channels = []string{Email, SMS, Push}

// ResponseTypes are the responses channel systems report and waits await.
var ResponseTypes = []string{"delivered", "opened", "clicked", "converted", "rejected", "unsubscribed", "bounced", "failed"}

// Timeout is the `on` key a wait follows when no awaited response arrived in time.
const Timeout = "timeout"

// Definition is one version of a campaign: a graph of named steps.
type Definition struct {
	ID      string          `json:"id"`
	Name    string          `json:"name,omitempty"`
	OfferID string          `json:"offer_id,omitempty"`
	StartAt string          `json:"start_at"`
	Rules   *Rules          `json:"rules,omitempty"`
	Steps   map[string]Step `json:"steps"`
}

// Rules apply to every step of a journey. They are parsed so that a
// definition in the documented shape is accepted, but validation refuses
// the ones the interpreter does not enforce yet rather than ignore them.
type Rules struct {
	SuppressRejectedFor json.RawMessage `json:"suppress_rejected_for,omitempty"`
	QuietHours          json.RawMessage `json:"quiet_hours,omitempty"`
	FrequencyCap        json.RawMessage `json:"frequency_cap,omitempty"`
	ExitOn              json.RawMessage `json:"exit_on,omitempty"`
	Goal                json.RawMessage `json:"goal,omitempty"`
}

// Step is one node of the graph. Exactly one of the step kinds is set.
type Step struct {
	Send *Send `json:"send,omitempty"`
	Wait *Wait `json:"wait,omitempty"`
	Exit *Exit `json:"exit,omitempty"`

	// Step kinds of the campaign language that this version does not run yet.
	Branch     json.RawMessage `json:"branch,omitempty"`
	Experiment json.RawMessage `json:"experiment,omitempty"`
	Delay      json.RawMessage `json:"delay,omitempty"`
	Else       json.RawMessage `json:"else,omitempty"`

	// Next is where send steps, and waits answered by a response without an
	// `on` entry, continue.
	Next string `json:"next,omitempty"`
	// On maps a wait's outcome (a response type or "timeout") to a step.
	On map[string]string `json:"on,omitempty"`
}

// Send delivers one message.
type Send struct {
	Channel  string          `json:"channel,omitempty"`
	Channels json.RawMessage `json:"channels,omitempty"`
	Template Template        `json:"template"`
}

// Template is a message in Liquid: email uses Subject and Body (HTML),
// push uses Title and Body, SMS uses Body.
type Template struct {
	Subject string `json:"subject,omitempty"`
	Title   string `json:"title,omitempty"`
	Body    string `json:"body"`
}

// Wait holds the journey until one of the awaited responses arrives or the
// timeout passes.
type Wait struct {
	For     []string `json:"for"`
	Timeout string   `json:"timeout"`
}

// TimeoutDuration is the parsed Timeout of a validated definition.
func (w *Wait) TimeoutDuration() time.Duration {
	d, _ := time.ParseDuration(w.Timeout)
	return d
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
	add("exit", s.Exit != nil)
	add("branch", s.Branch != nil)
	add("experiment", s.Experiment != nil)
	add("delay", s.Delay != nil)
	return kinds
}

// WaitNext is where a wait continues after outcome (a response type or
// Timeout).
func (s Step) WaitNext(outcome string) string {
	if next, ok := s.On[outcome]; ok {
		return next
	}
	return s.Next
}
