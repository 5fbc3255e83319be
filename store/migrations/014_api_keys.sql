-- API keys: only a hash of the secret is stored. Keys are revoked, never
-- deleted, so the audit trail can always name them.
CREATE TABLE api_keys (
    id           text PRIMARY KEY,
    name         text NOT NULL,
    secret_hash  bytea NOT NULL,
    scopes       text[] NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);

-- Every state-changing call, append-only: who (key), what (action and
-- targets), which request, when, and how it ended (the HTTP status).
CREATE TABLE audit (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    key_id     text NOT NULL REFERENCES api_keys (id),
    action     text NOT NULL,
    targets    text[] NOT NULL DEFAULT '{}',
    request_id text NOT NULL,
    status     integer NOT NULL
);
CREATE INDEX audit_targets ON audit USING gin (targets);
CREATE INDEX audit_key ON audit (key_id, id);

CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only';
END $$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
