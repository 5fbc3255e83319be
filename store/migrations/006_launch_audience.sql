-- How many customers a launch's audience (all, listed, filtered) held.
ALTER TABLE launches ADD COLUMN audience_size integer NOT NULL DEFAULT 0;
