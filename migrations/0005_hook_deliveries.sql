-- Signed webhook deliveries remembered until their signature is stale, so a replay is refused (issue 20, class 6).
CREATE TABLE hook_deliveries (
    trigger_id uuid NOT NULL REFERENCES triggers (id) ON DELETE CASCADE,
    key        text NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (trigger_id, key)
);
CREATE INDEX hook_deliveries_expiry_idx ON hook_deliveries (trigger_id, expires_at);

-- Webhook triggers saved with a secret before signatures covered the timestamp and the delivery id keep the
-- scheme their senders use; an operator moves each to "v1" (written out on every trigger saved from now on)
-- when its sender does.
UPDATE triggers
SET definition = definition || '{"signature": "legacy"}', version = version + 1, updated_at = now()
WHERE type = 'webhook' AND definition ? 'secret' AND NOT definition ? 'signature';
