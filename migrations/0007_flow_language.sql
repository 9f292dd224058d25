-- The flow language's children (conveyor/store/children.py): a parallel branch stops at its join (`stop_node`);
-- a foreach item has its place (`item_index`) and waits, not due, until a running sibling ends and releases it.
ALTER TABLE executions ADD COLUMN stop_node text, ADD COLUMN item_index integer;
CREATE INDEX executions_pending_item_idx ON executions (parent_id, item_index)
    WHERE item_index IS NOT NULL AND wake_at IS NULL AND state = 'idle';
