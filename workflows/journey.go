// Package workflows holds the journey: the durable interpreter of a
// campaign definition for one customer.
package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/journey"
)

// JourneyInput is what a journey starts with. The campaign version's
// definition is a snapshot, so editing the campaign never changes a running
// journey.
type JourneyInput struct {
	CampaignID string
	Version    int
	CustomerID string
	Definition campaign.Definition
	// Timezone is the customer's IANA time zone at enrolment (or the
	// configured default), for delays until a local time and quiet hours.
	Timezone string
	// Data is the enrolment's data; templates see it as `data`.
	Data map[string]any
	// Event is the event that entered the journey (a triggered campaign):
	// templates and conditions see its properties as `event`, and waits
	// match later events against them.
	Event *journey.Event `json:",omitempty"`
	// LocalTime ("HH:MM") holds the journey, before its first step, until
	// the customer's next such time of day in Timezone: a launch that
	// delivers at each customer's local time.
	LocalTime string `json:",omitempty"`
	// Paused starts the journey paused, under the campaign's control Seq
	// (a journey enrolled in a paused campaign).
	Paused  bool
	Control int64
}

// JourneyResult is how a journey ended.
type JourneyResult struct {
	Status    string
	Reason    string `json:",omitempty"`
	Variant   string `json:",omitempty"`
	Converted bool   `json:",omitempty"`
	// Steps lists the steps the journey went through, in order.
	Steps []string
}

// interpreter is a journey's state.
type interpreter struct {
	in  JourneyInput
	id  string
	loc *time.Location
	// responses holds every response received, in arrival order; waits
	// consume them from cursor on, so one that arrived before a wait began
	// still answers it, but never answers two waits.
	responses []journey.Response
	cursor    int
	seen      map[string]bool
	// events holds the customer's events the journey waits for or exits
	// on, in arrival order, consumed by waits from eventCursor on, each
	// counted once (seenEvents). arrivals numbers responses and events
	// alike (responseAt, eventAt), so that a wait for both resumes on the
	// one that came first.
	events      []journey.Event
	eventCursor int
	seenEvents  map[string]bool
	arrivals    int
	responseAt  []int
	eventAt     []int
	visits      map[string]int
	steps       []string
	variant     string
	// refused is set when the store refused a send because the customer
	// rejected the offer meanwhile.
	refused bool
	// couponCode is the code the journey's coupon step issued.
	couponCode string
	// paused holds the journey before its next send; control is the Seq of
	// the last control applied.
	paused  bool
	control int64
	// recorded is what the journeys table shows; the journey writes only
	// when it pauses somewhere else.
	recorded journey.Progress
	// inOrder is set for journeys started since signalsInOrder: they take
	// their signals from these channels themselves (see block); older ones
	// from background coroutines.
	inOrder    bool
	responseCh workflow.ReceiveChannel
	eventCh    workflow.ReceiveChannel
	controlCh  workflow.ReceiveChannel
}

// Journey runs one customer through one campaign version.
func Journey(ctx workflow.Context, in JourneyInput) (JourneyResult, error) {
	j := &interpreter{
		in:         in,
		id:         workflow.GetInfo(ctx).WorkflowExecution.ID,
		loc:        campaign.Location(in.Timezone, "UTC"),
		seen:       map[string]bool{},
		seenEvents: map[string]bool{},
		visits:     map[string]int{},
		recorded:   journey.Progress{Step: in.Definition.StartAt},
	}
	j.paused, j.control = in.Paused, in.Control
	j.responseCh = workflow.GetSignalChannel(ctx, journey.ResponseSignal)
	j.controlCh = workflow.GetSignalChannel(ctx, journey.ControlSignal)
	j.eventCh = workflow.GetSignalChannel(ctx, journey.EventSignal)
	j.inOrder = workflow.GetVersion(ctx, signalsInOrder, workflow.DefaultVersion, 1) == 1
	if !j.inOrder {
		onSignal(ctx, j.responseCh, j.receive)
		onSignal(ctx, j.controlCh, j.apply)
	}

	name := in.Definition.StartAt
	// Journeys started before LocalTime have none: they replay as they ran.
	if in.LocalTime != "" {
		now := workflow.Now(ctx)
		d := campaign.NextLocal(now, j.loc, in.LocalTime).Sub(now)
		if err := j.pause(ctx, name, d, "waiting for "+in.LocalTime+" local time"); err != nil {
			return j.fail(ctx, name, err)
		}
	}
	for {
		j.drain()
		if status, reason := j.stop(); status != "" {
			return j.finish(ctx, name, status, reason)
		}
		step, ok := in.Definition.Steps[name]
		if !ok {
			return j.result(journey.Failed, ""), temporal.NewNonRetryableApplicationError("no step named "+name, "InvalidDefinition", nil)
		}
		j.visits[name]++
		j.steps = append(j.steps, name)

		var next string
		var err error
		switch {
		case step.Send != nil:
			next, err = j.send(ctx, name, step)
		case step.Wait != nil:
			next, err = j.wait(ctx, name, step)
		case step.Branch != nil:
			next, err = j.branch(ctx, name, step)
		case step.Experiment != nil:
			next = j.experiment(name, step)
		case step.Delay != nil:
			next, err = j.delay(ctx, name, step)
		case step.Coupon != nil:
			next, err = j.coupon(ctx, name, step)
		case step.Exit != nil:
			return j.finish(ctx, name, journey.Completed, step.Exit.Reason)
		default:
			return j.result(journey.Failed, ""), temporal.NewNonRetryableApplicationError("step "+name+" has no kind", "InvalidDefinition", nil)
		}
		if err != nil {
			return j.fail(ctx, name, err)
		}
		name = next
	}
}

// fail ends the journey on an error of step name: cancelled from the UI or
// CLI (recorded, then ended as cancelled), or failed.
func (j *interpreter) fail(ctx workflow.Context, name string, err error) (JourneyResult, error) {
	if temporal.IsCanceledError(err) {
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		res, _ := j.finish(dctx, name, journey.Cancelled, "cancelled")
		return res, err
	}
	return j.result(journey.Failed, err.Error()), err
}

// signalsInOrder is the change that has a journey take its signals itself,
// in the order its history delivers them together with its timers, instead
// of from background coroutines: before it, a response that arrived in the
// same workflow task as a wait's timer, before the timer fired, was seen
// only after the wait had decided on its timeout. It implies the changes
// before it (perChannelSends, giveUpSends), so that a journey still records
// one version marker.
const signalsInOrder = "signals-in-order"

// onSignal calls fn with every signal of ch, from a coroutine of its own:
// how journeys started before signalsInOrder take their signals.
func onSignal[T any](ctx workflow.Context, ch workflow.ReceiveChannel, fn func(T)) {
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var v T
			ch.Receive(ctx, &v)
			fn(v)
		}
	})
}

// receive takes a response. The API re-signals a repeated event so that
// none is lost; here it counts once.
func (j *interpreter) receive(r journey.Response) {
	if !j.seen[r.EventID] {
		j.seen[r.EventID] = true
		j.responses = append(j.responses, r)
		j.arrivals++
		j.responseAt = append(j.responseAt, j.arrivals)
	}
}

// receiveEvent takes an event, once however often it is signalled.
func (j *interpreter) receiveEvent(e journey.Event) {
	if !j.seenEvents[e.EventID] {
		j.seenEvents[e.EventID] = true
		j.events = append(j.events, e)
		j.arrivals++
		j.eventAt = append(j.eventAt, j.arrivals)
	}
}

// apply takes a control newer than the last one applied.
func (j *interpreter) apply(c journey.Control) {
	if c.Seq > j.control {
		j.control, j.paused = c.Seq, c.Action == journey.Pause
	}
}

// drain takes the signals that have arrived, without blocking.
func (j *interpreter) drain() {
	if !j.inOrder {
		return
	}
	for r := (journey.Response{}); j.responseCh.ReceiveAsync(&r); r = (journey.Response{}) {
		j.receive(r)
	}
	for e := (journey.Event{}); j.eventCh.ReceiveAsync(&e); e = (journey.Event{}) {
		j.receiveEvent(e)
	}
	for c := (journey.Control{}); j.controlCh.ReceiveAsync(&c); c = (journey.Control{}) {
		j.apply(c)
	}
}

// block holds the journey until done holds, or, when d > 0, until d has
// passed (timedOut). It takes the signals one at a time, as the history
// delivers them: when one workflow task brings a response and then the
// timer's firing, the response is taken first, and answers a wait that
// awaits it. A timer no longer needed is left to fire (cancelling it would
// add a command and an event to every answered wait, while a stale timer
// costs a workflow task only when the journey outlives it).
func (j *interpreter) block(ctx workflow.Context, d time.Duration, summary string, done func() bool) (timedOut bool, err error) {
	if !j.inOrder {
		if d <= 0 {
			return false, workflow.Await(ctx, done)
		}
		ok, err := workflow.AwaitWithTimeout(ctx, d, done)
		return !ok && err == nil, err
	}
	j.drain()
	if done() {
		return false, nil
	}
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(j.responseCh, func(c workflow.ReceiveChannel, _ bool) {
		var r journey.Response
		c.Receive(ctx, &r)
		j.receive(r)
	})
	sel.AddReceive(j.eventCh, func(c workflow.ReceiveChannel, _ bool) {
		var e journey.Event
		c.Receive(ctx, &e)
		j.receiveEvent(e)
	})
	sel.AddReceive(j.controlCh, func(c workflow.ReceiveChannel, _ bool) {
		var v journey.Control
		c.Receive(ctx, &v)
		j.apply(v)
	})
	if d > 0 {
		sel.AddFuture(workflow.NewTimerWithOptions(ctx, d, workflow.TimerOptions{Summary: summary}), func(f workflow.Future) {
			err = f.Get(ctx, nil)
			timedOut = err == nil
		})
	} else {
		sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) { err = temporal.NewCanceledError() })
	}
	for !done() {
		sel.Select(ctx)
		if timedOut || err != nil {
			return timedOut, err
		}
	}
	return false, nil
}

func (j *interpreter) rules() campaign.Rules {
	if j.in.Definition.Rules == nil {
		return campaign.Rules{}
	}
	return *j.in.Definition.Rules
}

// stop says whether the journey must end wherever it is, and why: the
// customer rejected the campaign's offer (here or in any other campaign),
// or a response named in rules.exit_on, or an event named in
// rules.exit_on_events, arrived.
func (j *interpreter) stop() (status, reason string) {
	offer := j.in.Definition.OfferID
	if offer != "" && (j.refused || slices.ContainsFunc(j.responses, func(r journey.Response) bool {
		return r.Type == campaign.Rejected && r.OfferID == offer
	})) {
		return journey.Suppressed, "rejected offer " + offer
	}
	exitOn := j.rules().ExitOn
	for _, r := range j.responses {
		if slices.Contains(exitOn, r.Type) {
			return journey.Exited, r.Type
		}
	}
	exitOnEvents := j.rules().ExitOnEvents
	for _, e := range j.events {
		if slices.Contains(exitOnEvents, e.Name) {
			return journey.Exited, "event " + e.Name
		}
	}
	return "", ""
}

func (j *interpreter) stopRequested() bool {
	status, _ := j.stop()
	return status != ""
}

// pause holds the journey for d, or until an exit_on response arrives.
func (j *interpreter) pause(ctx workflow.Context, name string, d time.Duration, details string) error {
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("**%s**: %s until %s", name, details, j.local(workflow.Now(ctx).Add(d))))
	if err := j.recordProgress(ctx, name); err != nil {
		return err
	}
	_, err := j.block(ctx, d, name+": "+details, j.stopRequested)
	return err
}

func (j *interpreter) send(ctx workflow.Context, name string, step campaign.Step) (string, error) {
	for {
		if j.paused {
			// Waits and timers run on while the campaign is paused; sends wait.
			workflow.SetCurrentDetails(ctx, fmt.Sprintf("**%s**: paused with the campaign, before sending", name))
			if err := j.recordProgress(ctx, name); err != nil {
				return "", err
			}
			if _, err := j.block(ctx, 0, "", func() bool { return !j.paused || j.stopRequested() }); err != nil || j.stopRequested() {
				return name, err
			}
		}
		now := workflow.Now(ctx)
		until, quiet := j.rules().QuietHours.QuietUntil(now, j.loc)
		if !quiet {
			break
		}
		if err := j.pause(ctx, name, until.Sub(now), "holding the send for quiet hours"); err != nil || j.stopRequested() {
			return name, err
		}
		if !j.paused { // a pause that came during quiet hours holds the send too
			break
		}
	}
	channels := strings.Join(step.Send.Candidates(), " or ")
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("**%s**: sending by %s", name, channels))
	in := journey.DeliverInput{
		JourneyID:    j.id,
		CampaignID:   j.in.CampaignID,
		CustomerID:   j.in.CustomerID,
		Step:         name,
		Key:          journey.StepKey(j.id, name, j.visits[name]),
		Send:         *step.Send,
		Data:         j.in.Data,
		Event:        j.entryProperties(),
		OfferID:      j.in.Definition.OfferID,
		FrequencyCap: j.rules().FrequencyCap,
		NextStep:     step.Next,
		Variant:      j.variant,
		Coupon:       j.couponCode,
	}
	var res journey.DeliverResult
	var err error
	summary := name + " by " + channels
	candidates := step.Send.Candidates()
	switch {
	case !j.inOrder && workflow.GetVersion(ctx, perChannelSends, workflow.DefaultVersion, 1) == workflow.DefaultVersion:
		res, err = j.deliver(ctx, workflow.GetInfo(ctx).TaskQueueName, summary, in)
	case len(candidates) == 1:
		in.Exit = j.exitAfter(step)
		res, err = j.deliver(ctx, ChannelTaskQueue(workflow.GetInfo(ctx).TaskQueueName, candidates[0]), summary, in)
	default:
		in.Exit = j.exitAfter(step)
		res, err = j.prepareAndSend(ctx, summary, in, len(candidates))
	}
	switch {
	case temporal.IsCanceledError(err):
		return "", err
	case err != nil:
		// The message could not be sent within a day: the journey goes on
		// rather than hold the customer forever.
		workflow.GetLogger(ctx).Error("Send failed", "step", name, "error", err)
		if j.inOrder || workflow.GetVersion(ctx, giveUpSends, workflow.DefaultVersion, 1) == 1 {
			lctx := workflow.WithLocalActivityOptions(ctx, localOptions)
			if err := workflow.ExecuteLocalActivity(lctx, journey.GiveUp, journey.GiveUpInput{Key: in.Key, Reason: "retryable: gave up: " + err.Error()}).Get(ctx, nil); err != nil {
				return "", err
			}
		}
	case res.Reason == journey.ReasonSuppressed:
		j.refused = true
		return name, nil
	default:
		if res.Status == journey.MessageFailed {
			workflow.GetLogger(ctx).Warn("Message failed", "step", name, "channel", res.Channel, "reason", res.Reason)
		}
		j.recorded = in.Progress()
	}
	return step.Next, nil
}

// perChannelSends is the change that moved sends to each channel's own
// task queue: Deliver there for a send on one channel, Prepare (a local
// activity, which picks the channel) and Send there for a fallback send.
// Journeys that sent before it keep scheduling Deliver on their own queue.
const perChannelSends = "per-channel-sends"

// giveUpSends is the change that marks a send's message failed when the
// send stops retrying.
const giveUpSends = "give-up-sends"

// exitAfter returns the exit step that follows a send, if one does.
func (j *interpreter) exitAfter(step campaign.Step) *campaign.Exit {
	if next, ok := j.in.Definition.Steps[step.Next]; ok {
		return next.Exit
	}
	return nil
}

// sendOptions run a send on taskQueue, retried for a day; every retry
// finds the message recorded and never sends it twice. An attempt lasts
// at most 15 seconds (providers answer in well under a second), so that a
// send whose worker died is retried seconds later, not a minute.
func sendOptions(ctx workflow.Context, taskQueue, summary string) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              taskQueue,
		StartToCloseTimeout:    15 * time.Second,
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy:            sendRetry,
		Summary:                summary,
	})
}

var sendRetry = &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute}

// deliver prepares and sends in one activity on taskQueue.
func (j *interpreter) deliver(ctx workflow.Context, taskQueue, summary string, in journey.DeliverInput) (journey.DeliverResult, error) {
	var res journey.DeliverResult
	err := workflow.ExecuteActivity(sendOptions(ctx, taskQueue, summary), journey.Deliver, in).Get(ctx, &res)
	return res, err
}

// prepareAndSend records the message in a local activity, then sends it
// from the channel's task queue (`<task queue>-email`, ...), whose workers
// hold the provider's rate limit, so that one slow provider never delays
// the others. When the provider finds the channel unusable it falls back
// to the next channel of the send, as a new message.
func (j *interpreter) prepareAndSend(ctx workflow.Context, summary string, in journey.DeliverInput, channels int) (journey.DeliverResult, error) {
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy:            sendRetry,
	})
	key := in.Key
	for round := 1; ; round++ {
		if round > 1 {
			in.Key = fmt.Sprintf("%s/%d", key, round)
		}
		var res journey.DeliverResult
		if err := workflow.ExecuteLocalActivity(lctx, journey.Prepare, in).Get(ctx, &res); err != nil || res.Status != journey.MessagePending {
			return res, err
		}
		sctx := sendOptions(ctx, ChannelTaskQueue(workflow.GetInfo(ctx).TaskQueueName, res.Channel), summary)
		err := workflow.ExecuteActivity(sctx, journey.Send, journey.SendInput{MessageID: res.MessageID, Progress: in.Progress()}).Get(ctx, &res)
		if err != nil || !res.Fallback || round >= channels {
			return res, err
		}
	}
}

// ChannelTaskQueue is the task queue a channel's sends run on.
func ChannelTaskQueue(taskQueue, channel string) string { return taskQueue + "-" + channel }

func (j *interpreter) wait(ctx workflow.Context, name string, step campaign.Step) (string, error) {
	w := step.Wait
	timeout := w.TimeoutDuration()
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("**%s**: waiting for %s until %s", name, strings.Join(append(slices.Clone(w.For), w.Events...), " or "), j.local(workflow.Now(ctx).Add(timeout))))
	if err := j.recordProgress(ctx, name); err != nil {
		return "", err
	}
	response, event := -1, -1
	timedOut, err := j.block(ctx, timeout, name+": "+campaign.Timeout, func() bool {
		response, event = j.match(w.For), j.matchEvent(w)
		return response >= 0 || event >= 0 || j.stopRequested()
	})
	switch {
	case err != nil || j.stopRequested():
		return name, err
	case timedOut:
		return step.WaitNext(campaign.Timeout), nil
	case event >= 0 && (response < 0 || j.eventAt[event] < j.responseAt[response]):
		j.eventCursor = event + 1
		return step.WaitNext(j.events[event].Name), nil
	}
	j.cursor = response + 1
	return step.WaitNext(j.responses[response].Type), nil
}

// match returns the index of the first unconsumed response of one of the
// types, or -1.
func (j *interpreter) match(types []string) int {
	for i := j.cursor; i < len(j.responses); i++ {
		if slices.Contains(types, j.responses[i].Type) {
			return i
		}
	}
	return -1
}

// matchEvent returns the index of the first unconsumed event the wait
// awaits, whose properties named in the wait's match equal the entering
// event's, or -1.
func (j *interpreter) matchEvent(w *campaign.Wait) int {
	for i := j.eventCursor; i < len(j.events); i++ {
		if e := j.events[i]; slices.Contains(w.Events, e.Name) && j.sameAsEntry(e, w.Match) {
			return i
		}
	}
	return -1
}

// sameAsEntry reports whether e's properties named in keys equal those of
// the event that entered the journey.
func (j *interpreter) sameAsEntry(e journey.Event, keys []string) bool {
	if len(keys) == 0 {
		return true
	}
	if j.in.Event == nil {
		return false
	}
	for _, k := range keys {
		want, ok := j.in.Event.Properties[k]
		if got, has := e.Properties[k]; !ok || !has || !campaign.Equal(got, want) {
			return false
		}
	}
	return true
}

// branch takes the first case whose condition holds. The customer's
// profile is read (by a local activity) only when a condition needs it, and
// then as it is now, not as it was at enrolment.
func (j *interpreter) branch(ctx workflow.Context, name string, step campaign.Step) (string, error) {
	var facts campaign.Facts
	if slices.ContainsFunc(step.Branch, func(c campaign.Case) bool { return c.When.NeedsFacts() }) {
		ctx := workflow.WithLocalActivityOptions(ctx, localOptions)
		if err := workflow.ExecuteLocalActivity(ctx, journey.CustomerFacts, j.in.CustomerID).Get(ctx, &facts); err != nil {
			return "", err
		}
	}
	facts.Event = j.entryProperties()
	responded := make([]string, len(j.responses))
	for i, r := range j.responses {
		responded[i] = r.Type
	}
	for _, c := range step.Branch {
		if c.When.Eval(facts, responded) {
			return c.Next, nil
		}
	}
	return step.Else, nil
}

// experiment assigns the customer's variant: a pure function of campaign,
// step and customer, so replays and relaunches assign the same. With
// several experiments on a path, the journey records the last one.
func (j *interpreter) experiment(name string, step campaign.Step) string {
	v := step.Experiment.Assign(j.in.CampaignID, name, j.in.CustomerID)
	j.variant = v.Name
	return v.Next
}

func (j *interpreter) delay(ctx workflow.Context, name string, step campaign.Step) (string, error) {
	now := workflow.Now(ctx)
	var d time.Duration
	if step.Delay.For != "" {
		d, _ = campaign.ParseDuration(step.Delay.For)
	} else {
		d = campaign.NextLocal(now, j.loc, step.Delay.UntilLocal).Sub(now)
	}
	if err := j.pause(ctx, name, d, "delaying"); err != nil || j.stopRequested() {
		return name, err
	}
	return step.Next, nil
}

// localOptions run the journey's bookkeeping in the read model: retried
// until the database answers, however long it is down, so that no journey
// fails because of an outage; the UI shows the pending local activity.
var localOptions = workflow.LocalActivityOptions{
	StartToCloseTimeout: 10 * time.Second,
	RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
}

// coupon issues the customer's coupon for the campaign's offer (a local
// activity: one marker), which the following sends show as {{coupon}}.
func (j *interpreter) coupon(ctx workflow.Context, name string, step campaign.Step) (string, error) {
	ctx = workflow.WithLocalActivityOptions(ctx, localOptions)
	err := workflow.ExecuteLocalActivity(ctx, journey.IssueCoupon, journey.CouponInput{
		Key:       journey.StepKey(j.id, name, j.visits[name]),
		JourneyID: j.id, CampaignID: j.in.CampaignID, CustomerID: j.in.CustomerID, OfferID: j.in.Definition.OfferID,
		Coupon: *step.Coupon,
	}).Get(ctx, &j.couponCode)
	return step.Next, err
}

// recordProgress writes where the journey pauses, unless the read model
// shows it already (a send records the step after it).
func (j *interpreter) recordProgress(ctx workflow.Context, name string) error {
	p := journey.Progress{Step: name, Variant: j.variant}
	if p == j.recorded {
		return nil
	}
	ctx = workflow.WithLocalActivityOptions(ctx, localOptions)
	err := workflow.ExecuteLocalActivity(ctx, journey.RecordProgress, journey.ProgressInput{
		JourneyID: j.id, Step: p.Step, Variant: p.Variant,
	}).Get(ctx, nil)
	if err == nil {
		j.recorded = p
	}
	return err
}

// finish records the end of the journey in the read model. A local activity:
// one marker event instead of three, and no task queue round trip.
func (j *interpreter) finish(ctx workflow.Context, name, status, reason string) (JourneyResult, error) {
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("**%s**: %s %s", name, status, reason))
	if j.recorded == (journey.Progress{Step: name, Variant: j.variant, Status: status, Reason: reason}) {
		return j.result(status, reason), nil // the last send recorded it
	}
	ctx = workflow.WithLocalActivityOptions(ctx, localOptions)
	err := workflow.ExecuteLocalActivity(ctx, journey.FinishJourney, journey.FinishInput{
		JourneyID: j.id, Status: status, Step: name, Variant: j.variant, Reason: reason,
	}).Get(ctx, nil)
	return j.result(status, reason), err
}

// entryProperties are the properties of the event that entered the
// journey, which templates see as `event`.
func (j *interpreter) entryProperties() map[string]any {
	if j.in.Event == nil {
		return nil
	}
	return j.in.Event.Properties
}

func (j *interpreter) result(status, reason string) JourneyResult {
	goal := j.rules().Goal
	converted := goal != "" && slices.ContainsFunc(j.responses, func(r journey.Response) bool { return r.Type == goal })
	return JourneyResult{Status: status, Reason: reason, Variant: j.variant, Converted: converted, Steps: j.steps}
}

// local formats t in the customer's time zone for the UI.
func (j *interpreter) local(t time.Time) string {
	return t.In(j.loc).Format("2006-01-02 15:04 MST")
}
