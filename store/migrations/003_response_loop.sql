-- A customer who rejected an offer is not offered it again until `until`.
CREATE TABLE suppressions (
    customer_id text NOT NULL REFERENCES customers (id),
    offer_id    text NOT NULL,
    until       timestamptz NOT NULL,
    reason      text NOT NULL,
    event_id    text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, offer_id)
);

-- Set once a response has been signalled to its journeys, so a repeated
-- event changes nothing, yet one whose signalling failed is signalled again.
ALTER TABLE responses ADD COLUMN routed_at timestamptz;

ALTER TABLE launches ADD COLUMN skipped_reasons jsonb NOT NULL DEFAULT '{}';

-- Provider webhook events that name no message or customer we know: kept,
-- and acknowledged so the provider does not retry forever.
CREATE TABLE webhook_orphans (
    provider    text NOT NULL,
    event_id    text NOT NULL,
    payload     jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, event_id)
);

CREATE INDEX messages_provider_message ON messages (provider_message_id) WHERE provider_message_id IS NOT NULL;
CREATE INDEX customers_phone ON customers (phone) WHERE phone IS NOT NULL;
