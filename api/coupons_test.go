package api_test

import (
	"fmt"
	"regexp"
	"sync"
	"testing"
)

const couponCampaign = `{"id": "spring", "offer_id": "SPRING-20", "rules": {"goal": "converted"}, "start_at": "code", "steps": {
	"code": {"coupon": {"prefix": "SPR-", "length": 8, "valid_for": "240h"}, "next": "mail"},
	"mail": {"send": {"channel": "email", "template": {"subject": "20% off", "body": "<p>Your code: {{coupon}}</p>"}}, "next": "wait"},
	"wait": {"wait": {"for": ["converted"], "timeout": "1h"}, "on": {"converted": "done", "timeout": "done"}},
	"done": {"exit": {}}}}`

var couponInBody = regexp.MustCompile(`SPR-[A-Z2-9]{8}`)

// couponOf waits for the customer's email and returns the code in it.
func couponOf(t *testing.T, c *client, customer string) string {
	t.Helper()
	var code string
	eventually(t, customer+"'s email with a coupon", func() bool {
		ms := messages(c.must(200, "GET", "/v1/customers/"+customer, nil))
		if len(ms) == 1 {
			code = couponInBody.FindString(ms[0]["body"].(string))
		}
		return code != ""
	})
	return code
}

func TestCouponIssuedByEmailRedeemedAtThePointOfSaleOnce(t *testing.T) {
	c, _ := start(t)
	c.must(200, "POST", "/v1/customers", `[{"id": "ada", "email": "ada@example.com"}, {"id": "bob", "email": "bob@example.com"}]`)
	problemAt(t, c.must(400, "POST", "/v1/campaigns", `{"id": "nooffer", "start_at": "code", "steps": {
		"code": {"coupon": {"prefix": "x"}, "next": "done"}, "done": {"exit": {}}}}`), "invalid_campaign", "steps.code.coupon.prefix")
	c.must(201, "POST", "/v1/campaigns", couponCampaign)
	for _, id := range []string{"ada", "bob"} {
		c.must(201, "POST", "/v1/campaigns/spring/enroll", `{"customer_id": "`+id+`"}`)
	}
	code := couponOf(t, c, "ada")

	out := c.must(200, "POST", "/v1/coupons/"+code+"/redeem", `{"channel": "pos", "order_ref": "till-7/0042"}`)
	if cp := out["coupon"].(map[string]any); cp["customer_id"] != "ada" || cp["redeemed_channel"] != "pos" || cp["offer_id"] != "SPRING-20" {
		t.Fatalf("redeemed %v", out)
	}
	c.must(200, "POST", "/v1/coupons/"+code+"/redeem", `{"channel": "pos", "order_ref": "till-7/0042"}`) // the till retries
	problemAt(t, c.must(409, "POST", "/v1/coupons/"+code+"/redeem", `{"channel": "shop", "order_ref": "web-1"}`), "already_redeemed", "-")
	var view map[string]any
	eventually(t, "ada's journey to convert and end", func() bool {
		view = c.must(200, "GET", "/v1/customers/ada", nil)
		j := journey(view)
		return j["status"] == "completed" && j["converted_at"] != nil
	})
	if cps := view["coupons"].([]any); len(cps) != 1 || cps[0].(map[string]any)["redeemed_at"] == nil {
		t.Fatalf("coupons in the customer view: %v", view["coupons"])
	}
	if got := responseTypes(view); got["converted"] != 1 {
		t.Fatalf("responses %v", got)
	}

	// Five tills at once: one wins.
	bobs := couponOf(t, c, "bob")
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Go(func() {
			got, _ := c.do("POST", "/v1/coupons/"+bobs+"/redeem", fmt.Sprintf(`{"channel": "pos", "order_ref": "till-%d"}`, i))
			mu.Lock()
			codes[got]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[200] != 1 || codes[409] != 4 {
		t.Fatalf("concurrent redemptions: %v", codes)
	}
	c.must(404, "POST", "/v1/coupons/SPR-NOTACODE/redeem", `{"channel": "pos"}`)
	problemAt(t, c.must(400, "POST", "/v1/coupons/"+bobs+"/redeem", `{"channel": "Point of Sale"}`), "invalid_request", "channel")
}
