-- Steps of the team's actions run only on workers that provide them.
ALTER TABLE executions ADD COLUMN action text;
CREATE INDEX executions_action_idx ON executions (action) WHERE action IS NOT NULL;
