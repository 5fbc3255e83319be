-- A response finds its journey's variant without rebuilding the journey's
-- workflow id in SQL: through the message a provider's event names, else
-- as the customer's latest journey in the campaign.
CREATE OR REPLACE FUNCTION count_response() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v text;
    st text;
BEGIN
    IF NEW.campaign_id IS NULL THEN
        RETURN NULL;
    END IF;
    IF NEW.data->>'message_id' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        SELECT m.step, j.variant INTO st, v FROM messages m LEFT JOIN journeys j ON j.workflow_id = m.journey_id
        WHERE m.id = (NEW.data->>'message_id')::uuid;
    END IF;
    IF st IS NULL THEN
        SELECT variant INTO v FROM journeys WHERE customer_id = NEW.customer_id AND campaign_id = NEW.campaign_id
        ORDER BY started_at DESC LIMIT 1;
    END IF;
    PERFORM bump(NEW.campaign_id, v, NEW.channel, st, NEW.type, 1);
    RETURN NULL;
END $$;
