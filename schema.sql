-- conveyor's whole schema. Idempotent: safe to apply on every start.

CREATE TABLE IF NOT EXISTS workflows (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    description text,
    version     integer NOT NULL DEFAULT 1,
    active      boolean NOT NULL DEFAULT true,
    definition  jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
-- Dropped before 0.2 (never written); dropping it drops the old partial name index, recreated below.
ALTER TABLE workflows DROP COLUMN IF EXISTS deleted_at;
CREATE UNIQUE INDEX IF NOT EXISTS workflows_name_key ON workflows (name);

CREATE TABLE IF NOT EXISTS workflow_versions (
    workflow_id uuid NOT NULL REFERENCES workflows (id),
    version     integer NOT NULL,
    definition  jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workflow_id, version)
);

CREATE TABLE IF NOT EXISTS executions (
    id               uuid PRIMARY KEY,
    workflow_id      uuid NOT NULL REFERENCES workflows (id),
    workflow_version integer NOT NULL,
    state            text NOT NULL,
    resume_state     text,
    current_node     text,
    visit            integer NOT NULL DEFAULT 0,
    attempt          integer NOT NULL DEFAULT 0,
    -- Bumped by each operator retry: a retried shared-flow step starts a fresh child.
    generation       integer NOT NULL DEFAULT 0,
    input            jsonb NOT NULL DEFAULT '{}',
    context          jsonb NOT NULL DEFAULT '{}',
    output           jsonb,
    error            jsonb,
    -- When the execution next needs a worker: now for new work, the due time of a delay or
    -- retry, the lease's end while a worker runs it. NULL when nothing is to be done.
    wake_at          timestamptz,
    lease_owner      text,
    version          bigint NOT NULL DEFAULT 0,
    pause_requested  boolean NOT NULL DEFAULT false,
    parent_id        uuid REFERENCES executions (id),
    parent_node      text,
    dedupe_key       text,
    step_started_at  timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT executions_state_check CHECK (state IN (
        'idle', 'running', 'stepCompleted', 'stepFailed', 'retrying',
        'delayed', 'paused', 'completed', 'failed', 'cancelled'))
);
-- Dropped before 0.2: while a worker holds an execution, wake_at is its lease's end.
ALTER TABLE executions DROP COLUMN IF EXISTS lease_expires_at;
-- The claim query's index: only executions that will need a worker, in due order.
CREATE INDEX IF NOT EXISTS executions_due_idx ON executions (wake_at)
    WHERE wake_at IS NOT NULL AND state <> 'paused';
CREATE INDEX IF NOT EXISTS executions_workflow_idx ON executions (workflow_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS executions_state_idx ON executions (state, created_at DESC, id DESC);
-- Dedupe keys: callers' per workflow; a parent's children have their own space, so no caller can take one.
CREATE UNIQUE INDEX IF NOT EXISTS executions_dedupe_key
    ON executions (workflow_id, dedupe_key) WHERE dedupe_key IS NOT NULL AND parent_id IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS executions_child_key
    ON executions (parent_id, dedupe_key) WHERE parent_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS execution_history (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    execution_id uuid NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    from_state   text NOT NULL,
    to_state     text NOT NULL,
    event        text NOT NULL,
    node         text,
    attempt      integer NOT NULL DEFAULT 0,
    detail       jsonb,
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS execution_history_execution_idx ON execution_history (execution_id, id);

CREATE TABLE IF NOT EXISTS execution_steps (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    execution_id uuid NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    node         text NOT NULL,
    visit        integer NOT NULL,
    attempt      integer NOT NULL,
    status       text NOT NULL CHECK (status IN ('completed', 'failed', 'waiting')),
    input        jsonb,
    output       jsonb,
    error        jsonb,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz
);
CREATE INDEX IF NOT EXISTS execution_steps_execution_idx ON execution_steps (execution_id, id);
-- A shared-flow step waits as one row, completed in place when its child finishes.
CREATE UNIQUE INDEX IF NOT EXISTS execution_steps_waiting_key
    ON execution_steps (execution_id, visit, attempt) WHERE status = 'waiting';

CREATE TABLE IF NOT EXISTS trigger_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    type        text NOT NULL,
    payload     jsonb NOT NULL DEFAULT '{}',
    dedupe_key  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    consumed_at timestamptz
);
CREATE INDEX IF NOT EXISTS trigger_events_pending_idx ON trigger_events (id) WHERE consumed_at IS NULL;

CREATE TABLE IF NOT EXISTS email_templates (
    name       text PRIMARY KEY,
    subject    text NOT NULL,
    text_body  text NOT NULL,
    html_body  text,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS email_logs (
    id              uuid PRIMARY KEY,
    execution_id    uuid REFERENCES executions (id) ON DELETE SET NULL,
    node            text,
    idempotency_key text NOT NULL UNIQUE,
    recipient       text NOT NULL,
    subject         text NOT NULL,
    template        text NOT NULL,
    text_body       text NOT NULL,
    html_body       text,
    transport       text NOT NULL,
    status          text NOT NULL CHECK (status IN ('sending', 'sent', 'logged', 'failed')),
    error           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);
CREATE INDEX IF NOT EXISTS email_logs_execution_idx ON email_logs (execution_id, created_at);

CREATE TABLE IF NOT EXISTS webhook_logs (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    execution_id    uuid REFERENCES executions (id) ON DELETE SET NULL,
    node            text,
    idempotency_key text NOT NULL,
    attempt         integer NOT NULL,
    method          text NOT NULL,
    url             text NOT NULL,
    request_body    jsonb,
    status_code     integer,
    response_body   text,
    error           text,
    duration_ms     double precision,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS webhook_logs_execution_idx ON webhook_logs (execution_id, id);

CREATE TABLE IF NOT EXISTS workers (
    id           text PRIMARY KEY,
    hostname     text NOT NULL,
    pid          integer NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    stopped_at   timestamptz
);

-- The control channel: whatever cancels an execution a worker holds (one, a parent's descendants, a bulk
-- action) tells that worker at commit, so it aborts the running step at once instead of at its end.
CREATE OR REPLACE FUNCTION conveyor_notify_control() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('conveyor_control', NEW.id::text);
    RETURN NULL;
END $$;
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                   WHERE tgrelid = 'executions'::regclass AND tgname = 'executions_control_notify') THEN
        CREATE TRIGGER executions_control_notify AFTER UPDATE OF state ON executions FOR EACH ROW
            WHEN (NEW.state = 'cancelled' AND OLD.state <> 'cancelled' AND OLD.lease_owner IS NOT NULL)
            EXECUTE FUNCTION conveyor_notify_control();
    END IF;
END $$;

-- Live events: each statement that adds history rows sends their ids, at most 300 to a payload (NOTIFY
-- refuses 8000 bytes); listeners read the rows by id, so what a row holds never bloats the payload.
-- PostgreSQL serialises the commits of notifying transactions (one lock, held through the commit's WAL
-- flush), which cut step commits ~4x in a measurement: so rows notify only while a web process's event hub
-- listens, as its row here says (its backend pid; rows of dead backends are swept when a hub starts).
CREATE UNLOGGED TABLE IF NOT EXISTS event_listeners (
    pid   integer PRIMARY KEY,
    since timestamptz NOT NULL DEFAULT now()
);
CREATE OR REPLACE FUNCTION conveyor_notify_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM event_listeners) THEN
        RETURN NULL;
    END IF;
    PERFORM pg_notify('conveyor_history', string_agg(id::text, ',' ORDER BY id))
    FROM (SELECT id, (row_number() OVER (ORDER BY id) - 1) / 300 AS chunk FROM inserted) AS numbered
    GROUP BY chunk;
    RETURN NULL;
END $$;
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                   WHERE tgrelid = 'execution_history'::regclass AND tgname = 'execution_history_notify') THEN
        CREATE TRIGGER execution_history_notify AFTER INSERT ON execution_history
            REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT
            EXECUTE FUNCTION conveyor_notify_history();
    END IF;
END $$;
