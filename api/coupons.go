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
func (s *Server) redeemCoupon(c echo.Context) error {
	var req redeemRequest
	if err := readJSON(c, &req); err != nil {
		return err
	}
	if !channelName.MatchString(req.Channel) {
		return invalid("invalid_request", "say where the coupon is redeemed", campaign.Problem{Path: "channel",
			Message: "required: a lower-case name such as shop, app, pos or contact_center"})
	}
	code := c.Param("code")
	r, err := s.Responses.Redeem(c.Request().Context(), code, req.Channel, req.OrderRef)
	var signalErr *responses.SignalError
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("no coupon %q", code)
	case errors.Is(err, store.ErrRedeemed):
		return &Error{Status: http.StatusConflict, Code: "already_redeemed",
			Message: fmt.Sprintf("coupon %q was redeemed on %s at %s", code, r.Coupon.RedeemedChannel, r.Coupon.RedeemedAt.Format("2006-01-02 15:04:05Z07:00"))}
	case errors.Is(err, store.ErrExpired):
		return &Error{Status: http.StatusConflict, Code: "expired", Message: fmt.Sprintf("coupon %q expired at %s", code, r.Coupon.ExpiresAt.Format("2006-01-02 15:04:05Z07:00"))}
	case errors.As(err, &signalErr):
		return unavailable("the coupon is redeemed and the conversion stored, but %v; retry with the same order_ref", err)
	case err != nil:
		return err
	}
	return c.JSON(http.StatusOK, r)
}
