package campaign

import (
	"fmt"
	"hash/fnv"
	"time"
	_ "time/tzdata" // the same zone rules on every worker, so journeys replay alike
)

// ParseClock parses a local time of day, "HH:MM".
func ParseClock(s string) (hour, minute int, err error) {
	t, err := time.Parse("15:04", s)
	if err != nil || len(s) != 5 {
		return 0, 0, fmt.Errorf("%q is not a time of day HH:MM", s)
	}
	return t.Hour(), t.Minute(), nil
}

// NextLocal returns the first moment after now at which the clock in loc
// reads clock ("HH:MM"): today if that is still ahead, else tomorrow.
func NextLocal(now time.Time, loc *time.Location, clock string) time.Time {
	h, m, _ := ParseClock(clock)
	local := now.In(loc)
	at := time.Date(local.Year(), local.Month(), local.Day(), h, m, 0, 0, loc)
	if !at.After(now) {
		at = time.Date(local.Year(), local.Month(), local.Day()+1, h, m, 0, 0, loc)
	}
	return at
}

// QuietUntil reports whether now falls in the quiet hours in loc, and if so
// when they end.
func (q *QuietHours) QuietUntil(now time.Time, loc *time.Location) (time.Time, bool) {
	if q == nil {
		return time.Time{}, false
	}
	fh, fm, _ := ParseClock(q.From)
	th, tm, _ := ParseClock(q.To)
	local := now.In(loc)
	t := local.Hour()*60 + local.Minute()
	from, to := fh*60+fm, th*60+tm
	quiet := from <= t && t < to
	if from > to { // the window spans midnight
		quiet = t >= from || t < to
	}
	if !quiet {
		return time.Time{}, false
	}
	return NextLocal(now, loc, q.To), true
}

// Location loads an IANA time zone, falling back to def (and to UTC).
func Location(name, def string) *time.Location {
	for _, n := range []string{name, def} {
		if n == "" {
			continue
		}
		if loc, err := time.LoadLocation(n); err == nil {
			return loc
		}
	}
	return time.UTC
}

// Assign picks the experiment variant of a customer: a hash of campaign,
// step and customer, so the same customer gets the same variant on every
// replay, re-run and re-launch, and separate experiments split
// independently.
func (e *Experiment) Assign(campaignID, step, customerID string) Variant {
	total := 0
	for _, v := range e.Variants {
		total += v.Weight
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%s\x00%s", campaignID, step, customerID)
	bucket := int(h.Sum64() % uint64(total))
	for _, v := range e.Variants {
		if bucket < v.Weight {
			return v
		}
		bucket -= v.Weight
	}
	return e.Variants[len(e.Variants)-1]
}
