-- The experiment variant a journey was assigned, and when it reached the
-- campaign's goal.
ALTER TABLE journeys ADD COLUMN variant text;
ALTER TABLE journeys ADD COLUMN converted_at timestamptz;
