-- A message is marked attempted just before its provider is called, and
-- unmarked when the provider answers that it does not have it. A retry that
-- finds the mark does not know whether the provider took the message, so
-- it asks the provider or waits for its webhook before sending again.
ALTER TABLE messages ADD COLUMN attempted_at timestamptz;
