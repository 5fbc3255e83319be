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

// RedeemResult is a redeemed coupon and the conversion it recorded.
type RedeemResult struct {
	Coupon     store.Coupon     `json:"coupon"`
	Conversion responses.Result `json:"conversion"`
}

// redeemCoupon redeems a coupon once, whatever the channel (the shop, the
// app, a store's till), and records it as the journey's `converted`
// response. A second redemption, even a concurrent one, gets 409; the same
// one retried (same channel and order_ref) gets 200 again.
func (s *Server) redeemCoupon(c echo.Context) error {
	var req redeemRequest
	if err := readJSON(c, &req); err != nil {
		return err
	}
	if !channelName.MatchString(req.Channel) {
		return invalid("invalid_request", "say where the coupon is redeemed", campaign.Problem{Path: "channel",
			Message: "required: a lower-case name such as shop, app, pos or contact_center"})
	}
	ctx := c.Request().Context()
	code := c.Param("code")
	coupon, err := s.Store.RedeemCoupon(ctx, code, req.Channel, req.OrderRef)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("no coupon %q", code)
	case errors.Is(err, store.ErrRedeemed) && req.OrderRef != "" && coupon.OrderRef == req.OrderRef && coupon.RedeemedChannel == req.Channel:
		// The same redemption, retried: answer it again (and route its
		// conversion again, in case the first time could not).
	case errors.Is(err, store.ErrRedeemed):
		return &Error{Status: http.StatusConflict, Code: "already_redeemed",
			Message: fmt.Sprintf("coupon %q was redeemed on %s at %s", code, coupon.RedeemedChannel, coupon.RedeemedAt.Format("2006-01-02 15:04:05Z07:00"))}
	case errors.Is(err, store.ErrExpired):
		return &Error{Status: http.StatusConflict, Code: "expired", Message: fmt.Sprintf("coupon %q expired at %s", code, coupon.ExpiresAt.Format("2006-01-02 15:04:05Z07:00"))}
	case err != nil:
		return err
	}
	data := map[string]any{"coupon": coupon.Code}
	if req.OrderRef != "" {
		data["order_ref"] = req.OrderRef
	}
	// The event id is the code, so the conversion is stored once.
	res, err := s.Responses.Record(ctx, store.Response{EventID: "coupon:" + coupon.Code, CustomerID: coupon.CustomerID,
		CampaignID: coupon.CampaignID, OfferID: coupon.OfferID, Channel: req.Channel, Type: "converted", Data: data})
	var signalErr *responses.SignalError
	switch {
	case errors.As(err, &signalErr):
		return unavailable("the coupon is redeemed and the conversion stored, but %v; retry with the same order_ref", err)
	case err != nil:
		return err
	}
	return c.JSON(http.StatusOK, RedeemResult{Coupon: coupon, Conversion: res})
}
