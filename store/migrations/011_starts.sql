-- Enrolment writes a journey's row, then starts its workflow; a launch and a
-- control likewise. The rows keep what a start needs (a journey's
-- enrolment data), who enrolled a journey (its launch), and the workflow
-- run once it is known to have started, so that a start cut short (the
-- process died between the row and the workflow) is found and made good.
-- Rows from before are taken as started ('': run not recorded).
ALTER TABLE journeys ADD COLUMN data jsonb, ADD COLUMN launch_id text, ADD COLUMN run_id text DEFAULT '';
ALTER TABLE journeys ALTER COLUMN run_id DROP DEFAULT;
ALTER TABLE launches ADD COLUMN run_id text DEFAULT '';
ALTER TABLE launches ALTER COLUMN run_id DROP DEFAULT;
ALTER TABLE campaign_controls ADD COLUMN run_id text DEFAULT '';
ALTER TABLE campaign_controls ALTER COLUMN run_id DROP DEFAULT;
CREATE INDEX journeys_unstarted ON journeys (started_at) WHERE run_id IS NULL AND status = 'active';
