-- Pausing, resuming or cancelling a campaign reaches every journey of it
-- in the background; each run and its progress is a control.
CREATE TABLE campaign_controls (
    id          text PRIMARY KEY,
    campaign_id text NOT NULL,
    action      text NOT NULL,
    -- Orders the controls of a campaign, so that a journey reached by a
    -- pause after a later resume stays resumed.
    seq         bigint NOT NULL,
    status      text NOT NULL DEFAULT 'running',
    journeys    integer NOT NULL DEFAULT 0,
    finished    integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX campaign_controls_campaign ON campaign_controls (campaign_id, seq);
CREATE SEQUENCE campaign_control_seq;

-- Controls page through a campaign's active journeys by workflow id.
CREATE INDEX journeys_campaign_active ON journeys (campaign_id, workflow_id) WHERE status = 'active';
