-- Scheduled and recurring launches. Temporal keeps each schedule (its
-- spec, pause state and next runs: the engineers' view in the UI); this
-- row keeps what each of its runs launches (the audience, which may list
-- 100,000 ids, and the delivery), and numbers the campaign's schedules so
-- that an id is never used twice. A deleted schedule's row stays, marked.
CREATE TABLE launch_schedules (
    id            text PRIMARY KEY,
    campaign_id   text NOT NULL,
    seq           integer NOT NULL,
    audience      jsonb NOT NULL,
    timing        jsonb NOT NULL,
    local_time    text,
    rate_per_minute integer,
    created_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz,
    UNIQUE (campaign_id, seq)
);

-- A launch may be a run of a schedule, and may deliver at each customer's
-- local time of day and at a rate.
ALTER TABLE launches ADD COLUMN schedule_id text, ADD COLUMN local_time text, ADD COLUMN rate_per_minute integer;
CREATE INDEX launches_schedule ON launches (schedule_id, created_at) WHERE schedule_id IS NOT NULL;
