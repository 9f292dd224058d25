"""Workflows and set-based execution inserts shared by the scenarios."""

from __future__ import annotations

import uuid

from bench.harness import checkpoint
from conveyor.commands.operations import create_workflow
from conveyor.store import Pool
from conveyor.store.channels import WAKE_CHANNEL


def noop_chain(name: str, steps: int) -> dict[str, object]:
    """A workflow of `steps` noop actions in a row."""
    ids = [f"s{i}" for i in range(1, steps + 1)]
    nodes = [
        {"id": node, "type": "action", "action": "noop", "params": {"i": i}, **({"next": ids[i]} if i < steps else {})}
        for i, node in enumerate(ids, start=1)
    ]
    return {"name": name, "start": ids[0], "nodes": nodes}


def delay_then_noop(name: str, duration: str) -> dict[str, object]:
    """A workflow that waits, then runs one noop."""
    return {
        "name": name,
        "start": "wait",
        "nodes": [
            {"id": "wait", "type": "delay", "duration": duration, "next": "done"},
            {"id": "done", "type": "action", "action": "noop"},
        ],
    }


async def workflow(pool: Pool, definition: dict[str, object]) -> uuid.UUID:
    """Store a definition through conveyor's own validation; return its id."""
    return (await create_workflow(pool, definition)).id


# The same row insert_execution writes (idle, visit 1, attempt 1, due now), for many at once, and one NOTIFY.
_START_MANY = f"""
WITH inserted AS (
    INSERT INTO executions (id, workflow_id, workflow_version, state, current_node, visit, attempt, input, wake_at)
    SELECT gen_random_uuid(), $1, 1, 'idle', $2, 1, 1, jsonb_build_object('n', g), now()
    FROM generate_series(1, $3) AS g
    RETURNING 1
)
SELECT count(*), pg_notify('{WAKE_CHANNEL}', '') FROM inserted
"""


async def start_many(pool: Pool, workflow_id: uuid.UUID, start_node: str, count: int) -> None:
    """Start `count` executions in one statement and wake the workers."""
    async with pool.acquire() as conn:
        await conn.fetchrow(_START_MANY, workflow_id, start_node, count)


# Rows as a delay node leaves them: delayed on the next node, due far in the future (spread over a year).
_DELAYED_MANY = """
INSERT INTO executions (id, workflow_id, workflow_version, state, current_node, visit, attempt, input, wake_at,
                        started_at, step_started_at)
SELECT gen_random_uuid(), $1, 1, 'delayed', $2, 2, 1, jsonb_build_object('n', g),
       now() + interval '30 days' + g * interval '31 seconds', now(), now()
FROM generate_series($3::int, $4::int) AS g
"""


async def delayed_many(pool: Pool, workflow_id: uuid.UUID, next_node: str, first: int, last: int) -> None:
    """Insert delayed executions numbered first..last, then vacuum, analyze and checkpoint."""
    async with pool.acquire() as conn:
        await conn.execute(_DELAYED_MANY, workflow_id, next_node, first, last)
        await conn.execute("VACUUM ANALYZE executions")
    await checkpoint(pool)
