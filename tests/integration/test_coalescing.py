"""Coalescing triggers: a burst of rows with one key starts one execution; nothing is lost or dropped unseen."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from conveyor import failpoints
from conveyor.config import Settings
from conveyor.engine.coalescing import start_ripe_groups
from conveyor.engine.inbox import consume_inbox
from conveyor.engine.trigger_cache import TriggerCache
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.store import Pool
from testkit.poll import poll_until
from tests.integration.conftest import ApiClient, running_worker

_EVENT = (
    "INSERT INTO trigger_events (type, payload, created_at) VALUES ('visit', $1, now() - make_interval(secs => $2))"
)


async def coalescing_trigger(api: ApiClient, coalesce: JSONObject, **extra: JSONObject) -> str:
    """A workflow with an event trigger for `visit` that coalesces as told."""
    flow = {
        "name": f"c-{uuid.uuid4().hex[:6]}",
        "start": "a",
        "nodes": [{"id": "a", "type": "action", "action": "noop"}],
    }
    workflow = await (await api.post("/workflows", json=flow)).json()
    definition = {"type": "event", "event": "visit", "coalesce": coalesce, **extra}
    response = await api.post(f"/workflows/{workflow['id']}/triggers", json=definition)
    assert response.status == 201, await response.text()
    trigger_id: str = (await response.json())["id"]
    return trigger_id


async def send(db: Pool, *events: tuple[JSONObject, float]) -> None:
    """Applications' `visit` events, each arrived that many seconds ago."""
    async with db.acquire() as conn:
        await conn.executemany(_EVENT, list(events))


async def inputs_by_trigger(db: Pool, trigger_id: str) -> list[JSONObject]:
    """The inputs of the executions the trigger started, in their JSON text order."""
    async with db.acquire() as conn:
        rows = await conn.fetch(
            "SELECT input FROM executions WHERE trigger_id = $1 ORDER BY input::text", uuid.UUID(trigger_id)
        )
    return [r["input"] for r in rows]


async def test_bursts_for_two_keys_start_two_executions_with_the_payloads_each_mode_picks(
    api: ApiClient, db: Pool
) -> None:
    window = {"key": "{{ payload.user }}", "quiet": "2s", "max_wait": "1m"}
    modes = {mode: await coalescing_trigger(api, {**window, "payload": mode}) for mode in ("first", "last", "all")}
    # two bursts, interleaved, all quiet for longer than 2s
    await send(db, *[({"user": user, "n": n}, 30 - n) for n in range(4) for user in ("ann", "bob")])
    cache = TriggerCache()
    await consume_inbox(db, cache, 100)

    assert await start_ripe_groups(db, cache, 100) == 6  # two groups for each of the three triggers
    assert await start_ripe_groups(db, cache, 100) == 0
    assert await inputs_by_trigger(db, modes["first"]) == [{"user": "ann", "n": 0}, {"user": "bob", "n": 0}]
    assert await inputs_by_trigger(db, modes["last"]) == [{"user": "ann", "n": 3}, {"user": "bob", "n": 3}]
    assert await inputs_by_trigger(db, modes["all"]) == [
        {"key": user, "count": 4, "payloads": [{"user": user, "n": n} for n in range(4)]} for user in ("ann", "bob")
    ]

    rows = (await (await api.get(f"/triggers/{modes['all']}/rows?outcome=coalesced")).json())["items"]
    assert len(rows) == 8
    by_execution: dict[str, set[str]] = {}
    for row in rows:
        by_execution.setdefault(row["execution_id"], set()).add(row["payload"]["user"])
        assert row["reason"] == f"coalesced: 4 row(s) with key {row['payload']['user']!r} started one execution"
    assert sorted(by_execution.values(), key=sorted) == [{"ann"}, {"bob"}]
    metrics = await (await api.get("/metrics")).text()
    assert f'conveyor_trigger_rows_total{{outcome="coalesced",trigger="{modes["all"]}"}} 8.0' in metrics
    assert f'conveyor_coalesced_groups_total{{outcome="started",trigger="{modes["all"]}"}} 2.0' in metrics


async def test_a_group_still_receiving_waits_for_quiet_and_names_no_execution_yet(api: ApiClient, db: Pool) -> None:
    trigger_id = await coalescing_trigger(api, {"key": "{{ payload.user }}", "quiet": "1h", "max_wait": "2h"})
    await send(db, ({"user": "ann"}, 2), ({"user": "ann"}, 0))
    cache = TriggerCache()
    await consume_inbox(db, cache, 100)

    assert await start_ripe_groups(db, cache, 100) == 0
    async with db.acquire() as conn:
        group = await conn.fetchrow("SELECT first_at, last_at, due_at FROM coalesce_groups")
    assert group is not None
    assert group["due_at"] == group["last_at"] + timedelta(hours=1)  # quiet after the last, before max_wait
    rows = (await (await api.get(f"/triggers/{trigger_id}/rows")).json())["items"]
    assert [(r["outcome"], r["execution_id"], r["reason"]) for r in rows] == [
        ("coalesced", None, "waiting in group 'ann'")
    ] * 2


async def test_a_steady_trickle_longer_than_max_wait_starts_at_max_wait(api: ApiClient, db: Pool) -> None:
    trigger_id = await coalescing_trigger(
        api, {"key": "{{ payload.user }}", "quiet": "5s", "max_wait": "9s", "payload": "all"}
    )
    # one row every 2s for 10s: never 5s quiet, but the first arrived more than 9s ago
    await send(db, *[({"user": "ann", "n": n}, 10 - 2 * n) for n in range(6)])
    cache = TriggerCache()
    await consume_inbox(db, cache, 100)
    async with db.acquire() as conn:
        group = await conn.fetchrow("SELECT first_at, last_at, due_at, due_at <= now() AS ripe FROM coalesce_groups")
    assert group is not None
    assert group["due_at"] == group["first_at"] + timedelta(seconds=9)
    assert group["ripe"]

    assert await start_ripe_groups(db, cache, 100) == 1
    [started] = await inputs_by_trigger(db, trigger_id)
    assert started["count"] == 6


async def test_a_worker_wakes_when_a_group_ripens_not_at_its_poll_interval(
    api: ApiClient, db: Pool, database_url: str, settings: Settings
) -> None:
    trigger_id = await coalescing_trigger(api, {"key": "{{ payload.user }}", "quiet": "300ms", "max_wait": "1s"})
    async with running_worker(db, database_url, settings):  # its poll interval is 30s
        for n in range(3):
            assert (await api.post("/events", json={"type": "visit", "payload": {"user": "ann", "n": n}})).status in (
                200,
                202,
            )

        async def started() -> list[JSONObject] | None:
            inputs = await inputs_by_trigger(db, trigger_id)
            return inputs or None

        inputs = await poll_until(started, "the group's execution", timeout_seconds=20)
    assert inputs == [{"user": "ann", "n": 2}]  # `last` by default


async def test_a_batch_that_breaks_before_its_commit_loses_nothing_and_starts_each_group_once(
    api: ApiClient, db: Pool
) -> None:
    trigger_id = await coalescing_trigger(api, {"key": "{{ payload.user }}", "quiet": "1s", "max_wait": "1m"})
    await send(db, ({"user": "ann"}, 20), ({"user": "ann"}, 15), ({"user": "bob"}, 10))
    cache = TriggerCache()
    await consume_inbox(db, cache, 100)
    failpoints.arm("in_coalesce:raise*1")
    try:
        with pytest.raises(Exception, match="failpoint in_coalesce"):
            await start_ripe_groups(db, cache, 100)
    finally:
        failpoints.arm("")
    assert await inputs_by_trigger(db, trigger_id) == []

    assert await start_ripe_groups(db, cache, 100) == 2
    assert await start_ripe_groups(db, cache, 100) == 0
    assert len(await inputs_by_trigger(db, trigger_id)) == 2
    async with db.acquire() as conn:
        unplaced = await conn.fetchval(
            "SELECT count(*) FROM trigger_events WHERE trigger_id = $1 AND execution_id IS NULL", uuid.UUID(trigger_id)
        )
        groups = await conn.fetchval("SELECT count(*) FROM coalesce_groups")
    assert (unplaced, groups) == (0, 0)


async def test_a_group_whose_trigger_was_disabled_meanwhile_keeps_its_rows_with_the_reason(
    api: ApiClient, db: Pool
) -> None:
    trigger_id = await coalescing_trigger(api, {"key": "k", "quiet": "1s", "max_wait": "1m"})
    await send(db, ({"user": "ann"}, 20))
    cache = TriggerCache()
    await consume_inbox(db, cache, 100)
    assert (await api.post(f"/triggers/{trigger_id}/disable")).status == 200

    assert await start_ripe_groups(db, cache, 100) == 1
    rows = (await (await api.get(f"/triggers/{trigger_id}/rows?outcome=disabled")).json())["items"]
    assert [r["reason"] for r in rows] == ["the trigger was disabled before its group started"]


@pytest.mark.parametrize(
    ("coalesce", "field"),
    [
        ({"key": "{{ payload.user }}", "quiet": "5m", "max_wait": "1m"}, "/coalesce"),
        ({"key": "{{ payload.user }}", "quiet": "soon", "max_wait": "1m"}, "/coalesce/quiet"),
        ({"key": "{{ payload.user }}", "quiet": "1ms", "max_wait": "1m"}, "/coalesce/quiet"),
        ({"key": "{{ payload.user }}", "quiet": "1s", "max_wait": "30d"}, "/coalesce/max_wait"),
        ({"key": "{{ payload.user ", "quiet": "1s", "max_wait": "1m"}, "/coalesce/key"),
        ({"key": "", "quiet": "1s", "max_wait": "1m"}, "/coalesce/key"),
        ({"key": "k", "quiet": "1s", "max_wait": "1m", "payload": "middle"}, "/coalesce/payload"),
        ({"key": "k", "quiet": "1s", "max_wait": "1m", "window": "1s"}, "/coalesce/window"),
        ({"key": "k", "quiet": "1s"}, "/coalesce/max_wait"),
        ({"key": "k", "quiet": 1e300, "max_wait": "1m"}, "/coalesce/quiet"),
        ({"key": "k", "quiet": "-5s", "max_wait": "1m"}, "/coalesce/quiet"),
        ({"key": "{{ payload.__class__.__mro__ }}", "quiet": "1s", "max_wait": "x" * 5000}, "/coalesce/max_wait"),
        ("yes", "/coalesce"),
    ],
)
async def test_a_bad_coalesce_is_refused_naming_its_field(api: ApiClient, coalesce: JSONValue, field: str) -> None:
    flow = {
        "name": f"c-{uuid.uuid4().hex[:6]}",
        "start": "a",
        "nodes": [{"id": "a", "type": "action", "action": "noop"}],
    }
    workflow = await (await api.post("/workflows", json=flow)).json()
    definition = {"type": "event", "event": "visit", "coalesce": coalesce}
    response = await api.post(f"/workflows/{workflow['id']}/triggers", json=definition)
    assert response.status == 422
    error = (await response.json())["error"]
    assert (error["code"], error["details"]["field"]) == ("invalid_trigger", field), error


async def test_a_key_that_does_not_render_makes_the_row_an_error_with_its_reason(api: ApiClient, db: Pool) -> None:
    trigger_id = await coalescing_trigger(api, {"key": "{{ payload.user.name }}", "quiet": "1s", "max_wait": "1m"})
    await send(db, ({"user": "ann"}, 20), ({}, 20))
    cache = TriggerCache()
    await consume_inbox(db, cache, 100)
    rows = (await (await api.get(f"/triggers/{trigger_id}/rows?outcome=error")).json())["items"]
    assert len(rows) == 2
    assert all(r["reason"].startswith("CoalesceKeyError: coalesce key") for r in rows)
    assert await start_ripe_groups(db, cache, 100) == 0
