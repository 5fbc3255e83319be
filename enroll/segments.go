package enroll

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/journey"
	"github.com/omni-orchestrator/omni/store"
)

// SegmentEventPrefix begins the event id of a segment trigger's entry,
// `segment:<transition>`: entering the journey again for the same
// transition (a dispatch retried) finds the journey it entered.
const SegmentEventPrefix = "segment:"

// RefreshSegments re-evaluates the customers' membership in the segments
// what changed of them can affect, and enrolls those who entered or left
// a segment in the campaigns that it triggers. A failure to enroll is a
// *DispatchError: the membership and its transitions are recorded, and
// the segment runner enrolls them later.
func (e *Enroller) RefreshSegments(ctx context.Context, customerIDs []string, a store.Affects) error {
	ts, err := e.Store.RefreshSegments(ctx, customerIDs, a)
	if err != nil {
		return fmt.Errorf("segments: %w", err)
	}
	if err := e.Dispatch(ctx, ts); err != nil {
		return &DispatchError{Err: err}
	}
	return nil
}

// DispatchError is a change of segments recorded whose campaigns could not
// be entered yet; RefreshDueSegments enters them after a grace period.
type DispatchError struct{ Err error }

func (e *DispatchError) Error() string {
	return "segment triggers not dispatched yet (the segment runner retries): " + e.Err.Error()
}

func (e *DispatchError) Unwrap() error { return e.Err }

// Dispatch enrolls the customers of the transitions in the active
// campaigns that entering (or leaving) their segment triggers, by the
// campaigns' entry rules, and marks the transitions dispatched. A
// transition that could not be dispatched stays recorded, for
// RefreshDueSegments.
func (e *Enroller) Dispatch(ctx context.Context, ts []store.Transition) error {
	if len(ts) == 0 {
		return nil
	}
	var segments []string
	for _, t := range ts {
		if !slices.Contains(segments, t.SegmentID) {
			segments = append(segments, t.SegmentID)
		}
	}
	campaigns, err := e.Store.SegmentTriggered(ctx, segments)
	if err != nil {
		return err
	}
	var done []int64
	defer func() {
		if len(done) > 0 {
			// Undispatched ones go again; dispatched ones again would
			// find their journeys.
			_ = e.Store.MarkTransitionsDispatched(context.WithoutCancel(ctx), done)
		}
	}()
	for _, t := range ts {
		on := campaign.SegmentLeave
		if t.Entered {
			on = campaign.SegmentEnter
		}
		var ref *store.CustomerRef
		for _, c := range campaigns {
			tr := c.Definition.Trigger
			if tr.Segment != t.SegmentID || cmp.Or(tr.On, campaign.SegmentEnter) != on {
				continue
			}
			if ref == nil {
				cu, err := e.Store.Customer(ctx, t.CustomerID)
				if err != nil {
					return fmt.Errorf("customer %s: %w", t.CustomerID, err)
				}
				ref = &store.CustomerRef{ID: cu.ID, Timezone: cu.Timezone}
			}
			ev := journey.Event{EventID: SegmentEventPrefix + strconv.FormatInt(t.ID, 10), Name: "segment." + on,
				Properties: map[string]any{"segment": t.SegmentID}, OccurredAt: t.At}
			if _, err := e.Trigger(ctx, c, *ref, ev); err != nil {
				return err
			}
		}
		done = append(done, t.ID)
	}
	return nil
}

// dueBatch is how many due standings a round re-evaluates at a time.
const dueBatch = 500

// RefreshDueSegments re-evaluates every standing whose time has come (a
// customer whose last qualifying event left a window) and dispatches what
// changed, then the transitions older than grace that a process dying
// left undispatched. It returns how many standings it re-evaluated.
func (e *Enroller) RefreshDueSegments(ctx context.Context, grace time.Duration) (int, error) {
	total := 0
	for {
		ts, n, err := e.Store.RefreshDueSegments(ctx, dueBatch)
		if err != nil {
			return total, err
		}
		total += n
		if err := e.Dispatch(ctx, ts); err != nil {
			return total, err
		}
		if n < dueBatch {
			break
		}
	}
	left, err := e.Store.UndispatchedTransitions(ctx, grace, dueBatch)
	if err != nil {
		return total, err
	}
	return total, e.Dispatch(ctx, left)
}

// RunSegments calls RefreshDueSegments every interval until ctx ends: a
// customer leaves (or enters) a segment by time alone within interval,
// plus the evaluation, of the moment their standing changes.
func (e *Enroller) RunSegments(ctx context.Context, every, grace time.Duration, logger *slog.Logger) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		n, err := e.RefreshDueSegments(ctx, grace)
		if err != nil && ctx.Err() == nil {
			logger.Warn("refresh due segment standings", "error", err)
		}
		if n > 0 {
			logger.Debug("re-evaluated due segment standings", "standings", n)
		}
	}
}
