-- What a provider needs besides subject and body: a SendGrid dynamic
-- template and its data, a push notification's deep link.
ALTER TABLE messages
    ADD COLUMN template_id   text,
    ADD COLUMN template_data jsonb,
    ADD COLUMN link          text;
