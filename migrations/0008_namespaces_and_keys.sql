-- API keys with roles, and the audit trail (issue 26).

CREATE TABLE api_keys (
    id         uuid PRIMARY KEY,
    namespace  text NOT NULL,
    role       text NOT NULL,
    label      text,
    digest     bytea NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    revoked_at timestamptz
);
CREATE UNIQUE INDEX api_keys_digest_key ON api_keys (digest);
CREATE INDEX api_keys_namespace_idx ON api_keys (namespace, created_at, id);

CREATE TABLE audit_log (
    id           bigint GENERATED ALWAYS AS IDENTITY,
    namespace    text NOT NULL,
    at           timestamptz NOT NULL DEFAULT now(),
    actor        text NOT NULL,
    action       text NOT NULL,
    target       jsonb,
    execution_id uuid,
    status       integer,
    remote       text,
    request_id   text,
    PRIMARY KEY (namespace, id)
);
CREATE INDEX audit_log_execution_idx ON audit_log (namespace, execution_id, id) WHERE execution_id IS NOT NULL;
CREATE INDEX audit_log_actor_idx ON audit_log (namespace, actor, id);

CREATE FUNCTION conveyor_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION conveyor_audit_append_only();

-- Namespaces: every workflow, version, trigger, execution, event, wait, template and secret belongs to one;
-- what exists today is the default namespace's. Names are unique within a namespace.
ALTER TABLE workflows ADD COLUMN namespace text NOT NULL DEFAULT 'default';
DROP INDEX workflows_name_key;
CREATE UNIQUE INDEX workflows_name_key ON workflows (namespace, name);
ALTER TABLE workflow_versions ADD COLUMN namespace text NOT NULL DEFAULT 'default';
ALTER TABLE executions ADD COLUMN namespace text NOT NULL DEFAULT 'default';
CREATE INDEX executions_namespace_idx ON executions (namespace, created_at DESC, id DESC)
    WHERE namespace <> 'default';
CREATE INDEX executions_alive_idx ON executions (namespace) WHERE finished_at IS NULL AND namespace <> 'default';
ALTER TABLE triggers ADD COLUMN namespace text NOT NULL DEFAULT 'default';
DROP INDEX triggers_event_key_idx;
CREATE INDEX triggers_event_key_idx ON triggers (namespace, event) WHERE event IS NOT NULL;
ALTER TABLE trigger_events ADD COLUMN namespace text NOT NULL DEFAULT 'default';
ALTER TABLE event_log ADD COLUMN namespace text NOT NULL DEFAULT 'default';
DROP INDEX event_log_dedupe_key;
CREATE UNIQUE INDEX event_log_dedupe_key ON event_log (namespace, type, dedupe_key);
ALTER TABLE event_waits ADD COLUMN namespace text NOT NULL DEFAULT 'default';
ALTER TABLE email_templates ADD COLUMN namespace text NOT NULL DEFAULT 'default';
ALTER TABLE email_templates DROP CONSTRAINT email_templates_pkey, ADD PRIMARY KEY (namespace, name);
ALTER TABLE secrets ADD COLUMN namespace text NOT NULL DEFAULT 'default';
ALTER TABLE secrets DROP CONSTRAINT secrets_pkey, ADD PRIMARY KEY (namespace, name);
