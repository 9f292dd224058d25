"""Recovery on demand and at a worker's start; the statistics, /health and /metrics that show the backlog."""

from __future__ import annotations

import uuid

from bench.seed import start_many
from conveyor.config import Settings
from conveyor.engine.claim import claim_due
from conveyor.store import Pool
from conveyor.store.workers import register_worker
from tests.integration.conftest import ApiClient, flow, running_worker, wait_until_ended


async def _workflow(api: ApiClient, name: str) -> uuid.UUID:
    definition = flow({"id": "a", "type": "action", "action": "noop"}, name=name)
    return uuid.UUID((await (await api.post("/workflows", json=definition)).json())["id"])


async def _held_by(db: Pool, owner: str, *, silent_for_seconds: float) -> list[uuid.UUID]:
    """Every due execution, claimed for an hour by a registered worker last heard of that long ago."""
    async with db.acquire() as conn:
        await register_worker(conn, owner, "elsewhere", 1)
        await conn.execute(
            "UPDATE workers SET heartbeat_at = now() - make_interval(secs => $2) WHERE id = $1",
            owner,
            silent_for_seconds,
        )
    return [ex.id for ex in await claim_due(db, owner, 1000, 3600)]


async def test_recover_releases_what_a_gone_worker_held_and_says_what(api: ApiClient, db: Pool) -> None:
    await start_many(db, await _workflow(api, "held"), "a", 3)
    held = await _held_by(db, "ghost", silent_for_seconds=3600)
    await _held_by(db, "alive", silent_for_seconds=0)  # holds nothing: the ghost took everything
    response = await api.post("/recovery/recover")
    assert response.status == 200
    recovered = (await response.json())["recovered"]
    assert recovered["total"] == 3
    assert recovered["by_state"] == {"running": 3}
    assert recovered["by_worker"] == {"ghost": 3}
    assert sorted(recovered["ids"]) == sorted(str(i) for i in held)
    stats = await (await api.get("/recovery/statistics")).json()
    assert stats["executions_by_state"] == {"running": 3}
    assert [w["id"] for w in stats["live_workers"]] == ["alive"]


async def test_recover_leaves_a_live_workers_executions_alone(api: ApiClient, db: Pool) -> None:
    await start_many(db, await _workflow(api, "busy"), "a", 2)
    await _held_by(db, "busy-worker", silent_for_seconds=0)
    body = await (await api.post("/recovery/recover", json={"worker": "busy-worker"})).json()
    assert body["recovered"]["total"] == 0
    stats = await (await api.get("/recovery/statistics")).json()
    assert [(w["id"], w["in_flight"]) for w in stats["live_workers"]] == [("busy-worker", 2)]
    body = await (await api.post("/recovery/recover", json={"older_than": 0.000001})).json()
    assert body["recovered"]["total"] == 2  # an operator may call it gone sooner


async def test_a_starting_worker_recovers_what_dead_workers_held(
    api: ApiClient, db: Pool, database_url: str, settings: Settings
) -> None:
    await start_many(db, await _workflow(api, "orphaned"), "a", 2)
    held = await _held_by(db, "dead", silent_for_seconds=3600)
    async with running_worker(db, database_url, settings):
        for execution_id in held:  # leased for an hour, yet done as soon as a worker starts
            assert (await wait_until_ended(db, execution_id, timeout=10)).state == "completed"


async def test_hostile_recover_bodies_are_422(api: ApiClient) -> None:
    for body, field in (
        ({"older_than": -1}, "/older_than"),
        ({"older_than": "soon"}, "/older_than"),
        ({"older_than": 1e308}, "/older_than"),
        ({"worker": ""}, "/worker"),
        ({"worker": 5}, "/worker"),
        ({"other": 1}, "/other"),
    ):
        response = await api.post("/recovery/recover", json=body)
        assert response.status == 422, body
        assert (await response.json())["error"]["details"]["field"] == field


async def test_statistics_count_overdue_wakeups_and_their_worst_lateness(api: ApiClient, db: Pool) -> None:
    await start_many(db, await _workflow(api, "late"), "a", 4)
    async with db.acquire() as conn:
        await conn.execute("UPDATE executions SET wake_at = now() - interval '30 seconds'")
    stats = await (await api.get("/recovery/statistics")).json()
    assert stats["executions_by_state"] == {"idle": 4}
    assert stats["overdue_wakeups"]["count"] == 4
    assert stats["overdue_wakeups"]["worst_lateness_seconds"] >= 30
    assert stats["lapsed_leases"] == 0
    assert stats["inbox"] == {"pending": 0, "oldest_pending_at": None}
    health = await (await api.get("/health")).json()
    assert health["claim_lag_seconds"] >= 30
    assert health["database_round_trip_ms"] >= 0
    assert (health["live_workers"], health["pending_inbox_rows"]) == (0, 0)


async def test_metrics_count_executions_by_workflow_and_state_and_time_requests_by_route(
    api: ApiClient, db: Pool
) -> None:
    await start_many(db, await _workflow(api, "counted"), "a", 3)
    missing = uuid.uuid4()
    await api.get(f"/executions/{missing}")
    text = await (await api.get("/metrics")).text()
    assert 'conveyor_executions{state="idle",workflow="counted"} 3.0' in text
    assert 'route="/executions/{id}"' in text
    assert str(missing) not in text  # the route's pattern is the label, never the raw URL
