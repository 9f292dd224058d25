-- The action registry as data (actions, worker_actions) and the send_sms log.
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
