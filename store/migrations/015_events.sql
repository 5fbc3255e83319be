-- What customers do, as their systems report it: stored once per event id,
-- found by customer and by name. routed_at is set once the event has
-- entered the campaigns it triggers and reached the journeys that wait for
-- it, so that a repeat of an event that could not be routed routes it.
CREATE TABLE events (
    event_id    text PRIMARY KEY,
    customer_id text NOT NULL REFERENCES customers (id),
    name        text NOT NULL,
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    properties  jsonb NOT NULL DEFAULT '{}',
    routed_at   timestamptz
);
CREATE INDEX events_customer ON events (customer_id, occurred_at);
CREATE INDEX events_name ON events (name, occurred_at);
CREATE INDEX events_received ON events (received_at);

-- A campaign version's trigger event, and the events its journeys wait for
-- or exit on, kept beside the definition so that an event finds the
-- campaigns it enters and the journeys it reaches in one query.
ALTER TABLE campaigns ADD COLUMN trigger_event text, ADD COLUMN listens text[] NOT NULL DEFAULT '{}';
CREATE INDEX campaigns_trigger_event ON campaigns (trigger_event) WHERE trigger_event IS NOT NULL;

-- A customer may enter a campaign more than once (entry.reentry), or once
-- per key (entry.key: a cart, an order): each journey is an instance,
-- numbered per customer and campaign, with the key and the event that
-- entered it.
ALTER TABLE journeys ADD COLUMN instance integer NOT NULL DEFAULT 1, ADD COLUMN entry_key text,
    ADD COLUMN entry_event_id text, ADD COLUMN event jsonb;
CREATE INDEX journeys_campaign_customer ON journeys (campaign_id, customer_id);
