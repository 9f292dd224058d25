"""A trigger's concurrency cap: held by the executions it starts, in place of the workflow's key cap."""

from __future__ import annotations

import uuid

from conveyor.commands.operations import create_workflow
from conveyor.engine.claim import claim_due
from conveyor.engine.coalescing import start_ripe_groups
from conveyor.engine.inbox import consume_inbox
from conveyor.engine.trigger_cache import TriggerCache
from conveyor.jsonvalue import JSONObject
from conveyor.store import Pool
from tests.integration.conftest import ApiClient, flow

_EVENT = "INSERT INTO trigger_events (type, payload, created_at) VALUES ('order', $1, now() - interval '1 minute')"


async def capped_trigger(db: Pool, api: ApiClient, trigger: JSONObject) -> str:
    """An `order` event trigger on a workflow capped at one execution per user and five in total."""
    definition = {
        **flow({"id": "work", "type": "action", "action": "noop"}),
        "concurrency": {"key": "{{ input.user }}", "limit": 1},
        "limit": 5,
    }
    workflow = await create_workflow(db, definition)
    response = await api.post(f"/workflows/{workflow.id}/triggers", json={"type": "event", "event": "order", **trigger})
    assert response.status == 201, await response.text()
    trigger_id: str = (await response.json())["id"]
    return trigger_id


async def executions_of(db: Pool, trigger_id: str) -> list[uuid.UUID]:
    async with db.acquire() as conn:
        rows = await conn.fetch("SELECT id FROM executions WHERE trigger_id = $1", uuid.UUID(trigger_id))
    return [r["id"] for r in rows]


async def orders(db: Pool, *payloads: JSONObject) -> None:
    async with db.acquire() as conn:
        await conn.executemany(_EVENT, [(p,) for p in payloads])
    await consume_inbox(db, TriggerCache(), 100)


async def test_a_triggers_key_cap_replaces_the_workflows_and_the_workflows_total_still_holds(
    db: Pool, api: ApiClient
) -> None:
    trigger_id = await capped_trigger(db, api, {"concurrency": {"key": "{{ input.team }}", "limit": 2}})
    await orders(db, *[{"user": "ann", "team": "red"}] * 3, {"user": "bob", "team": "blue"})

    claimed = await claim_due(db, "worker-a", 10, 30.0)

    # the workflow alone would run one of ann's orders; the trigger's cap runs two of team red's
    assert sorted(e.input["team"] for e in claimed) == ["blue", "red", "red"]
    async with db.acquire() as conn:
        caps = await conn.fetch(
            "SELECT DISTINCT slot_key, slot_limit, total_limit FROM executions WHERE trigger_id = $1 ORDER BY 1",
            uuid.UUID(trigger_id),
        )
    assert [tuple(r) for r in caps] == [("blue", 2, 5), ("red", 2, 5)]
    [held] = set(await executions_of(db, trigger_id)) - {e.id for e in claimed}
    shown = await (await api.get(f"/executions/{held}")).json()
    assert shown["waiting_for_slot"] == {"key": "red", "limit": 2}
    rows = (await (await api.get(f"/triggers/{trigger_id}/rows?outcome=started")).json())["items"]
    assert {r["reason"] for r in rows} == {
        "runs under concurrency key 'red' (limit 2) and total limit 5",
        "runs under concurrency key 'blue' (limit 2) and total limit 5",
    }


async def test_without_a_cap_of_its_own_a_trigger_starts_executions_under_the_workflows(
    db: Pool, api: ApiClient
) -> None:
    await capped_trigger(db, api, {})
    await orders(db, *[{"user": "ann", "team": "red"}] * 3)

    assert len(await claim_due(db, "worker-a", 10, 30.0)) == 1


async def test_a_coalesced_groups_execution_takes_the_triggers_cap_rendered_from_its_input(
    db: Pool, api: ApiClient
) -> None:
    coalesce = {"key": "{{ payload.team }}", "quiet": "1s", "max_wait": "1m", "payload": "all"}
    trigger_id = await capped_trigger(
        db, api, {"coalesce": coalesce, "concurrency": {"key": "team-{{ input.key }}", "limit": 1}}
    )
    await orders(db, {"user": "ann", "team": "red"}, {"user": "bob", "team": "red"})

    assert await start_ripe_groups(db, TriggerCache(), 100) == 1
    async with db.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT slot_key, slot_limit, total_limit FROM executions WHERE trigger_id = $1", uuid.UUID(trigger_id)
        )
    assert row is not None
    assert tuple(row) == ("team-red", 1, 5)


async def test_a_manual_trigger_refuses_a_coalesce_or_a_cap_it_could_not_apply(api: ApiClient, db: Pool) -> None:
    workflow = await create_workflow(db, flow({"id": "work", "type": "action", "action": "noop"}))
    cap = {"type": "manual", "concurrency": {"key": "{{ input.user }}", "limit": 1}}
    response = await api.post(f"/workflows/{workflow.id}/triggers", json=cap)
    assert response.status == 422
    assert (await response.json())["error"]["details"]["field"] == "/concurrency"


async def test_a_group_whose_cap_key_does_not_render_ends_with_its_rows_as_errors(db: Pool, api: ApiClient) -> None:
    coalesce = {"key": "{{ payload.team }}", "quiet": "1s", "max_wait": "1m"}
    trigger_id = await capped_trigger(
        db, api, {"coalesce": coalesce, "concurrency": {"key": "{{ input.missing }}", "limit": 1}}
    )
    await orders(db, {"user": "ann", "team": "red"}, {"user": "bob", "team": "red"})

    assert await start_ripe_groups(db, TriggerCache(), 100) == 1
    assert await start_ripe_groups(db, TriggerCache(), 100) == 0  # ended, not retried
    rows = (await (await api.get(f"/triggers/{trigger_id}/rows?outcome=error")).json())["items"]
    assert len(rows) == 2
    assert all(r["reason"].startswith("SlotKeyError: concurrency key") for r in rows)
    assert await executions_of(db, trigger_id) == []
