package journey

import "github.com/omni-orchestrator/omni/campaign"

// The journey's activities, by the names the worker registers package
// activities' methods under; the journey asks for them by name, so that
// its code needs none of their I/O.
const (
	Deliver        = "Deliver"        // DeliverInput → DeliverResult: Prepare and Send in one
	Prepare        = "Prepare"        // DeliverInput → DeliverResult: compose, check and record (a local activity)
	Send           = "Send"           // SendInput → DeliverResult: a prepared message to its provider
	GiveUp         = "GiveUp"         // GiveUpInput: a send that stopped retrying failed
	IssueCoupon    = "IssueCoupon"    // CouponInput → the code
	CustomerFacts  = "CustomerFacts"  // customer id → campaign.Facts
	RecordProgress = "RecordProgress" // ProgressInput
	FinishJourney  = "FinishJourney"  // FinishInput
)

// DeliverInput is one send step of one journey.
type DeliverInput struct {
	JourneyID  string
	CampaignID string
	CustomerID string
	Step       string
	// Key identifies the message across retries and worker restarts (a
	// StepKey).
	Key string
	// The send step: its channel or channels, and template(s).
	campaign.Send
	// Data is the enrolment's data, which templates see as `data`; Event
	// the properties of the event that entered the journey, `event`.
	Data  map[string]any
	Event map[string]any `json:",omitempty"`
	// OfferID and FrequencyCap are checked when the message is recorded: a
	// suppressed offer or a capped customer skips the send.
	OfferID      string
	FrequencyCap *campaign.FrequencyCap
	// NextStep and Variant are where the journey goes after this send; they
	// are recorded with the message so the read model follows the journey
	// without an activity of its own.
	NextStep string
	Variant  string
	// Exit, when the step after this send is an exit, has the send record
	// the journey's end with the message: no local activity at the end.
	Exit *campaign.Exit
	// Coupon is the journey's coupon code, which templates show as {{coupon}}.
	Coupon string
}

// Progress is where the journey will be once this send is done.
func (in DeliverInput) Progress() Progress {
	p := Progress{Step: in.NextStep, Variant: in.Variant}
	if in.Exit != nil {
		p.Status, p.Reason = Completed, in.Exit.Reason
	}
	return p
}

// DeliverResult says what became of the message.
type DeliverResult struct {
	MessageID string
	Channel   string
	Status    string // pending (prepared, not sent yet), sent, skipped or failed
	Reason    string
	// Fallback says the provider found the channel unusable (a push token
	// gone, an SMS opt-out): a send with more channels tries the next one.
	Fallback bool
}

// SendInput names a prepared message, and where its journey will be once
// it is sent.
type SendInput struct {
	MessageID string
	Progress  Progress
}

// CouponInput is a coupon step of one journey.
type CouponInput struct {
	Key        string // a StepKey: one coupon however often asked
	JourneyID  string
	CampaignID string
	CustomerID string
	OfferID    string
	campaign.Coupon
}

// GiveUpInput names a send that stopped retrying, and why.
type GiveUpInput struct {
	Key    string
	Reason string
}

// ProgressInput is a journey's position for the read model.
type ProgressInput struct {
	JourneyID string
	Step      string
	Variant   string
}

// FinishInput records the end of a journey.
type FinishInput struct {
	JourneyID string
	Status    string
	Step      string
	Variant   string
	Reason    string
}
