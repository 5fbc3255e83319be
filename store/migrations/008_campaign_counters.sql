-- KPIs are counters kept as journeys, messages and responses are written,
-- so a campaign's stats never scan its journeys. Each count is spread over
-- 8 shards so that concurrent sends do not queue on one row; reads sum them.
CREATE TABLE campaign_counters (
    campaign_id text NOT NULL,
    variant     text NOT NULL, -- '' until (or unless) an experiment assigns one
    channel     text NOT NULL, -- '' for journey counts
    step        text NOT NULL, -- '' for journey and response counts
    metric      text NOT NULL,
    shard       smallint NOT NULL,
    n           bigint NOT NULL,
    PRIMARY KEY (campaign_id, variant, channel, step, metric, shard)
);

CREATE FUNCTION bump(c text, v text, ch text, st text, m text, d bigint) RETURNS void LANGUAGE sql AS $$
    INSERT INTO campaign_counters AS cc (campaign_id, variant, channel, step, metric, shard, n)
    VALUES (c, coalesce(v, ''), coalesce(ch, ''), coalesce(st, ''), m, (random() * 7)::smallint, d)
    ON CONFLICT (campaign_id, variant, channel, step, metric, shard) DO UPDATE SET n = cc.n + excluded.n
$$;

-- A message counts under its status; a skip also under its reason
-- (skipped:no_consent, ...), a failure under its class (failed:permanent, ...).
CREATE FUNCTION message_metrics(status text, reason text) RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN status IN ('skipped', 'failed') AND coalesce(reason, '') <> ''
            THEN ARRAY[status, status || ':' || split_part(split_part(reason, ':', 1), ' ', 1)]
        ELSE ARRAY[status] END
$$;

CREATE FUNCTION count_message() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v text;
    m text;
BEGIN
    SELECT variant INTO v FROM journeys WHERE workflow_id = NEW.journey_id;
    IF TG_OP = 'UPDATE' THEN
        IF OLD.status = NEW.status THEN
            RETURN NULL;
        END IF;
        FOREACH m IN ARRAY message_metrics(OLD.status, OLD.reason) LOOP
            PERFORM bump(NEW.campaign_id, v, NEW.channel, NEW.step, m, -1);
        END LOOP;
    END IF;
    FOREACH m IN ARRAY message_metrics(NEW.status, NEW.reason) LOOP
        PERFORM bump(NEW.campaign_id, v, NEW.channel, NEW.step, m, 1);
    END LOOP;
    RETURN NULL;
END $$;
CREATE TRIGGER count_message AFTER INSERT OR UPDATE OF status ON messages
    FOR EACH ROW EXECUTE FUNCTION count_message();

-- A response counts under its type, on its channel, and under the step of
-- the message it is about when a provider webhook names one.
CREATE FUNCTION count_response() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v text;
    st text;
BEGIN
    IF NEW.campaign_id IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT variant INTO v FROM journeys WHERE workflow_id = 'journey:' || NEW.campaign_id || ':' || NEW.customer_id;
    IF NEW.data ? 'message_id' THEN
        SELECT step INTO st FROM messages WHERE id::text = NEW.data->>'message_id';
    END IF;
    PERFORM bump(NEW.campaign_id, v, NEW.channel, st, NEW.type, 1);
    RETURN NULL;
END $$;
CREATE TRIGGER count_response AFTER INSERT ON responses
    FOR EACH ROW EXECUTE FUNCTION count_response();

-- Journeys count as enrolled (moving to their variant once assigned),
-- converted (once, with the goal), and by how they ended.
CREATE FUNCTION count_journey() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM bump(NEW.campaign_id, NEW.variant, '', '', 'enrolled', 1);
        RETURN NULL;
    END IF;
    IF coalesce(OLD.variant, '') <> coalesce(NEW.variant, '') THEN
        PERFORM bump(NEW.campaign_id, OLD.variant, '', '', 'enrolled', -1);
        PERFORM bump(NEW.campaign_id, NEW.variant, '', '', 'enrolled', 1);
        IF OLD.converted_at IS NOT NULL THEN
            PERFORM bump(NEW.campaign_id, OLD.variant, '', '', 'converted', -1);
            PERFORM bump(NEW.campaign_id, NEW.variant, '', '', 'converted', 1);
        END IF;
    END IF;
    IF OLD.converted_at IS NULL AND NEW.converted_at IS NOT NULL THEN
        PERFORM bump(NEW.campaign_id, NEW.variant, '', '', 'converted', 1);
    END IF;
    IF OLD.status = 'active' AND NEW.status <> 'active' THEN
        PERFORM bump(NEW.campaign_id, NEW.variant, '', '', 'ended:' || NEW.status, 1);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER count_journey AFTER INSERT OR UPDATE OF variant, converted_at, status ON journeys
    FOR EACH ROW EXECUTE FUNCTION count_journey();

-- What was there before the counters.
INSERT INTO campaign_counters (campaign_id, variant, channel, step, metric, shard, n)
SELECT campaign_id, coalesce(variant, ''), '', '', metric, 0, count(*) FROM (
    SELECT campaign_id, variant, 'enrolled' AS metric FROM journeys
    UNION ALL SELECT campaign_id, variant, 'converted' FROM journeys WHERE converted_at IS NOT NULL
    UNION ALL SELECT campaign_id, variant, 'ended:' || status FROM journeys WHERE status <> 'active'
) j GROUP BY 1, 2, 5;
INSERT INTO campaign_counters (campaign_id, variant, channel, step, metric, shard, n)
SELECT m.campaign_id, coalesce(j.variant, ''), m.channel, m.step, x.metric, 0, count(*)
FROM messages m LEFT JOIN journeys j ON j.workflow_id = m.journey_id, unnest(message_metrics(m.status, m.reason)) AS x(metric)
GROUP BY 1, 2, 3, 4, 5;
INSERT INTO campaign_counters (campaign_id, variant, channel, step, metric, shard, n)
SELECT r.campaign_id, coalesce(j.variant, ''), r.channel, coalesce(m.step, ''), r.type, 0, count(*)
FROM responses r
LEFT JOIN journeys j ON j.workflow_id = 'journey:' || r.campaign_id || ':' || r.customer_id
LEFT JOIN messages m ON r.data ? 'message_id' AND m.id::text = r.data->>'message_id'
WHERE r.campaign_id IS NOT NULL
GROUP BY 1, 2, 3, 4, 5;
