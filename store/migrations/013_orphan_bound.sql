-- Orphan webhook events are kept for a while, a bounded number per
-- provider (see RecordOrphan): this index finds the oldest to prune.
CREATE INDEX webhook_orphans_age ON webhook_orphans (provider, received_at);
