-- conveyor's schema at head: what a new database is created with, in one place. A database made by an
-- earlier release reaches the same schema through the numbered files in migrations/ (README, "Schema and
-- migrations"): a change to this file comes with the migration that makes it, and
-- tests/integration/test_migrations.py fails when the two disagree. conveyor records the migrations a
-- database has in schema_migrations (conveyor/store/migrations.py).

CREATE TABLE workflows (
    id          uuid PRIMARY KEY,
    namespace   text NOT NULL DEFAULT 'default',
    name        text NOT NULL,
    description text,
    version     integer NOT NULL DEFAULT 1,
    active      boolean NOT NULL DEFAULT true,
    definition  jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX workflows_name_key ON workflows (namespace, name);

CREATE TABLE workflow_versions (
    workflow_id uuid NOT NULL REFERENCES workflows (id),
    version     integer NOT NULL,
    namespace   text NOT NULL DEFAULT 'default',
    definition  jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- A draft is used by no execution until published (conveyor/store/drafts.py).
    draft       boolean NOT NULL DEFAULT false,
    PRIMARY KEY (workflow_id, version)
);

-- The hot table: each execution's row is updated at every step. Free room on each page lets an update that
-- changes no indexed column stay HOT (the new version on the same page, no index entry written, the old one
-- pruned without a vacuum); small scale factors vacuum it after 2 % of its rows are dead, not the default 20 %.
CREATE TABLE executions (
    id               uuid PRIMARY KEY,
    workflow_id      uuid NOT NULL REFERENCES workflows (id),
    workflow_version integer NOT NULL,
    -- The workflow's namespace, carried so that no read of an execution needs its workflow.
    namespace        text NOT NULL DEFAULT 'default',
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
    -- The trigger that started an execution (no foreign key: deleting a trigger keeps its executions' key space).
    trigger_id       uuid,
    -- Concurrency caps (conveyor/concurrency.py), fixed at creation: the rendered key with its limit, and the
    -- workflow's total. The claim statement counts leased rows through two indexes below; no counter exists.
    slot_key         text,
    slot_limit       integer,
    total_limit      integer,
    -- The team's action (not a built-in) the current node runs: only a worker that provides it claims the row.
    -- Due with no live worker providing it, the row is parked (wake_at NULL) until one starts.
    action           text,
    -- A parallel branch's join: the branch ends where it would go on there (conveyor/store/children.py).
    stop_node        text,
    -- A foreach item's place among its siblings; not due (wake_at NULL) until a running sibling releases it.
    item_index       integer,
    -- A start's priority, -10 to 10 (conveyor/store/claims.py); a foreach item or a branch inherits its parent's.
    priority         smallint NOT NULL DEFAULT 0
        CONSTRAINT executions_priority_check CHECK (priority BETWEEN -10 AND 10),
    CONSTRAINT executions_state_check CHECK (state IN (
        'idle', 'running', 'stepCompleted', 'stepFailed', 'retrying',
        'delayed', 'paused', 'completed', 'failed', 'cancelled'))
) WITH (fillfactor = 80, autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_analyze_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.05);
-- The claim query's index: only executions that will need a worker, in due order.
CREATE INDEX executions_due_idx ON executions (wake_at)
    WHERE wake_at IS NOT NULL AND state <> 'paused';
-- Listing executions newest first, a keyset page at a time (conveyor/store/selection.py): by workflow,
-- by state, by parent, or unfiltered / by creation time alone.
CREATE INDEX executions_workflow_idx ON executions (workflow_id, created_at DESC, id DESC);
CREATE INDEX executions_state_idx ON executions (state, created_at DESC, id DESC);
CREATE INDEX executions_parent_idx ON executions (parent_id, created_at DESC, id DESC)
    WHERE parent_id IS NOT NULL;
CREATE INDEX executions_created_idx ON executions (created_at DESC, id DESC);
-- Another namespace than the default one: its executions in creation order, and those not yet ended (counted
-- against its quota, conveyor/store/quotas.py). The default namespace's are in neither (most installations have
-- only it, and each non-HOT update of a step would write entries there): they are found as before.
CREATE INDEX executions_namespace_idx ON executions (namespace, created_at DESC, id DESC)
    WHERE namespace <> 'default';
CREATE INDEX executions_alive_idx ON executions (namespace) WHERE finished_at IS NULL AND namespace <> 'default';
-- Finding executions by their input's email (?input=email=ada@example.com, conveyor/store/selection.py): a
-- B-tree on that one field, not a GIN index on the whole input, whose entries every non-HOT step update writes.
CREATE INDEX executions_input_email_idx ON executions ((input->>'email')) WHERE (input->>'email') IS NOT NULL;
-- The retention stage's read: finished top-level executions, oldest first (conveyor/store/retention.py).
CREATE INDEX executions_finished_idx ON executions (finished_at)
    WHERE parent_id IS NULL AND finished_at IS NOT NULL;
-- Dedupe keys: callers' per workflow; a parent's children and a trigger's executions have their own spaces,
-- so no caller can take one.
CREATE UNIQUE INDEX executions_caller_key
    ON executions (workflow_id, dedupe_key) WHERE dedupe_key IS NOT NULL AND parent_id IS NULL AND trigger_id IS NULL;
CREATE UNIQUE INDEX executions_trigger_key
    ON executions (trigger_id, dedupe_key) WHERE trigger_id IS NOT NULL;
CREATE UNIQUE INDEX executions_child_key
    ON executions (parent_id, dedupe_key) WHERE parent_id IS NOT NULL;
-- A foreach's items waiting for a sibling to end, in item order: the next to release is the first entry.
CREATE INDEX executions_pending_item_idx ON executions (parent_id, item_index)
    WHERE item_index IS NOT NULL AND wake_at IS NULL AND state = 'idle';
-- The due rows above priority 0, which the claim takes first: empty while nothing is urgent.
CREATE INDEX executions_urgent_idx ON executions (priority DESC, wake_at)
    WHERE wake_at IS NOT NULL AND state <> 'paused' AND priority > 0;
-- The concurrency caps' counts of leased rows.
CREATE INDEX executions_slot_idx ON executions (slot_key, wake_at)
    WHERE slot_key IS NOT NULL AND lease_owner IS NOT NULL;
CREATE INDEX executions_leased_idx ON executions (workflow_id, wake_at)
    WHERE total_limit IS NOT NULL AND lease_owner IS NOT NULL;
-- A capped execution whose lease ends (its step committed, it finished, it was cancelled or handed back) frees
-- a slot that executions held back on any worker may be waiting for: wake them all, not only the worker that
-- held it. The WHEN clause is checked per row without calling the function, so uncapped rows cost nothing.
CREATE FUNCTION conveyor_slot_freed_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('conveyor_wake', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER executions_slot_freed AFTER UPDATE OF lease_owner ON executions FOR EACH ROW
    WHEN (OLD.lease_owner IS NOT NULL AND NEW.lease_owner IS NULL
          AND (OLD.slot_key IS NOT NULL OR OLD.total_limit IS NOT NULL))
    EXECUTE FUNCTION conveyor_slot_freed_notify();

-- Executions parked because no live worker provides the action their next step runs (executions.action): not
-- due (wake_at NULL) until a worker that provides it starts. A table of its own, not an index on executions,
-- so that a step that moves an execution between actions stays a HOT update.
CREATE TABLE parked_executions (
    execution_id uuid PRIMARY KEY REFERENCES executions (id) ON DELETE CASCADE,
    action       text NOT NULL,
    parked_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX parked_executions_action_idx ON parked_executions (action);

CREATE TABLE execution_history (
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
CREATE INDEX execution_history_execution_idx ON execution_history (execution_id, id);

CREATE TABLE execution_steps (
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
CREATE INDEX execution_steps_execution_idx ON execution_steps (execution_id, id);
-- A shared-flow step waits as one row, completed in place when its child finishes.
CREATE UNIQUE INDEX execution_steps_waiting_key
    ON execution_steps (execution_id, visit, attempt) WHERE status = 'waiting';

CREATE TABLE triggers (
    id            uuid PRIMARY KEY,
    workflow_id   uuid NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    namespace     text NOT NULL DEFAULT 'default',
    type          text NOT NULL,
    definition    jsonb NOT NULL,
    -- Copied out of the definition for the lookups that need an index: a webhook's path, an event's type.
    path          text,
    event         text,
    enabled       boolean NOT NULL DEFAULT true,
    version       integer NOT NULL DEFAULT 1,
    status        text NOT NULL DEFAULT 'ok',
    last_fired_at timestamptz,
    next_run_at   timestamptz,
    cursor        jsonb,
    last_error    text,
    error_since   timestamptz,
    skipped       bigint NOT NULL DEFAULT 0,
    started_rows  bigint NOT NULL DEFAULT 0,
    filtered_rows bigint NOT NULL DEFAULT 0,
    error_rows    bigint NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT triggers_status_check CHECK (status IN ('ok', 'error', 'disabled')),
    CONSTRAINT triggers_enabled_check CHECK (enabled = (status <> 'disabled'))
);
CREATE UNIQUE INDEX triggers_path_key ON triggers (path) WHERE path IS NOT NULL;
-- Disabled event triggers too: an event still leaves them a row, consumed as 'disabled' (nothing vanishes).
CREATE INDEX triggers_event_key_idx ON triggers (namespace, event) WHERE event IS NOT NULL;
CREATE INDEX triggers_due_idx ON triggers (next_run_at) WHERE next_run_at IS NOT NULL AND enabled;
CREATE INDEX triggers_workflow_idx ON triggers (workflow_id, created_at, id);
CREATE INDEX triggers_list_idx ON triggers (created_at, id);

-- The inbox. Any application may INSERT here: a row names its trigger (trigger_id), or, without one, an event
-- type that every enabled event trigger of that type receives. No foreign key to triggers: rows of a deleted
-- trigger are consumed as 'disabled'.
CREATE TABLE trigger_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    type         text NOT NULL,
    -- An application's event (no trigger_id) reaches the event triggers and waits of this namespace only.
    namespace    text NOT NULL DEFAULT 'default',
    payload      jsonb NOT NULL DEFAULT '{}',
    dedupe_key   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    consumed_at  timestamptz,
    trigger_id   uuid,
    outcome      text,
    execution_id uuid,
    reason       text,
    -- A row a coalescing trigger took: its group's rendered key. The row keeps outcome 'coalesced'; execution_id
    -- is set when its group starts the execution it is folded into.
    coalesce_key text,
    -- The event a POST /events row carries, recorded once however many triggers receive it.
    event_id     bigint,
    CONSTRAINT trigger_events_outcome_check
        CHECK (outcome IN ('started', 'filtered', 'error', 'disabled', 'duplicate', 'routed', 'coalesced'))
);
-- The inbox stage's read: pending rows in id order.
CREATE INDEX trigger_events_pending_idx ON trigger_events (id) WHERE consumed_at IS NULL;
-- A trigger's backlog (pending count, lag).
CREATE INDEX trigger_events_trigger_pending_idx
    ON trigger_events (trigger_id, created_at) WHERE consumed_at IS NULL;
-- One row per (trigger, dedupe key): a retried delivery or a schedule tick fired twice adds nothing.
CREATE UNIQUE INDEX trigger_events_dedupe_key ON trigger_events (trigger_id, dedupe_key);
-- GET /triggers/{id}/rows: a trigger's rows, newest first.
CREATE INDEX trigger_events_trigger_idx ON trigger_events (trigger_id, id);
-- Retention deletes an execution's inbox row with it.
CREATE INDEX trigger_events_execution_idx ON trigger_events (execution_id)
    WHERE execution_id IS NOT NULL;
-- A group's rows not yet folded into an execution.
CREATE INDEX trigger_events_coalescing_idx ON trigger_events (trigger_id, coalesce_key, id)
    WHERE outcome = 'coalesced' AND execution_id IS NULL;

-- Signed webhook deliveries remembered until their signature is stale (signed timestamp + tolerance), so a
-- replay is refused however long the inbox keeps its row; the delivery statement prunes a trigger's stale keys.
CREATE TABLE hook_deliveries (
    trigger_id uuid NOT NULL REFERENCES triggers (id) ON DELETE CASCADE,
    key        text NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (trigger_id, key)
);
CREATE INDEX hook_deliveries_expiry_idx ON hook_deliveries (trigger_id, expires_at);

-- One open coalescing group per (trigger, key): when its first and last rows arrived, and when it is ripe
-- (quiet elapsed since the last row, or max_wait since the first). Written with its rows in the inbox
-- stage's statement, deleted with the start of its execution in one transaction: derived from the rows,
-- never a counter.
CREATE TABLE coalesce_groups (
    trigger_id uuid NOT NULL,
    key        text NOT NULL,
    first_at   timestamptz NOT NULL,
    last_at    timestamptz NOT NULL,
    quiet      interval NOT NULL,
    max_wait   interval NOT NULL,
    due_at     timestamptz NOT NULL,
    PRIMARY KEY (trigger_id, key)
);
CREATE INDEX coalesce_groups_due_idx ON coalesce_groups (due_at);

-- Every INSERT of pending rows wakes the workers, whoever inserts: the poll interval is only the safety net.
CREATE FUNCTION conveyor_inbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM inserted WHERE consumed_at IS NULL) THEN
        PERFORM pg_notify('conveyor_wake', '');
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER trigger_events_notify AFTER INSERT ON trigger_events
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION conveyor_inbox_notify();

CREATE TABLE email_templates (
    namespace  text NOT NULL DEFAULT 'default',
    name       text NOT NULL,
    subject    text NOT NULL,
    text_body  text NOT NULL,
    html_body  text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (namespace, name)
);

-- Named secrets, encrypted (Fernet, CONVEYOR_SECRET_KEY) by the process that stores them; no value in clear.
CREATE TABLE secrets (
    namespace  text NOT NULL DEFAULT 'default',
    name       text NOT NULL,
    ciphertext bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (namespace, name)
);

CREATE TABLE email_logs (
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
-- GET /emails pages newest first on (created_at, id); each filter has an index in that order.
CREATE INDEX email_logs_execution_page_idx ON email_logs (execution_id, created_at DESC, id DESC);
CREATE INDEX email_logs_created_idx ON email_logs (created_at DESC, id DESC);
CREATE INDEX email_logs_status_idx ON email_logs (status, created_at DESC, id DESC);
CREATE INDEX email_logs_template_idx ON email_logs (template, created_at DESC, id DESC);
CREATE INDEX email_logs_recipient_idx ON email_logs (recipient, created_at DESC, id DESC);

-- One row per send_sms step: keyed by its execution first, so it lives on its execution's shard on Citus.
CREATE TABLE sms_logs (
    execution_id    uuid NOT NULL,
    idempotency_key text NOT NULL,
    node            text NOT NULL,
    recipient       text NOT NULL,
    body            text NOT NULL,
    transport       text NOT NULL,
    status          text NOT NULL CHECK (status IN ('sending', 'sent', 'logged', 'failed')),
    provider_id     text,
    error           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    PRIMARY KEY (execution_id, idempotency_key)
);
CREATE INDEX sms_logs_created_idx ON sms_logs (created_at DESC, idempotency_key DESC);

CREATE TABLE webhook_logs (
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
CREATE INDEX webhook_logs_execution_idx ON webhook_logs (execution_id, id);

CREATE TABLE workers (
    id           text PRIMARY KEY,
    hostname     text NOT NULL,
    pid          integer NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    stopped_at   timestamptz
);

-- The action registry as data: each version of each action some process declared (the version is a hash of
-- its schemas and secrets), and which worker provides which. The web process validates definitions against
-- these rows and never imports the team's code. A small catalog: a reference table on Citus.
CREATE TABLE actions (
    key           text NOT NULL,
    version       text NOT NULL,
    display_name  text NOT NULL,
    description   text NOT NULL,
    category      text NOT NULL,
    params_schema jsonb NOT NULL,
    output_schema jsonb,
    secrets       text[] NOT NULL DEFAULT '{}',
    template_param text,
    builtin       boolean NOT NULL DEFAULT false,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (key, version)
);

CREATE TABLE worker_actions (
    worker_id text NOT NULL,
    key       text NOT NULL,
    version   text NOT NULL,
    PRIMARY KEY (worker_id, key)
);

-- The control channel: whatever cancels an execution a worker holds (one, a parent's descendants, a bulk
-- action) tells that worker at commit, so it aborts the running step at once instead of at its end; and
-- whatever takes a held sleep from its worker (a pause, a cancel) tells it, so it never runs the next step.
CREATE FUNCTION conveyor_notify_control() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('conveyor_control', NEW.id::text);
    RETURN NULL;
END $$;
CREATE TRIGGER executions_control_notify AFTER UPDATE OF state ON executions FOR EACH ROW
    WHEN ((NEW.state = 'cancelled' AND OLD.state <> 'cancelled' AND OLD.lease_owner IS NOT NULL)
          OR (OLD.state = 'delayed' AND OLD.lease_owner IS NOT NULL AND NEW.lease_owner IS NULL))
    EXECUTE FUNCTION conveyor_notify_control();

-- Live events: each statement that adds history rows sends their ids, at most 300 to a payload (NOTIFY
-- refuses 8000 bytes); listeners read the rows by id, so what a row holds never bloats the payload.
-- PostgreSQL serialises the commits of notifying transactions (one lock, held through the commit's WAL
-- flush), which cut step commits ~4x in a measurement: so rows notify only while a web process's event hub
-- listens, as its row here says (its backend pid; rows of dead backends are swept when a hub starts).
CREATE UNLOGGED TABLE event_listeners (
    pid   integer PRIMARY KEY,
    since timestamptz NOT NULL DEFAULT now()
);
CREATE FUNCTION conveyor_notify_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM event_listeners) THEN
        RETURN NULL;
    END IF;
    PERFORM pg_notify('conveyor_history', string_agg(id::text, ',' ORDER BY id))
    FROM (SELECT id, (row_number() OVER (ORDER BY id) - 1) / 300 AS chunk FROM inserted) AS numbered
    GROUP BY chunk;
    RETURN NULL;
END $$;
CREATE TRIGGER execution_history_notify AFTER INSERT ON execution_history
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT
    EXECUTE FUNCTION conveyor_notify_history();

-- Events, each recorded once: every POST /events, and every inbox row without a trigger_id (an application's
-- event), whether or not a trigger takes it. Waiting executions match them (conveyor/store/event_waits.py);
-- `matched_at` is when the match stage took an event, NULL until then.
CREATE TABLE event_log (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    type       text NOT NULL,
    namespace  text NOT NULL DEFAULT 'default',
    payload    jsonb NOT NULL DEFAULT '{}',
    dedupe_key text,
    created_at timestamptz NOT NULL DEFAULT now(),
    matched_at timestamptz
);
CREATE UNIQUE INDEX event_log_dedupe_key ON event_log (namespace, type, dedupe_key);
CREATE INDEX event_log_unmatched_idx ON event_log (id) WHERE matched_at IS NULL;
-- A parking wait's look back: the events of its types since a time.
CREATE INDEX event_log_type_idx ON event_log (type, created_at);

-- An execution waiting for an event (a wait_for_event node), one row per visit. Open while `closed_at` is
-- NULL; closed once, by the first of: the match stage or the parking look back (with `event_id`), or the node
-- deciding on its timeout. A `match` of the form event-path == value is also kept as (`match_path`,
-- `match_value`), so an event finds its waits by index rather than by testing every wait of its type.
CREATE TABLE event_waits (
    execution_id uuid NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    visit        integer NOT NULL,
    node         text NOT NULL,
    namespace    text NOT NULL DEFAULT 'default',
    event_types  text[] NOT NULL,
    match_path   text[],
    match_value  text,
    since        timestamptz NOT NULL,
    deadline     timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    closed_at    timestamptz,
    event_id     bigint,
    PRIMARY KEY (execution_id, visit)
);
CREATE INDEX event_waits_key_idx ON event_waits (match_path, match_value)
    WHERE closed_at IS NULL AND match_path IS NOT NULL;
CREATE INDEX event_waits_types_idx ON event_waits USING gin (event_types)
    WHERE closed_at IS NULL AND match_path IS NULL;
-- The event paths keyed waits look at, per event type: the match stage reads each event's key at each.
CREATE TABLE event_match_paths (
    event_type text NOT NULL,
    path       text[] NOT NULL,
    PRIMARY KEY (event_type, path)
);

-- Every INSERT of events wakes the workers' match stage, whoever inserts.
CREATE FUNCTION conveyor_event_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM inserted WHERE matched_at IS NULL) THEN
        PERFORM pg_notify('conveyor_wake', '');
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER event_log_notify AFTER INSERT ON event_log
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION conveyor_event_notify();

-- Send throttles (conveyor/store/throttles.py): a key's next free send time, and the slot each step was granted.
CREATE TABLE throttles (
    key     text PRIMARY KEY,
    next_at timestamptz NOT NULL
);
CREATE TABLE throttle_grants (
    step_key text PRIMARY KEY,
    key      text NOT NULL,
    slot_at  timestamptz NOT NULL
);

-- API keys (conveyor/store/api_keys.py): only each key's HMAC under CONVEYOR_KEY_SECRET is stored (key_digest.py).
-- Few rows, read by every web process: a reference table on Citus.
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

-- The audit trail (conveyor/store/audit_trail.py): who changed what, when, from where; one row per request that
-- changes something, and one per execution an operator action changed (execution_id set). Append-only: a
-- trigger refuses UPDATE and DELETE. Distributed by namespace on Citus.
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

-- Table polls read as this role (conveyor/store/polled_tables.py): only what an operator grants it, e.g.
-- GRANT USAGE ON SCHEMA app TO conveyor_poll; GRANT SELECT ON app.signups TO conveyor_poll;
-- Roles are per cluster: databases on one cluster share it, grants stay per table. The user conveyor connects as
-- must be able to SET ROLE to it (a superuser can; a role that created it is granted it here).
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'conveyor_poll') THEN
        CREATE ROLE conveyor_poll NOLOGIN;
    END IF;
    IF NOT pg_has_role(current_user, 'conveyor_poll', 'MEMBER') THEN
        EXECUTE format('GRANT conveyor_poll TO %I', current_user);
    END IF;
END $$;
