-- Steps of the team's actions run only on workers that provide them; parked executions wait for one.
ALTER TABLE executions ADD COLUMN action text;
CREATE TABLE parked_executions (
    execution_id uuid PRIMARY KEY REFERENCES executions (id) ON DELETE CASCADE,
    action       text NOT NULL,
    parked_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX parked_executions_action_idx ON parked_executions (action);
