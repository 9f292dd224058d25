-- The start-up fingerprint of 0.1 (a comment on executions) gives way to the schema_migrations table.
COMMENT ON TABLE executions IS NULL;
