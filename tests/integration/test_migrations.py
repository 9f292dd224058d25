"""Migrations: a 0.1 database with a row in every table, migrated to head, equals a new one and keeps every row.

Each test owns its schema, so each makes a database of its own on the session's server.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit

import pytest
import structlog

from conveyor.cli import main
from conveyor.db import connect, create_pool
from conveyor.store import Conn, Pool
from conveyor.store.migrations import CREATE_TABLE, MigrationError, known_migrations, plan
from conveyor.store.schema import apply_schema
from conveyor.store.templates import seed_templates
from testkit.poll import poll_until
from tests.catalog import catalog_difference, read_catalog, table_names

# A row in every table of 0.1, each column that 0.1 had given a value where it may be NULL.
_ROWS_0_1 = """
INSERT INTO workflows (id, name, description, definition)
    VALUES ('00000000-0000-0000-0000-000000000001', 'onboarding', 'from 0.1', '{"nodes": []}');
INSERT INTO workflow_versions (workflow_id, version, definition)
    VALUES ('00000000-0000-0000-0000-000000000001', 1, '{"nodes": []}');
INSERT INTO executions (id, workflow_id, workflow_version, state, resume_state, current_node, input, context,
                        output, error, wake_at, lease_owner, dedupe_key, step_started_at, started_at, trigger_id,
                        slot_key, slot_limit, total_limit)
    VALUES ('00000000-0000-0000-0000-0000000000e1', '00000000-0000-0000-0000-000000000001', 1, 'paused',
            'delayed', 'wait', '{"email": "a@example.com"}', '{"k": 1}', '{"o": 2}', '{"e": 3}', now(), 'w1',
            'once', now(), now(), '00000000-0000-0000-0000-0000000000a1', 'tenant-1', 2, 5);
INSERT INTO executions (id, workflow_id, workflow_version, state, parent_id, parent_node, finished_at)
    VALUES ('00000000-0000-0000-0000-0000000000e2', '00000000-0000-0000-0000-000000000001', 1, 'completed',
            '00000000-0000-0000-0000-0000000000e1', 'child', now());
INSERT INTO execution_history (execution_id, from_state, to_state, event, node, detail)
    VALUES ('00000000-0000-0000-0000-0000000000e1', 'running', 'paused', 'pause', 'wait', '{"by": "op"}');
INSERT INTO execution_steps (execution_id, node, visit, attempt, status, input, output, error, started_at,
                             finished_at)
    VALUES ('00000000-0000-0000-0000-0000000000e1', 'wait', 1, 0, 'waiting', '{}', '{}', '{}', now(), now());
INSERT INTO triggers (id, workflow_id, type, definition, path, event, last_fired_at, next_run_at, cursor,
                      last_error, error_since, status)
    VALUES ('00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-000000000001', 'webhook', '{}',
            'signup', 'user.signup', now(), now(), '{"id": 7}', 'boom', now(), 'error');
INSERT INTO trigger_events (type, payload, dedupe_key, consumed_at, trigger_id, outcome, execution_id, reason,
                            coalesce_key, event_id)
    VALUES ('user.signup', '{"u": 1}', 'd1', now(), '00000000-0000-0000-0000-0000000000a1', 'coalesced',
            '00000000-0000-0000-0000-0000000000e1', 'folded', 'k', 1);
INSERT INTO coalesce_groups (trigger_id, key, first_at, last_at, quiet, max_wait, due_at)
    VALUES ('00000000-0000-0000-0000-0000000000a1', 'k', now(), now(), '5 seconds', '1 minute', now());
INSERT INTO email_templates (name, subject, text_body, html_body)
    VALUES ('from_0_1', 'Hello', 'Hi', '<p>Hi</p>');
INSERT INTO secrets (name, ciphertext) VALUES ('crm', '\\x0102');
INSERT INTO email_logs (id, execution_id, node, idempotency_key, recipient, subject, template, text_body, html_body,
                        transport, status, error, sent_at)
    VALUES ('00000000-0000-0000-0000-0000000000c1', '00000000-0000-0000-0000-0000000000e1', 'welcome', 'x:welcome:1',
            'a@example.com', 'Hello', 'from_0_1', 'Hi', '<p>Hi</p>', 'log', 'logged', 'none', now());
INSERT INTO webhook_logs (execution_id, node, idempotency_key, attempt, method, url, request_body, status_code,
                          response_body, error, duration_ms)
    VALUES ('00000000-0000-0000-0000-0000000000e1', 'crm', 'x:crm:1', 1, 'POST', 'http://127.0.0.1/crm', '{}',
            200, 'ok', 'none', 1.5);
INSERT INTO workers (id, hostname, pid, stopped_at) VALUES ('w1', 'host', 42, now());
INSERT INTO event_listeners (pid) VALUES (4242);
INSERT INTO event_log (type, payload, dedupe_key, matched_at) VALUES ('user.engaged', '{"u": 1}', 'e1', now());
INSERT INTO event_waits (execution_id, visit, node, event_types, match_path, match_value, since, deadline,
                         closed_at, event_id)
    VALUES ('00000000-0000-0000-0000-0000000000e1', 1, 'wait', '{user.engaged}', '{u}', '1', now(), now(), now(), 1);
INSERT INTO event_match_paths (event_type, path) VALUES ('user.engaged', '{u}');
INSERT INTO throttles (key, next_at) VALUES ('email', now());
INSERT INTO throttle_grants (step_key, key, slot_at) VALUES ('x:welcome:1', 'email', now());
"""


@pytest.fixture
async def new_database(
    pool: Pool, database_url: str
) -> AsyncIterator[Callable[[], contextlib.AbstractAsyncContextManager[Pool]]]:
    """Make empty databases on the session's server, each opened as a pool for a block; all dropped after."""
    made: list[str] = []

    @contextlib.asynccontextmanager
    async def open_new() -> AsyncIterator[Pool]:
        name = f"conveyor_migration_{uuid.uuid4().hex[:12]}"
        async with pool.acquire() as conn:
            await conn.execute(f"CREATE DATABASE {name}")
        made.append(name)
        scratch = await create_pool(urlsplit(database_url)._replace(path=f"/{name}").geturl(), min_size=1, max_size=4)
        try:
            yield scratch
        finally:
            await scratch.close()

    yield open_new
    async with pool.acquire() as conn:
        for name in made:
            await conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


async def _create_0_1(scratch: Pool, *, fingerprint: str | None = None) -> None:
    """Make the database 0.1's start-up made: its schema.sql, its fingerprint on executions, the templates."""
    baseline = known_migrations()[0].sql
    fingerprint = fingerprint or f"conveyor schema sha256:{hashlib.sha256(baseline.encode()).hexdigest()}"
    async with scratch.acquire() as conn:
        await conn.execute(baseline)
        await conn.execute(f"COMMENT ON TABLE executions IS '{fingerprint}'")
        await seed_templates(conn)


async def _rows(conn: Conn) -> dict[str, list[dict[str, object]]]:
    """Every row of every table, as JSON objects in a stable order."""
    rows = {}
    for table in await table_names(conn):
        found = await conn.fetch(f"SELECT to_jsonb(t) AS row FROM {table} AS t")
        rows[table] = _in_order([r["row"] for r in found])
    return rows


async def _url_of(scratch: Pool, database_url: str) -> str:
    """The URL of a scratch database, on the session's server."""
    async with scratch.acquire() as conn:
        name = await conn.fetchval("SELECT current_database()")
    return urlsplit(database_url)._replace(path=f"/{name}").geturl()


def _in_order(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    return sorted(rows, key=lambda row: json.dumps(row, sort_keys=True))


async def test_a_0_1_database_with_a_row_in_every_table_migrates_to_head_and_keeps_its_rows(
    new_database: Callable[[], contextlib.AbstractAsyncContextManager[Pool]],
) -> None:
    async with new_database() as old, new_database() as fresh:
        await _create_0_1(old)
        async with old.acquire() as conn:
            await conn.execute(_ROWS_0_1)
            before = await _rows(conn)
        assert [table for table, rows in before.items() if not rows] == []

        await apply_schema(old)
        await apply_schema(fresh)

        async with old.acquire() as migrated, fresh.acquire() as created:
            assert catalog_difference(await read_catalog(migrated), await read_catalog(created)) == {}
            after = await _rows(migrated)
            versions = "SELECT version FROM schema_migrations ORDER BY version"
            assert await migrated.fetch(versions) == await created.fetch(versions)
    for table, rows in before.items():  # a column a migration adds is left out; none is dropped
        assert _in_order([{column: row[column] for column in rows[0]} for row in after[table]]) == rows, table


async def test_a_database_from_before_0_1_is_brought_to_it_and_then_to_head(
    new_database: Callable[[], contextlib.AbstractAsyncContextManager[Pool]],
) -> None:
    async with new_database() as old, new_database() as fresh:
        await _create_0_1(old, fingerprint="conveyor schema sha256:an-earlier-schema")
        async with old.acquire() as conn:  # what 0.1's schema.sql drops and creates again
            await conn.execute("ALTER TABLE workflows ADD COLUMN deleted_at timestamptz")
            await conn.execute("DROP INDEX triggers_event_key_idx")
        await apply_schema(old)
        await apply_schema(fresh)
        async with old.acquire() as migrated, fresh.acquire() as created:
            assert catalog_difference(await read_catalog(migrated), await read_catalog(created)) == {}


async def test_concurrent_starts_on_an_empty_database_create_the_schema_once(
    new_database: Callable[[], contextlib.AbstractAsyncContextManager[Pool]],
) -> None:
    async with new_database() as scratch:
        await asyncio.gather(*(apply_schema(scratch) for _ in range(3)))
        async with scratch.acquire() as conn:
            recorded = [row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")]
    assert sorted(recorded) == [m.version for m in known_migrations()]


async def test_a_start_at_head_takes_no_lock_and_one_behind_waits_for_it(
    new_database: Callable[[], contextlib.AbstractAsyncContextManager[Pool]],
) -> None:
    lock = "SELECT pg_advisory_lock(7193501)"
    async with new_database() as head, new_database() as behind:
        await apply_schema(head)
        await _create_0_1(behind)
        async with head.acquire() as holder:
            await holder.execute(lock)
            await asyncio.wait_for(apply_schema(head), 10)

            async with behind.acquire() as other:  # advisory locks are per database: hold it in this one too
                await other.execute(lock)
                migrating = asyncio.create_task(apply_schema(behind))
                waiting = (
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 7193501 AND NOT granted"
                )
                await poll_until(lambda: other.fetchval(waiting), "the migration to wait for the lock")
                assert not migrating.done()
                await other.execute("SELECT pg_advisory_unlock(7193501)")
                await asyncio.wait_for(migrating, 30)
            await holder.execute("SELECT pg_advisory_unlock(7193501)")
        async with behind.acquire() as conn:
            assert await plan(conn) == ()


async def test_migrate_dry_run_prints_the_missing_sql_and_nothing_at_head(
    new_database: Callable[[], contextlib.AbstractAsyncContextManager[Pool]],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def dry_run(scratch: Pool) -> str:
        monkeypatch.setenv("DATABASE_URL", await _url_of(scratch, database_url))
        capsys.readouterr()  # what was printed before
        logging = structlog.get_config()  # main configures logging onto this test's captured stdout
        try:
            await asyncio.to_thread(main, ["migrate", "--dry-run"])
        finally:
            structlog.configure(**logging)
        return capsys.readouterr().out

    async with new_database() as old, new_database() as fresh:
        await _create_0_1(old)
        after_0_1 = "".join(f"-- {m.name}\n{m.sql.rstrip()}\n\n" for m in known_migrations()[1:])
        assert await dry_run(old) == f"-- 0001_release_0_1\n{CREATE_TABLE.rstrip()}\n\n{after_0_1}"
        await apply_schema(old)
        assert await dry_run(old) == ""
        assert "CREATE TABLE workflows" in await dry_run(fresh)
        await apply_schema(fresh)
        assert await dry_run(fresh) == ""


async def test_a_start_told_not_to_migrate_refuses_a_database_that_lacks_a_migration(
    new_database: Callable[[], contextlib.AbstractAsyncContextManager[Pool]], database_url: str
) -> None:
    async with new_database() as old:
        await _create_0_1(old)
        url = await _url_of(old, database_url)
        lacking = ", ".join(m.name for m in known_migrations())
        with pytest.raises(MigrationError, match=rf"lacks migrations \({lacking}\)"):
            async with connect(url, migrate=False):
                pass
        async with old.acquire() as conn:
            assert await conn.fetchval("SELECT to_regclass('schema_migrations')") is None
        await apply_schema(old)
        async with connect(url, migrate=False, max_size=2) as pool, pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(known_migrations())


async def test_a_signed_webhook_trigger_of_0_1_keeps_its_senders_legacy_signature(
    new_database: Callable[[], contextlib.AbstractAsyncContextManager[Pool]],
) -> None:
    async with new_database() as old:
        await _create_0_1(old)
        async with old.acquire() as conn:
            await conn.execute(_ROWS_0_1)
            await conn.execute(
                "INSERT INTO triggers (id, workflow_id, type, definition, path) VALUES "
                "('00000000-0000-0000-0000-0000000000a2', '00000000-0000-0000-0000-000000000001', 'webhook', "
                """'{"type": "webhook", "path": "signed", "secret": "0123456789"}', 'signed')"""
            )
        await apply_schema(old)
        async with old.acquire() as conn:
            found = await conn.fetch("SELECT id, definition->>'signature' AS scheme, version FROM triggers ORDER BY id")
    # the unsigned trigger is left alone; the signed one keeps the scheme its sender uses, as a new version
    assert [(r["scheme"], r["version"]) for r in found] == [(None, 1), ("legacy", 2)]
