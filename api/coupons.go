package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/responses"
	"github.com/omni-orchestrator/omni/store"
)

type redeemRequest struct {
	Channel  string `json:"channel"`
	OrderRef string `json:"order_ref,omitempty"`
}

// redeemCoupon redeems a coupon once, whatever the channel, and records
// the journey's conversion (see responses.Recorder.Redeem): 409 for a
// second redemption, 200 again for the same one retried.
//
// Codes are guessed: an unknown code and an expired one answer the same
// 404, so that the answer does not tell which codes were ever issued,
// and every failure counts against the key's and the source address's
// allowance (Limits.CouponFailures), beyond which all their redemptions
// answer 429 for a while. A code redeemed already answers 409 with where
// and when, which the till and the contact centre tell the customer; it
// tells a guesser only of a code that is worth nothing any more.
func (s *Server) redeemCoupon(c echo.Context) error {
	var req redeemRequest
	if err := readJSON(c, &req); err != nil {
		return err
	}
	if !channelName.MatchString(req.Channel) {
		return invalid("invalid_request", "say where the coupon is redeemed", campaign.Problem{Path: "channel",
			Message: "required: a lower-case name such as shop, app, pos or contact_center"})
	}
	key, address := keyOf(c).ID, c.RealIP()
	if wait := s.callers.guessWait(key, address); wait > 0 {
		return tooMany(c, wait, "too many failed coupon redemptions from this key or address")
	}
	code := c.Param("code")
	r, err := s.Responses.Redeem(c.Request().Context(), code, req.Channel, req.OrderRef)
	var signalErr *responses.SignalError
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrExpired):
		s.callers.guessFailed(key, address)
		return notFound("no coupon %q can be redeemed", code)
	case errors.Is(err, store.ErrRedeemed):
		s.callers.guessFailed(key, address)
		return &Error{Status: http.StatusConflict, Code: "already_redeemed",
			Message: fmt.Sprintf("coupon %q was redeemed on %s at %s", code, r.Coupon.RedeemedChannel, r.Coupon.RedeemedAt.Format("2006-01-02 15:04:05Z07:00"))}
	}
	if r.Coupon.CustomerID != "" {
		auditTargets(c, "customer:"+r.Coupon.CustomerID)
	}
	if errors.As(err, &signalErr) {
		return unavailable("the coupon is redeemed and the conversion stored, but %v; retry with the same order_ref", err)
	} else if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}
