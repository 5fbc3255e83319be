package campaign

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// durationUnits are the units a campaign's durations are written in: Go's
// (so that definitions written before days and weeks keep their meaning)
// and d and w, which marketers write. A day is 24 hours and a week 7 days:
// a journey's timers measure elapsed time, not the calendar, so a delay of
// 1d across a change to summer time lasts 24 hours.
var durationUnits = map[string]time.Duration{
	"ns": time.Nanosecond,
	"us": time.Microsecond, "µs": time.Microsecond, "μs": time.Microsecond, // U+00B5 and U+03BC, as Go's
	"ms": time.Millisecond,
	"s":  time.Second,
	"m":  time.Minute,
	"h":  time.Hour,
	"d":  day,
	"w":  week,
}

// day and week are the d and w of durations.
const (
	day  = 24 * time.Hour
	week = 7 * day
)

// durationExamples ends every error about a duration, so the marketer
// sees what to write.
const durationExamples = "write e.g. 90m, 36h, 7d, 2w"

// ParseDuration reads a duration as a campaign definition writes it
// everywhere (waits, delays, rules, entry, coupons): numbers, each with a
// unit, added up, such as 90m, 36h, 7d, 2w, 1w2d, 1h30m or 1.5d. It must
// be more than zero. It is a pure function, for workflow code too; what Go's
// time.ParseDuration accepts and is positive it reads to the same value.
func ParseDuration(s string) (time.Duration, error) {
	// A leading + is Go's and so was accepted before; a sign has no other use.
	rest := strings.TrimPrefix(s, "+")
	if rest == "" {
		return 0, fmt.Errorf("%q is not a duration: %s", s, durationExamples)
	}
	var total uint64
	for rest != "" {
		var v uint64
		var ok bool
		v, rest, ok = durationTerm(rest)
		if !ok {
			return 0, fmt.Errorf("%q is not a duration: %s", s, durationExamples)
		}
		total += v
		if v > math.MaxInt64 || total > math.MaxInt64 {
			return 0, fmt.Errorf("%q is too long: at most %s (about 292 years)", s, maxDurationText)
		}
	}
	if total == 0 {
		return 0, fmt.Errorf("%q is not more than zero: %s", s, durationExamples)
	}
	return time.Duration(total), nil
}

// maxDurationText is the longest duration, in weeks.
var maxDurationText = fmt.Sprintf("%dw", math.MaxInt64/int64(week))

// durationTerm reads one number and its unit off the front of s, in
// nanoseconds; a value over math.MaxInt64 is returned as such for the
// caller to refuse (it saturates rather than wraps).
func durationTerm(s string) (v uint64, rest string, ok bool) {
	whole, s := leadingDigits(s)
	var frac string
	if strings.HasPrefix(s, ".") {
		frac, s = leadingDigits(s[1:])
	}
	if whole == "" && frac == "" {
		return 0, s, false
	}
	n := strings.IndexFunc(s, func(r rune) bool { return r == '.' || r >= '0' && r <= '9' })
	if n < 0 {
		n = len(s)
	}
	unit, known := durationUnits[s[:n]]
	if !known {
		return 0, s, false
	}
	rest = s[n:]
	u := uint64(unit)
	for _, c := range whole {
		d := uint64(c - '0')
		if v > (math.MaxInt64-d)/10 {
			return math.MaxUint64, rest, true
		}
		v = v*10 + d
	}
	if v > math.MaxInt64/u {
		return math.MaxUint64, rest, true
	}
	v *= u
	// The fraction, to as many digits as fit in 64 bits, rounded the way Go's
	// time.ParseDuration rounds it, so that an existing "1.5h" or "0.1s"
	// times the same after an upgrade and a replayed timer matches.
	var f uint64
	scale := 1.0
	for _, c := range frac {
		next := f*10 + uint64(c-'0')
		if f > math.MaxInt64/10 || next > 1<<63 {
			break // the remaining digits are below a nanosecond's precision
		}
		f = next
		scale *= 10
	}
	v += uint64(float64(f) * (float64(u) / scale))
	return v, rest, true
}

// leadingDigits splits s after its leading ASCII digits.
func leadingDigits(s string) (digits, rest string) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i], s[i:]
}
