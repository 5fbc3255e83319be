-- Personal single-use codes for a campaign's offer, redeemable on any channel.
CREATE TABLE coupons (
    code             text PRIMARY KEY,
    idempotency_key  text NOT NULL UNIQUE,
    customer_id      text NOT NULL REFERENCES customers (id),
    campaign_id      text NOT NULL,
    journey_id       text NOT NULL,
    offer_id         text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    redeemed_at      timestamptz,
    redeemed_channel text,
    order_ref        text
);
CREATE INDEX coupons_customer ON coupons (customer_id, created_at);
