package api

import (
	"fmt"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"
)

// Limits bound what one caller may do. Each API process counts on its
// own.
type Limits struct {
	// KeyRate is how many requests a second one key may make, in bursts
	// of as many; 0 for no limit.
	KeyRate float64
	// CouponFailures is how many failed coupon redemptions (no such code,
	// expired, redeemed already) one key, and one source address, may make
	// per CouponWindow; more answer 429 until the window allows another.
	// Defaults: 10 a minute.
	CouponFailures int
	CouponWindow   time.Duration
}

// callers holds the rate limiters of the API's callers.
type callers struct {
	keyRate string
	// requests by key; nil without a rate limit.
	requests *limiters
	// failed coupon redemptions by key and by source address.
	guessesByKey, guessesByAddress *limiters
}

func newCallers(l Limits) *callers {
	if l.CouponFailures == 0 {
		l.CouponFailures = 10
	}
	if l.CouponWindow == 0 {
		l.CouponWindow = time.Minute
	}
	guesses := rate.Every(l.CouponWindow / time.Duration(l.CouponFailures))
	c := &callers{
		guessesByKey:     newLimiters(guesses, l.CouponFailures),
		guessesByAddress: newLimiters(guesses, l.CouponFailures),
	}
	if l.KeyRate > 0 {
		c.keyRate = fmt.Sprint(l.KeyRate)
		c.requests = newLimiters(rate.Limit(l.KeyRate), max(1, int(l.KeyRate)))
	}
	return c
}

// throttle answers 429 to a key over its request rate.
func (cs *callers) throttle(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if cs.requests == nil {
			return next(c)
		}
		key := keyOf(c).ID
		r := cs.requests.get(key).Reserve()
		if d := r.Delay(); d > 0 {
			r.Cancel()
			return tooMany(c, d, "API key "+key+" is over its limit of "+cs.keyRate+" requests a second")
		}
		return next(c)
	}
}

// guessWait is how long the key or the address must wait before it may
// try a coupon code again, having used up its allowance of failures; 0
// when it may now. Only failures count, so a busy till is never held up.
// Tries made at the same moment are all checked before any has failed,
// so they can pass the limit by as many as run at once.
func (cs *callers) guessWait(key, address string) time.Duration {
	return max(untilToken(cs.guessesByKey.get(key)), untilToken(cs.guessesByAddress.get(address)))
}

// guessFailed counts a failed redemption against the key and the address.
func (cs *callers) guessFailed(key, address string) {
	cs.guessesByKey.get(key).Allow()
	cs.guessesByAddress.get(address).Allow()
}

// untilToken is how long until l has a token.
func untilToken(l *rate.Limiter) time.Duration {
	missing := 1 - l.Tokens()
	if missing <= 0 {
		return 0
	}
	return time.Duration(missing / float64(l.Limit()) * float64(time.Second))
}

// limiters are token buckets (golang.org/x/time/rate) by name. A bucket
// that has filled up again holds nothing worth keeping and is dropped, so
// that callers from ever new addresses cannot grow the map.
type limiters struct {
	limit rate.Limit
	burst int

	mu    sync.Mutex
	by    map[string]*rate.Limiter
	swept time.Time
}

func newLimiters(limit rate.Limit, burst int) *limiters {
	return &limiters{limit: limit, burst: burst, by: map[string]*rate.Limiter{}, swept: time.Now()}
}

// sweepEvery is how often full buckets are dropped.
const sweepEvery = time.Minute

func (ls *limiters) get(name string) *rate.Limiter {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if now := time.Now(); now.Sub(ls.swept) >= sweepEvery {
		for n, l := range ls.by {
			if l.TokensAt(now) >= float64(ls.burst) {
				delete(ls.by, n)
			}
		}
		ls.swept = now
	}
	l := ls.by[name]
	if l == nil {
		l = rate.NewLimiter(ls.limit, ls.burst)
		ls.by[name] = l
	}
	return l
}
