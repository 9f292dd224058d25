-- The flow language's children (conveyor/store/children.py): a parallel branch stops at its join (`stop_node`);
-- a foreach item has its place (`item_index`) and waits, not due, until a running sibling ends and releases it.
ALTER TABLE executions ADD COLUMN stop_node text, ADD COLUMN item_index integer;
CREATE INDEX executions_pending_item_idx ON executions (parent_id, item_index)
    WHERE item_index IS NOT NULL AND wake_at IS NULL AND state = 'idle';
-- A start's priority (conveyor/store/claims.py): the claim takes the due rows above 0 first, through their own
-- partial index (empty while nothing is urgent, so it costs the other rows' writes nothing).
ALTER TABLE executions ADD COLUMN priority smallint NOT NULL DEFAULT 0
    CONSTRAINT executions_priority_check CHECK (priority BETWEEN -10 AND 10);
CREATE INDEX executions_urgent_idx ON executions (priority DESC, wake_at)
    WHERE wake_at IS NOT NULL AND state <> 'paused' AND priority > 0;
