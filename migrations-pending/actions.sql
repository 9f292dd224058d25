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
