-- Customers: the one profile every channel reads and writes.
CREATE TABLE customers (
    id                text PRIMARY KEY,
    email             text,
    phone             text,
    push_token        text,
    timezone          text,
    locale            text,
    preferred_channel text,
    consent_email     boolean NOT NULL DEFAULT true,
    consent_sms       boolean NOT NULL DEFAULT true,
    consent_push      boolean NOT NULL DEFAULT true,
    attributes        jsonb NOT NULL DEFAULT '{}',
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- Campaigns are versioned: an update adds a version, running journeys keep theirs.
CREATE TABLE campaigns (
    id         text NOT NULL,
    version    integer NOT NULL,
    name       text NOT NULL,
    offer_id   text,
    definition jsonb NOT NULL,
    status     text NOT NULL DEFAULT 'active',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, version)
);

CREATE TABLE launches (
    id               text PRIMARY KEY,
    campaign_id      text NOT NULL,
    version          integer NOT NULL,
    audience         jsonb NOT NULL,
    status           text NOT NULL DEFAULT 'running',
    enrolled         integer NOT NULL DEFAULT 0,
    already_enrolled integer NOT NULL DEFAULT 0,
    skipped          integer NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    FOREIGN KEY (campaign_id, version) REFERENCES campaigns (id, version)
);
CREATE INDEX launches_campaign ON launches (campaign_id, created_at);

-- One row per journey workflow; the read model of where each customer is.
CREATE TABLE journeys (
    workflow_id  text PRIMARY KEY,
    campaign_id  text NOT NULL,
    version      integer NOT NULL,
    customer_id  text NOT NULL REFERENCES customers (id),
    status       text NOT NULL DEFAULT 'active',
    current_step text NOT NULL,
    exit_reason  text,
    started_at   timestamptz NOT NULL DEFAULT now(),
    ended_at     timestamptz,
    FOREIGN KEY (campaign_id, version) REFERENCES campaigns (id, version)
);
CREATE INDEX journeys_customer ON journeys (customer_id, started_at);
CREATE INDEX journeys_campaign ON journeys (campaign_id, status);

-- A message's identity is its idempotency key (journey and step), never the attempt.
CREATE TABLE messages (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    idempotency_key     text NOT NULL UNIQUE,
    journey_id          text NOT NULL REFERENCES journeys (workflow_id),
    campaign_id         text NOT NULL,
    customer_id         text NOT NULL REFERENCES customers (id),
    step                text NOT NULL,
    channel             text NOT NULL,
    provider            text,
    provider_message_id text,
    recipient           text,
    subject             text,
    body                text,
    status              text NOT NULL,
    reason              text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    sent_at             timestamptz
);
CREATE INDEX messages_customer ON messages (customer_id, created_at);
CREATE INDEX messages_journey ON messages (journey_id);

-- Responses are stored once per event_id, whatever the channel reports twice.
CREATE TABLE responses (
    event_id    text PRIMARY KEY,
    customer_id text NOT NULL REFERENCES customers (id),
    campaign_id text,
    offer_id    text,
    channel     text NOT NULL,
    type        text NOT NULL,
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    data        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX responses_customer ON responses (customer_id, occurred_at);
