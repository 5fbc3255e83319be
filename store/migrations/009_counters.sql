-- A transaction's bumps go to one shard (its transaction id's), not to a
-- random shard each: a statement that writes many rows then locks each
-- counter row once, and two transactions share no counter rows unless
-- their ids fall on the same shard.
CREATE OR REPLACE FUNCTION bump(c text, v text, ch text, st text, m text, d bigint) RETURNS void LANGUAGE sql AS $$
    INSERT INTO campaign_counters AS cc (campaign_id, variant, channel, step, metric, shard, n)
    VALUES (c, coalesce(v, ''), coalesce(ch, ''), coalesce(st, ''), m, (txid_current() % 8)::smallint, d)
    ON CONFLICT (campaign_id, variant, channel, step, metric, shard) DO UPDATE SET n = cc.n + excluded.n
$$;

-- count_response found a response's message by comparing id::text, which no
-- index serves: every webhook event scanned the whole messages table. Cast
-- the reference instead, when it is a uuid at all (responses posted to the
-- API may carry anything under data.message_id).
CREATE OR REPLACE FUNCTION count_response() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v text;
    st text;
BEGIN
    IF NEW.campaign_id IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT variant INTO v FROM journeys WHERE workflow_id = 'journey:' || NEW.campaign_id || ':' || NEW.customer_id;
    IF NEW.data->>'message_id' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        SELECT step INTO st FROM messages WHERE id = (NEW.data->>'message_id')::uuid;
    END IF;
    PERFORM bump(NEW.campaign_id, v, NEW.channel, st, NEW.type, 1);
    RETURN NULL;
END $$;
