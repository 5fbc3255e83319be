package api_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/omni-orchestrator/omni/api"
	"github.com/omni-orchestrator/omni/store"
)

// Coupon codes cannot be guessed: an unknown code and an expired one look
// the same, and after a few failures a key, and an address, get 429.
func TestCouponGuessingIsLimited(t *testing.T) {
	c, env := startServer(t, func(s *api.Server) { s.Limits = api.Limits{CouponFailures: 3, CouponWindow: time.Hour} })
	c.must(200, "POST", "/v1/customers", `{"id": "ada", "email": "ada@example.com"}`)
	c.must(201, "POST", "/v1/campaigns", couponCampaign)
	c.must(201, "POST", "/v1/campaigns/spring/enroll", `{"customer_id": "ada"}`)
	code := couponOf(t, c, "ada")
	expired, err := env.Store.IssueCoupon(context.Background(), "expired", store.Coupon{CustomerID: "ada", CampaignID: "spring",
		JourneyID: "journey:spring:ada", OfferID: "SPRING-20", ExpiresAt: time.Now().Add(-time.Hour)}, "SPR-", 8)
	if err != nil {
		t.Fatal(err)
	}

	redeem := `{"channel": "pos"}`
	unknown := c.must(404, "POST", "/v1/coupons/SPR-NOSUCH22/redeem", redeem)
	old := c.must(404, "POST", "/v1/coupons/"+expired.Code+"/redeem", redeem)
	if strings.ReplaceAll(errorMessage(unknown), "SPR-NOSUCH22", "CODE") != strings.ReplaceAll(errorMessage(old), expired.Code, "CODE") {
		t.Fatalf("unknown %v and expired %v can be told apart", unknown, old)
	}
	c.must(404, "POST", "/v1/coupons/SPR-NOSUCH33/redeem", redeem)

	// Three failures: even the right code is refused now, for a while.
	status, h, out := c.send("POST", "/v1/coupons/"+code+"/redeem", redeem, "application/json", nil)
	if wait, _ := strconv.Atoi(h.Get("Retry-After")); status != 429 || errorCode(out) != "rate_limited" || wait < 1 {
		t.Fatalf("after 3 failures: %d %v, Retry-After %q", status, out, h.Get("Retry-After"))
	}
	// Another key from the same address too.
	till := c.as(newKey(t, env, "events:write"))
	till.must(429, "POST", "/v1/coupons/"+code+"/redeem", redeem)
	// The first key from elsewhere too.
	elsewhere := map[string]string{"X-Forwarded-For": "203.0.113.7"}
	if status, _ := c.doWith("POST", "/v1/coupons/"+code+"/redeem", redeem, "application/json", elsewhere); status != 429 {
		t.Fatalf("the key from another address: %d", status)
	}
	// The other key from elsewhere redeems it; successes (the till
	// retrying the same redemption) use up nothing.
	for range 5 {
		if status, out := till.doWith("POST", "/v1/coupons/"+code+"/redeem", `{"channel": "pos", "order_ref": "till-1"}`, "application/json", elsewhere); status != 200 {
			t.Fatalf("the till from its own address: %d %v", status, out)
		}
	}
}

// A key may be held to a request rate.
func TestKeyRateLimit(t *testing.T) {
	c, _ := startServer(t, func(s *api.Server) { s.Limits = api.Limits{KeyRate: 0.01} }) // one request, then one every 100 s
	c.must(404, "GET", "/v1/customers/ada", nil)
	status, h, out := c.send("GET", "/v1/customers/ada", nil, "application/json", nil)
	if wait, _ := strconv.Atoi(h.Get("Retry-After")); status != 429 || errorCode(out) != "rate_limited" || wait < 1 {
		t.Fatalf("second request: %d %v, Retry-After %q", status, out, h.Get("Retry-After"))
	}
	c.must(200, "GET", "/healthz", nil) // public routes are not limited
}
