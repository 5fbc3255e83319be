// Package journey names what a journey shares with everything around it:
// its workflow id, the statuses and progress the read model shows, the
// messages' statuses and reasons, the signals it takes, and the activities
// it asks for, with their inputs and results. It does no I/O, so that the
// deterministic journey code (package workflows) can use it.
package journey

import (
	"fmt"
	"strconv"
	"time"

	"go.temporal.io/sdk/temporal"
)

// ID is the workflow ID of a customer's journey through a campaign.
func ID(campaignID, customerID string) string {
	return "journey:" + campaignID + ":" + customerID
}

// Addressable reports whether Temporal can be asked about a workflow id at
// all: the SDK sends the id as a gRPC header, which carries printable ASCII
// only. A journey row whose id is not (its customer id was stored before
// ids were checked, see campaign.CustomerID) never had a workflow.
func Addressable(workflowID string) bool {
	for i := range len(workflowID) {
		if workflowID[i] < 0x20 || workflowID[i] > 0x7e {
			return false
		}
	}
	return true
}

// InstanceID is the workflow id of a customer's n-th journey through a
// campaign (a campaign they may enter again, or one journey per key): the
// first is ID's; a later one carries its number after the campaign id,
// `journey:<campaign>#<n>:<customer>`. Campaign ids have neither '#' nor
// ':', so no customer's id can be mistaken for another's.
func InstanceID(campaignID, customerID string, n int) string {
	if n <= 1 {
		return ID(campaignID, customerID)
	}
	return "journey:" + campaignID + "#" + strconv.Itoa(n) + ":" + customerID
}

// StepKey names one visit of a journey to a step: a message's idempotency
// key, a coupon's. It is fixed by the journey, not by an attempt, so that a
// retry or a restarted worker finds what the first attempt recorded.
func StepKey(journeyID, step string, visit int) string {
	return fmt.Sprintf("%s/%s/%d", journeyID, step, visit)
}

// Search attributes set on every journey (and on launches and controls, by
// campaign), so engineers can filter them in the Temporal UI
// (`CampaignId = "spring-sale"`).
var (
	CampaignIDAttr = temporal.NewSearchAttributeKeyKeyword("CampaignId")
	CustomerIDAttr = temporal.NewSearchAttributeKeyKeyword("CustomerId")
)

// Journey statuses.
const (
	Active     = "active"
	Completed  = "completed"
	Failed     = "failed"
	Cancelled  = "cancelled"
	Exited     = "exited"     // a response named in rules.exit_on arrived
	Suppressed = "suppressed" // the customer rejected the campaign's offer
)

// Progress is where a journey is, as the read model shows it.
type Progress struct {
	Step    string
	Variant string
	// Status, when set, ends the journey there (with Reason), so that a
	// send just before an exit records the end with the message.
	Status string
	Reason string
}

// Message statuses.
const (
	MessagePending = "pending" // recorded, provider not yet known to have accepted it
	MessageSent    = "sent"
	MessageSkipped = "skipped"
	MessageFailed  = "failed"
)

// Reasons a message is not sent.
const (
	ReasonSuppressed      = "suppressed"       // the customer rejected the offer
	ReasonFrequencyCapped = "frequency_capped" // the customer had enough messages lately
	ReasonUnreachable     = "unreachable"      // no address or token on this channel
	ReasonNoConsent       = "no_consent"
	ReasonNoChannel       = "no_channel" // a fallback send found no usable channel
	ReasonTemplate        = "template_error"
	ReasonUnsafeLink      = "unsafe_link" // a push link rendered to a scheme the operator does not allow
)

// ResponseSignal is the signal that brings a customer's response to a journey.
const ResponseSignal = "response"

// Response is a customer's response as a journey sees it.
type Response struct {
	EventID    string
	Type       string
	Channel    string
	OfferID    string `json:",omitempty"`
	OccurredAt time.Time
}

// EventSignal brings a customer's event to a journey that waits for it
// or exits on it.
const EventSignal = "event"

// Event is something the customer did, as a journey sees it.
type Event struct {
	EventID    string
	Name       string
	Properties map[string]any `json:",omitempty"`
	OccurredAt time.Time
}

// ControlSignal pauses or resumes a journey with its campaign.
const ControlSignal = "control"

// Controls of a campaign: pause and resume reach journeys as the control
// signal, cancel as a cancellation.
const (
	Pause  = "pause"
	Resume = "resume"
	Cancel = "cancel"
)

// Control is a pause or resume of the journey's campaign. Seq orders the
// controls of a campaign: a journey applies only a control newer than the
// last it applied, so a late pause cannot undo a resume.
type Control struct {
	Action string // Pause or Resume
	Seq    int64
}
