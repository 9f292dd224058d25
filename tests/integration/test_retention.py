"""Retention: finished executions past their retention go with every row of theirs, a bounded batch at a time;
newer and unfinished ones, and their rows, stay."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import MutableMapping
from datetime import timedelta
from typing import Any

from conveyor.commands.operations import create_workflow
from conveyor.config import Settings
from conveyor.engine.retention import RetentionStage
from conveyor.jsonvalue import JSONObject
from conveyor.statemachines import COMPLETED, FAILED, RUNNING, TERMINAL_STATES
from conveyor.store import Pool
from testkit.poll import poll_until
from tests.conftest import logged
from tests.integration.conftest import running_worker

_EXECUTION = """
INSERT INTO executions (id, workflow_id, workflow_version, state, parent_id, created_at, finished_at)
VALUES ($1, $2, 1, $3, $4, now() - make_interval(hours => $5 + 1),
        CASE WHEN $3 = ANY ($6::text[]) THEN now() - make_interval(hours => $5) END)
"""
_ROWS = """
WITH h AS (
    INSERT INTO execution_history (execution_id, from_state, to_state, event) VALUES ($1, 'idle', 'running', 'start')
), s AS (
    INSERT INTO execution_steps (execution_id, node, visit, attempt, status, started_at)
    VALUES ($1, 'a', 1, 1, 'completed', now())
), m AS (
    INSERT INTO email_logs (id, execution_id, idempotency_key, recipient, subject, template, text_body, transport,
                            status)
    VALUES (gen_random_uuid(), $1, $1::text, 'a@example.com', 's', 't', 'b', 'log', 'logged')
), w AS (
    INSERT INTO webhook_logs (execution_id, idempotency_key, attempt, method, url) VALUES ($1, $1::text, 1, 'POST', 'u')
)
INSERT INTO trigger_events (type, execution_id, consumed_at, created_at, outcome)
VALUES ('signup', $1, now() - make_interval(hours => $2 + 1), now() - make_interval(hours => $2 + 1), 'started')
"""
_COUNTS = """
SELECT (SELECT count(*) FROM executions WHERE id = $1) AS executions,
       (SELECT count(*) FROM execution_history WHERE execution_id = $1) AS history,
       (SELECT count(*) FROM execution_steps WHERE execution_id = $1) AS steps,
       (SELECT count(*) FROM email_logs WHERE idempotency_key = $1::text) AS emails,
       (SELECT count(*) FROM webhook_logs WHERE idempotency_key = $1::text) AS webhooks,
       (SELECT count(*) FROM trigger_events WHERE execution_id = $1) AS trigger_events
"""
_ALL_ROWS = {"executions": 1, "history": 1, "steps": 1, "emails": 1, "webhooks": 1, "trigger_events": 1}
_NO_ROWS = dict.fromkeys(_ALL_ROWS, 0)
_DAY = 24


async def workflow(pool: Pool, **extra: Any) -> uuid.UUID:
    """A one-node workflow, with its own fields such as `retention`."""
    raw: JSONObject = {
        "name": f"r-{uuid.uuid4().hex[:6]}",
        "start": "a",
        "nodes": [{"id": "a", "type": "action", "action": "noop"}],
        **extra,
    }
    return (await create_workflow(pool, raw)).id


async def execution(
    pool: Pool, workflow_id: uuid.UUID, state: str, hours_ago: int, parent_id: uuid.UUID | None = None
) -> uuid.UUID:
    """An execution finished (when `state` is terminal) `hours_ago`, with a row in every table that names it."""
    execution_id = uuid.uuid4()
    async with pool.acquire() as conn:
        await conn.execute(_EXECUTION, execution_id, workflow_id, state, parent_id, hours_ago, sorted(TERMINAL_STATES))
        await conn.execute(_ROWS, execution_id, hours_ago)
    return execution_id


async def rows_of(pool: Pool, execution_id: uuid.UUID) -> dict[str, int]:
    """How many rows each table holds for the execution."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(_COUNTS, execution_id)
    assert row is not None
    return dict(row)


async def test_finished_executions_past_retention_go_with_all_their_rows_and_children(db: Pool) -> None:
    flow = await workflow(db)
    old = await execution(db, flow, COMPLETED, 40 * _DAY)
    child = await execution(db, flow, COMPLETED, 41 * _DAY, parent_id=old)
    grandchild = await execution(db, flow, FAILED, 41 * _DAY, parent_id=child)
    recent = await execution(db, flow, COMPLETED, 2 * _DAY)
    unfinished = await execution(db, flow, RUNNING, 40 * _DAY)
    child_of_kept = await execution(db, flow, COMPLETED, 40 * _DAY, parent_id=unfinished)

    assert not await RetentionStage(db, timedelta(days=30), 1000).run_batch()

    for gone in (old, child, grandchild):
        assert await rows_of(db, gone) == _NO_ROWS
    for kept in (recent, unfinished, child_of_kept):
        assert await rows_of(db, kept) == _ALL_ROWS


async def test_a_workflow_retention_shorter_than_the_default_applies_to_its_executions(db: Pool) -> None:
    short = await workflow(db, retention="1d")
    default = await workflow(db)
    short_old = await execution(db, short, COMPLETED, 2 * _DAY)
    short_new = await execution(db, short, COMPLETED, 12)
    default_same_age = await execution(db, default, COMPLETED, 2 * _DAY)

    await RetentionStage(db, timedelta(days=30), 1000).run_batch()

    assert await rows_of(db, short_old) == _NO_ROWS
    assert await rows_of(db, short_new) == _ALL_ROWS
    assert await rows_of(db, default_same_age) == _ALL_ROWS


async def test_a_workflow_retention_applies_when_the_default_is_off(db: Pool) -> None:
    short = await workflow(db, retention="1d")
    default = await workflow(db)
    short_old = await execution(db, short, COMPLETED, 2 * _DAY)
    ancient = await execution(db, default, COMPLETED, 400 * _DAY)

    await RetentionStage(db, None, 1000).run_batch()

    assert await rows_of(db, short_old) == _NO_ROWS
    assert await rows_of(db, ancient) == _ALL_ROWS


async def test_each_batch_deletes_at_most_the_batch_size_and_later_passes_take_the_rest(db: Pool) -> None:
    flow = await workflow(db)
    doomed = [await execution(db, flow, COMPLETED, (40 + n) * _DAY) for n in range(5)]
    retention = RetentionStage(db, timedelta(days=30), 2)

    remaining: list[int] = []
    full: list[bool] = []
    for _ in range(4):
        full.append(await retention.run_batch())
        remaining.append(sum([(await rows_of(db, ex))["executions"] for ex in doomed]))

    assert remaining == [3, 1, 0, 0]
    assert full == [True, True, False, False]


async def test_run_due_never_waits_for_its_batch_and_takes_full_batches_until_none_is_left(db: Pool) -> None:
    flow = await workflow(db)
    doomed = [await execution(db, flow, COMPLETED, (40 + n) * _DAY) for n in range(5)]
    retention = RetentionStage(db, timedelta(days=30), 2)

    async with db.acquire() as conn, conn.transaction():
        await conn.execute("LOCK TABLE executions IN ACCESS EXCLUSIVE MODE")  # the batch blocks on it
        await asyncio.wait_for(retention.run_due(), 5.0)  # returns while its batch waits
        await asyncio.wait_for(retention.run_due(), 5.0)
        assert await conn.fetchval("SELECT count(*) FROM executions WHERE id = ANY($1::uuid[])", doomed) == 5

    async def all_gone() -> bool:
        await retention.run_due()
        return sum([(await rows_of(db, ex))["executions"] for ex in doomed]) == 0

    await poll_until(all_gone, "three batches of at most two to delete the five executions")


async def test_old_inbox_rows_that_started_nothing_and_old_matched_events_go(db: Pool) -> None:
    async with db.acquire() as conn:
        await conn.execute("""
            INSERT INTO trigger_events (type, dedupe_key, created_at, consumed_at, outcome) VALUES
                ('signup', 'old', now() - interval '40 days', now() - interval '40 days', 'filtered'),
                ('signup', 'new', now() - interval '1 day', now() - interval '1 day', 'filtered'),
                ('signup', 'pending', now() - interval '40 days', NULL, NULL),
                ('signup', 'in a group', now() - interval '40 days', now() - interval '40 days', 'coalesced')
        """)
        await conn.execute("""
            INSERT INTO event_log (type, dedupe_key, created_at, matched_at) VALUES
                ('signup', 'old', now() - interval '40 days', now() - interval '40 days'),
                ('signup', 'new', now() - interval '1 day', now() - interval '1 day'),
                ('signup', 'unmatched', now() - interval '40 days', NULL)
        """)

    await RetentionStage(db, timedelta(days=30), 1000).run_batch()

    async with db.acquire() as conn:
        inbox = {r["dedupe_key"] for r in await conn.fetch("SELECT dedupe_key FROM trigger_events")}
        events = {r["dedupe_key"] for r in await conn.fetch("SELECT dedupe_key FROM event_log")}
    assert inbox == {"new", "pending", "in a group"}  # a coalesced row its group has not started yet stays
    assert events == {"new", "unmatched"}


async def test_the_worker_runs_retention_and_logs_what_it_deleted(
    db: Pool, database_url: str, settings: Settings, logs: list[MutableMapping[str, Any]]
) -> None:
    flow = await workflow(db)
    old = await execution(db, flow, COMPLETED, 40 * _DAY)
    recent = await execution(db, flow, COMPLETED, 2 * _DAY)

    async with running_worker(db, database_url, settings):
        await poll_until(lambda: logged(logs, "retention_deleted"), "the worker to run retention")

    assert logged(logs, "retention_deleted")[0]["executions"] == 1
    assert await rows_of(db, old) == _NO_ROWS
    assert await rows_of(db, recent) == _ALL_ROWS
