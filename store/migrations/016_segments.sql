-- Segments: named conditions over customers and their events. events and
-- fields list what membership depends on, so that an event or a profile
-- change re-evaluates only the segments it can change.
CREATE TABLE segments (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    definition jsonb NOT NULL,
    events     text[] NOT NULL DEFAULT '{}',
    fields     text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- A customer's standing in a segment: a row for every member, and for a
-- non-member whose standing time alone will change (expires_at: a lapse
-- window ends). expires_at is when the standing could next change without
-- an event or a profile change; the segment runner re-evaluates rows whose
-- time has come. since is when the customer's membership last changed.
CREATE TABLE segment_members (
    segment_id  text NOT NULL REFERENCES segments (id) ON DELETE CASCADE,
    customer_id text NOT NULL REFERENCES customers (id),
    member      boolean NOT NULL,
    since       timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    PRIMARY KEY (segment_id, customer_id)
);
CREATE INDEX segment_members_customer ON segment_members (customer_id) WHERE member;
CREATE INDEX segment_members_due ON segment_members (expires_at) WHERE expires_at IS NOT NULL;

-- Entering and leaving segments that campaigns are triggered by, written
-- in the statement that changes the membership, so that no trigger is
-- lost between the change and the enrolment: dispatched_at is set once the
-- campaigns were entered, and the runner dispatches what a process that
-- died left behind.
CREATE TABLE segment_transitions (
    id            bigserial PRIMARY KEY,
    segment_id    text NOT NULL REFERENCES segments (id) ON DELETE CASCADE,
    customer_id   text NOT NULL,
    entered       boolean NOT NULL,
    at            timestamptz NOT NULL DEFAULT now(),
    dispatched_at timestamptz
);
CREATE INDEX segment_transitions_pending ON segment_transitions (at) WHERE dispatched_at IS NULL;

-- A campaign version's segment trigger, beside its event trigger.
ALTER TABLE campaigns ADD COLUMN trigger_segment text;
CREATE INDEX campaigns_trigger_segment ON campaigns (trigger_segment) WHERE trigger_segment IS NOT NULL;

-- A customer's latest events of one name, for performed tests.
CREATE INDEX events_customer_name ON events (customer_id, name, occurred_at);
