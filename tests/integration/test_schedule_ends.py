"""A schedule that ends: after `max_executions` fires, or at `end_at`; then it is due no more."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from conveyor.engine.clock_triggers import fire_due_triggers
from conveyor.engine.trigger_cache import TriggerCache
from conveyor.jsonvalue import JSONObject
from conveyor.store import Pool
from tests.integration.conftest import ApiClient
from tests.integration.test_triggers import trigger

_AN_HOUR_AGO = (
    "UPDATE triggers SET next_run_at = date_bin('5 minutes', now() - interval '1 hour', 'epoch') WHERE id = $1"
)


async def _fired(db: Pool, api_trigger: JSONObject) -> tuple[int, datetime | None, JSONObject]:
    async with db.acquire() as conn:
        rows = await conn.fetchval("SELECT count(*) FROM trigger_events")
        row = await conn.fetchrow(
            "SELECT next_run_at, cursor FROM triggers WHERE id = $1", uuid.UUID(api_trigger["id"])
        )
    assert row is not None
    return rows, row["next_run_at"], row["cursor"]


async def test_a_schedule_stops_after_max_executions_fires_counted_across_runs(api: ApiClient, db: Pool) -> None:
    created = await trigger(
        api,
        {"type": "schedule", "cron": "*/5 * * * *", "catch_up": "all", "max_catch_up": 2, "max_executions": 3},
    )
    async with db.acquire() as conn:
        await conn.execute(_AN_HOUR_AGO, uuid.UUID(created["id"]))
    assert await fire_due_triggers(db, TriggerCache(), 100) == 1
    rows, next_run_at, cursor = await _fired(db, created)
    assert (rows, cursor) == (2, {"fired": 2})
    assert next_run_at is not None
    async with db.acquire() as conn:  # due an hour ago again; the rows of the first round gone (retention)
        await conn.execute(_AN_HOUR_AGO, uuid.UUID(created["id"]))
        await conn.execute("DELETE FROM trigger_events")
    assert await fire_due_triggers(db, TriggerCache(), 100) == 1
    rows, next_run_at, cursor = await _fired(db, created)
    assert (rows, next_run_at, cursor) == (1, None, {"fired": 3})  # the third fire was the last
    assert await fire_due_triggers(db, TriggerCache(), 100) == 0


async def test_a_schedule_fires_no_tick_after_end_at(api: ApiClient, db: Pool) -> None:
    async with db.acquire() as conn:
        now: datetime = await conn.fetchval("SELECT now()")
    end_at = (now - timedelta(minutes=30)).replace(second=0, microsecond=0)
    created = await trigger(
        api,
        {
            "type": "schedule",
            "cron": "*/5 * * * *",
            "catch_up": "all",
            "max_catch_up": 50,
            "end_at": end_at.isoformat(),
        },
    )
    assert created["next_run_at"] is None  # ended before it was saved
    async with db.acquire() as conn:
        await conn.execute(_AN_HOUR_AGO, uuid.UUID(created["id"]))
        await fire_due_triggers(db, TriggerCache(), 100)
        ticks = await conn.fetch("SELECT dedupe_key FROM trigger_events")
    assert ticks
    last = max(t["dedupe_key"].split(":", 2)[2] for t in ticks)
    assert datetime.fromisoformat(last) <= end_at
    assert (await _fired(db, created))[1] is None
