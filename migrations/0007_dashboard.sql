-- Finding executions by their input's email (?input=email=ada@example.com, conveyor/store/selection.py): a
-- B-tree on that one field, not a GIN index on the whole input, whose entries every non-HOT step update writes.
CREATE INDEX executions_input_email_idx ON executions ((input->>'email')) WHERE (input->>'email') IS NOT NULL;

-- Draft versions (conveyor/store/drafts.py): stored like any version, used by no execution until published.
ALTER TABLE workflow_versions ADD COLUMN draft boolean NOT NULL DEFAULT false;
