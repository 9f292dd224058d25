-- Finding executions by a field of their input (GET /executions?input=email=ada@example.com): a containment
-- index. The input is written once, at the start, so a step's update of the row stays HOT.
CREATE INDEX executions_input_idx ON executions USING gin (input jsonb_path_ops);

-- Draft versions (conveyor/store/drafts.py): stored like any version, used by no execution until published.
ALTER TABLE workflow_versions ADD COLUMN draft boolean NOT NULL DEFAULT false;
