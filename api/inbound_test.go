package api_test

import (
	"fmt"
	"net/url"
	"regexp"
	"testing"
	"time"
)

// inboundCampaign issues a coupon, sends it by email and SMS, and waits.
const inboundCampaign = `{"id": "inbound", "offer_id": "IN-1", "rules": {"exit_on": ["unsubscribed"], "goal": "converted"},
  "start_at": "code", "steps": {
  "code": {"coupon": {"prefix": "IN-"}, "next": "mail"},
  "mail": {"send": {"channel": "email", "template": {"subject": "Hi", "body": "Code {{coupon}}"}}, "next": "text"},
  "text": {"send": {"channel": "sms", "template": {"body": "Code {{coupon}}"}}, "next": "wait"},
  "wait": {"wait": {"for": ["clicked"], "timeout": "1h"}, "next": "done"},
  "done": {"exit": {}}}}`

var inboundCoupon = regexp.MustCompile(`IN-[A-Z2-9]{8}`)

// subject is a customer in the inbound campaign, with what sources name.
type subject struct {
	id, phone, email, sms, coupon string
}

// inboundCase is one thing a customer does, as a source reports it: send
// reports it once, and says what the source answered (accepted, duplicate
// or unknown; "" when the source answers nothing that tells).
type inboundCase func(c *client, s subject, unknown bool) string

// Every source of what customers do reaches the store and the journeys
// through the one recorder: the same cases give the same outcomes,
// whichever source reports them.
func TestEveryInboundSourceAppliesTheSameRules(t *testing.T) {
	c, _ := startWith(t, unverified)
	c.must(201, "POST", "/v1/campaigns", inboundCampaign)

	tally := func(out map[string]any) string {
		switch {
		case out["accepted"] == float64(1):
			return "accepted"
		case out["duplicates"] == float64(1):
			return "duplicate"
		case out["orphans"] == float64(1):
			return "unknown"
		}
		return fmt.Sprint(out)
	}
	api := func(typ, channel string, data map[string]any) inboundCase {
		return func(c *client, s subject, unknown bool) string {
			id := s.id
			if unknown {
				id = "nobody"
			}
			code, _ := c.do("POST", "/v1/responses", map[string]any{"event_id": "api-" + s.id, "customer_id": id,
				"campaign_id": "inbound", "channel": channel, "type": typ, "data": data})
			return map[int]string{201: "accepted", 200: "duplicate", 404: "unknown"}[code]
		}
	}
	sendgrid := func(event string) inboundCase {
		return func(c *client, s subject, unknown bool) string {
			msg := s.email
			if unknown {
				msg = "00000000-0000-0000-0000-000000000000"
			}
			body := fmt.Sprintf(`[{"event": %q, "sg_event_id": "sg-%s", "omni_message_id": %q, "timestamp": %d}]`, event, s.id, msg, time.Now().Unix())
			_, out := c.doWith("POST", "/v1/webhooks/sendgrid", body, "application/json", nil)
			return tally(out)
		}
	}
	twilioStatus := func(status, errorCode string) inboundCase {
		return func(c *client, s subject, unknown bool) string {
			msg, sid := s.sms, "SM-"+s.id
			if unknown {
				msg, sid = "", "SM-unknown-"+s.id
			}
			form := url.Values{"MessageSid": {sid}, "MessageStatus": {status}, "To": {s.phone}}
			if errorCode != "" {
				form.Set("ErrorCode", errorCode)
			}
			_, out := c.doWith("POST", "/v1/webhooks/twilio/status?message_id="+msg, form.Encode(), "application/x-www-form-urlencoded", nil)
			return tally(out)
		}
	}
	twilioInbound := func(text string) inboundCase {
		return func(c *client, s subject, unknown bool) string {
			from := s.phone
			if unknown {
				from = "+4915199999999"
			}
			form := url.Values{"MessageSid": {"SMin-" + s.id}, "From": {from}, "Body": {text}}
			if code, _ := c.doWith("POST", "/v1/webhooks/twilio/inbound", form.Encode(), "application/x-www-form-urlencoded", nil); code != 200 {
				return fmt.Sprint(code)
			}
			return "" // TwiML says nothing of what became of it
		}
	}
	coupon := func(c *client, s subject, unknown bool) string {
		code := s.coupon
		if unknown {
			code = "IN-NOSUCH22"
		}
		status, out := c.do("POST", "/v1/coupons/"+code+"/redeem", `{"channel": "pos", "order_ref": "till-1"}`)
		switch {
		case status == 404:
			return "unknown"
		case status == 200 && out["conversion"].(map[string]any)["duplicate"] == true:
			return "duplicate"
		case status == 200:
			return "accepted"
		}
		return fmt.Sprint(status)
	}

	// Each source reports, where it can, each of the cases.
	type cases struct {
		duplicate, unknown, rejection, unsubscribe, optIn, conversion inboundCase
		// channel is the channel an unsubscribe or opt-in changes.
		channel string
	}
	sources := map[string]cases{
		"api": {duplicate: api("clicked", "email", nil), unknown: api("clicked", "email", nil), rejection: api("rejected", "contact_center", nil),
			unsubscribe: api("unsubscribed", "email", nil), optIn: api("subscribed", "email", nil), conversion: api("converted", "shop", nil), channel: "email"},
		"sendgrid":       {duplicate: sendgrid("open"), unknown: sendgrid("open"), unsubscribe: sendgrid("unsubscribe"), optIn: sendgrid("group_resubscribe"), channel: "email"},
		"twilio-status":  {duplicate: twilioStatus("delivered", ""), unknown: twilioStatus("delivered", ""), unsubscribe: twilioStatus("undelivered", "21610"), channel: "sms"},
		"twilio-inbound": {duplicate: twilioInbound("STOP"), unknown: twilioInbound("STOP"), unsubscribe: twilioInbound("STOP"), optIn: twilioInbound("START"), channel: "sms"},
		"coupon":         {duplicate: coupon, unknown: coupon, conversion: coupon},
	}

	n := 0
	enroll := func(t *testing.T) subject {
		n++
		s := subject{id: fmt.Sprintf("c%02d", n), phone: fmt.Sprintf("+49151000000%02d", n)}
		c.must(200, "POST", "/v1/customers", map[string]any{"id": s.id, "email": s.id + "@example.com", "phone": s.phone})
		c.must(201, "POST", "/v1/campaigns/inbound/enroll", map[string]any{"customer_id": s.id})
		eventually(t, s.id+"'s email and SMS", func() bool {
			for _, m := range messages(c.must(200, "GET", "/v1/customers/"+s.id, nil)) {
				switch m["channel"] {
				case "email":
					s.email, s.coupon = m["id"].(string), inboundCoupon.FindString(m["body"].(string))
				case "sms":
					s.sms = m["id"].(string)
				}
			}
			return s.email != "" && s.sms != "" && journeyStep(c, s.id, "inbound") == "wait"
		})
		return s
	}
	view := func(s subject) map[string]any { return c.must(200, "GET", "/v1/customers/"+s.id, nil) }
	responses := func(s subject) int { return len(view(s)["responses"].([]any)) }
	consent := func(s subject, channel string) bool {
		return view(s)["customer"].(map[string]any)["consent"].(map[string]any)[channel] == true
	}
	answered := func(t *testing.T, got, want string) {
		t.Helper()
		if got != "" && got != want {
			t.Fatalf("answered %s, want %s", got, want)
		}
	}

	for name, src := range sources {
		t.Run(name, func(t *testing.T) {
			if src.duplicate != nil {
				s := enroll(t)
				answered(t, src.duplicate(c, s, false), "accepted")
				answered(t, src.duplicate(c, s, false), "duplicate")
				if got := responses(s); got != 1 {
					t.Errorf("duplicate: %d responses stored, want 1", got)
				}
			}
			if src.unknown != nil {
				s := enroll(t)
				answered(t, src.unknown(c, s, true), "unknown")
				if got := responses(s); got != 0 {
					t.Errorf("unknown: %d responses stored for a customer it did not name", got)
				}
			}
			if src.rejection != nil {
				s := enroll(t)
				answered(t, src.rejection(c, s, false), "accepted")
				eventually(t, "the rejection to end the journey suppressed", func() bool { return journeyStatus(c, s.id, "inbound") == "suppressed" })
				if sup := view(s)["suppressions"].([]any); len(sup) != 1 || sup[0].(map[string]any)["offer_id"] != "IN-1" {
					t.Errorf("rejection: suppressions %v", sup)
				}
			}
			if src.unsubscribe != nil {
				s := enroll(t)
				answered(t, src.unsubscribe(c, s, false), "accepted")
				if consent(s, src.channel) {
					t.Errorf("unsubscribe left %s consent on", src.channel)
				}
				eventually(t, "the unsubscribe to end the journey (exit_on)", func() bool { return journeyStatus(c, s.id, "inbound") == "exited" })
			}
			if src.optIn != nil {
				s := enroll(t)
				c.must(200, "POST", "/v1/customers", map[string]any{"id": s.id, "consent": map[string]bool{src.channel: false}})
				answered(t, src.optIn(c, s, false), "accepted")
				if !consent(s, src.channel) {
					t.Errorf("opt-in left %s consent off", src.channel)
				}
			}
			if src.conversion != nil {
				s := enroll(t)
				answered(t, src.conversion(c, s, false), "accepted")
				if j := journey(view(s)); j["converted_at"] == nil {
					t.Errorf("conversion: journey %v not converted", j)
				}
			}
		})
	}
}
