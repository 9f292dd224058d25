-- Table polls read as this role (conveyor/store/polled_tables.py): only what an operator grants it, e.g.
-- GRANT USAGE ON SCHEMA app TO conveyor_poll; GRANT SELECT ON app.signups TO conveyor_poll;
-- Roles are per cluster: databases on one cluster share it, grants stay per table. The user conveyor connects as
-- must be able to SET ROLE to it (a superuser can; a role that created it is granted it here).
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'conveyor_poll') THEN
        CREATE ROLE conveyor_poll NOLOGIN;
    END IF;
    IF NOT pg_has_role(current_user, 'conveyor_poll', 'MEMBER') THEN
        EXECUTE format('GRANT conveyor_poll TO %I', current_user);
    END IF;
END $$;
