"""Live events: an execution's transitions as Server-Sent Events, resumable; a workflow's feed; one LISTEN."""

from __future__ import annotations

import asyncio
import contextlib
import resource
import uuid
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import aiohttp
import pytest
from yarl import URL

from conveyor.config import Settings
from conveyor.http import live
from conveyor.http.hub import LISTENER_NAME, EventHub
from conveyor.jsonvalue import JSONObject
from conveyor.store import Pool
from testkit.poll import poll_until
from tests.integration.conftest import ApiClient, flow, running_worker
from tests.sse import Event, collect, read_events

THREE_STEPS = (
    {"id": "a", "type": "action", "action": "noop"},
    {"id": "b", "type": "action", "action": "noop"},
    {"id": "c", "type": "action", "action": "noop"},
)


async def _create(api: ApiClient, *nodes: JSONObject) -> JSONObject:
    return dict(await (await api.post("/workflows", json=flow(*nodes))).json())


async def _rest(events: AsyncIterator[Event]) -> list[Event]:
    return [e async for e in events]


async def _start(api: ApiClient, workflow: dict[str, object]) -> str:
    response = await api.post(f"/workflows/{workflow['id']}/executions", json={"input": {}})
    return str((await response.json())["id"])


async def test_execution_events_send_the_state_then_each_transition_and_end_after_the_terminal_one(
    api: ApiClient, db: Pool, database_url: str, settings: Settings
) -> None:
    execution_id = await _start(api, await _create(api, *THREE_STEPS))
    response = await api.get(f"/executions/{execution_id}/events")
    assert response.headers["Content-Type"] == "text/event-stream"
    events = read_events(response)
    first = await anext(events)
    assert (first.event, first.data["state"], first.id) == ("state", "idle", None)

    async with running_worker(db, database_url, settings):
        transitions = [e async for e in events]

    assert {e.event for e in transitions} == {"transition"}
    moves = [(e.data["from"], e.data["to"], e.data["node"]) for e in transitions]
    assert moves[0] == ("idle", "running", "a")
    assert moves[-1] == ("stepCompleted", "completed", "c")
    history = (await (await api.get(f"/executions/{execution_id}/history")).json())["items"]
    assert moves == [(h["from"], h["to"], h["node"]) for h in history]
    ids = [e.id for e in transitions]
    assert None not in ids
    assert ids == sorted(i for i in ids if i is not None)
    assert all(e.data["id"] == e.id and e.data["execution_id"] == execution_id for e in transitions)


async def test_last_event_id_resumes_after_that_transition(
    api: ApiClient, db: Pool, database_url: str, settings: Settings
) -> None:
    execution_id = await _start(api, await _create(api, *THREE_STEPS))
    async with running_worker(db, database_url, settings):
        first_run = await collect(await api.get(f"/executions/{execution_id}/events"))
        if first_run[0].data["state"] != "completed":
            assert first_run[-1].data["to"] == "completed"
    async with db.acquire() as conn:
        ids = [r["id"] for r in await conn.fetch("SELECT id FROM execution_history ORDER BY id")]

    resumed = await collect(await api.get(f"/executions/{execution_id}/events", headers={"Last-Event-ID": str(ids[2])}))

    assert resumed[0].event == "state"
    assert resumed[0].data["state"] == "completed"
    assert [e.id for e in resumed[1:]] == ids[3:]


async def test_an_ended_execution_streams_its_state_and_closes(api: ApiClient, db: Pool) -> None:
    execution_id = await _start(api, await _create(api, {"id": "wait", "type": "delay", "duration": "1h"}))
    await api.post(f"/executions/{execution_id}/cancel")
    events = await collect(await api.get(f"/executions/{execution_id}/events"))
    assert [(e.event, e.data["state"]) for e in events] == [("state", "cancelled")]


@pytest.mark.parametrize(
    ("path", "headers", "status", "code"),
    [
        ("/executions/not-a-uuid/events", {}, 404, "not_found"),
        (f"/executions/{uuid.uuid4()}/events", {}, 404, "not_found"),
        (f"/executions/{uuid.uuid4()}/events", {"Last-Event-ID": "yesterday"}, 422, "validation_error"),
        (f"/executions/{uuid.uuid4()}/events", {"Last-Event-ID": "-1"}, 422, "validation_error"),
        (f"/executions/{uuid.uuid4()}/events", {"Last-Event-ID": "9" * 30}, 422, "validation_error"),
        ("/events/stream?workflow=no-such-workflow", {}, 404, "not_found"),
    ],
)
async def test_bad_stream_requests_are_json_errors(
    api: ApiClient, path: str, headers: dict[str, str], status: int, code: str
) -> None:
    response = await api.get(path, headers=headers)
    assert response.status == status
    assert (await response.json())["error"]["code"] == code


async def test_the_workflow_feed_carries_that_workflows_transitions_only(
    api: ApiClient, db: Pool, database_url: str, settings: Settings
) -> None:
    watched = await _create(api, {"id": "a", "type": "action", "action": "noop"})
    other = await _create(api, {"id": "a", "type": "action", "action": "noop"})
    response = await api.get("/events/stream", params={"workflow": str(watched["name"])})
    events = read_events(response)
    assert (await anext(events)).event == "comment"  # subscribed
    other_id = await _start(api, other)
    watched_id = await _start(api, watched)

    seen = []
    async with running_worker(db, database_url, settings):
        async for event in events:
            seen.append(event)
            if event.event == "transition" and event.data["to"] == "completed":
                break
    assert {e.data["execution_id"] for e in seen} == {watched_id}
    assert {e.data["workflow_id"] for e in seen} == {watched["id"]}
    assert other_id != watched_id


async def test_a_quiet_stream_gets_keepalive_comments(api: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "KEEPALIVE_SECONDS", 0.05)
    response = await api.get("/events/stream")
    events = read_events(response)
    comments = [(await anext(events)).data for _ in range(3)]
    assert comments == ["subscribed", "keepalive", "keepalive"]


async def test_the_hub_listens_on_one_connection_only_while_someone_subscribes(api: ApiClient, db: Pool) -> None:
    hub = EventHub(db)

    async def listeners() -> tuple[int, int]:
        async with db.acquire() as conn:
            named = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", LISTENER_NAME
            )
            registered = await conn.fetchval("SELECT count(*) FROM event_listeners")
        return named, registered

    async def listening(expected: tuple[int, int]) -> tuple[int, int]:
        # Waits on the fact: a hub an earlier test's server closed may take a moment to let its connection go.
        with contextlib.suppress(TimeoutError):
            await poll_until(lambda: _equal(listeners(), expected), f"{expected} listeners", 5.0)
        return await listeners()

    try:
        async with hub.subscribe(), hub.subscribe(workflow_id=uuid.uuid4()):
            assert await listening((1, 1)) == (1, 1)
        assert await listening((0, 0)) == (0, 0)
    finally:
        await hub.close()


async def _equal(found: Awaitable[tuple[int, int]], expected: tuple[int, int]) -> bool:
    return await found == expected


SUBSCRIBERS = 200


def _rss_kib_and_cpu_seconds() -> tuple[int, float]:
    rss = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmRSS:"))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return int(rss.split()[1]), usage.ru_utime + usage.ru_stime


async def test_200_subscribers_share_one_listen_connection_and_all_get_every_transition(
    api: ApiClient, db: Pool, database_url: str, settings: Settings
) -> None:
    execution_id = await _start(api, await _create(api, *THREE_STEPS))
    rss_before, cpu_before = _rss_kib_and_cpu_seconds()
    # The test client pools 100 connections at most: these streams need one each.
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    url = api.make_url(f"/executions/{execution_id}/events")
    try:
        await _follow_all(session, url, db, database_url, settings, rss_before, cpu_before)
    finally:
        await session.close()


async def _follow_all(
    session: aiohttp.ClientSession,
    url: URL,
    db: Pool,
    database_url: str,
    settings: Settings,
    rss_before: int,
    cpu_before: float,
) -> None:
    responses = await asyncio.gather(*(session.get(url) for _ in range(SUBSCRIBERS)))
    streams = [read_events(r) for r in responses]
    for stream in streams:
        assert (await anext(stream)).event == "state"
    rss_subscribed, cpu_subscribed = _rss_kib_and_cpu_seconds()

    async def listeners() -> int:
        async with db.acquire() as conn:
            found: int = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", LISTENER_NAME
            )
        return found

    async def one_listener() -> bool:
        return await listeners() == 1

    # Waits on the fact: an earlier test's closed hub may take a moment to let its connection go.
    with contextlib.suppress(TimeoutError):
        await poll_until(one_listener, "one listener", 5.0)
    assert await listeners() == 1
    async with running_worker(db, database_url, settings):
        received = await asyncio.gather(*(_rest(stream) for stream in streams))
    rss_after, cpu_after = _rss_kib_and_cpu_seconds()
    assert len(received) == SUBSCRIBERS
    assert len({tuple(e.id for e in events) for events in received}) == 1
    assert received[0][-1].data["to"] == "completed"
    transitions = len(received[0])
    # Server and clients share this process: the figures bound what the server alone costs.
    print(
        f"{SUBSCRIBERS} subscribers: +{(rss_subscribed - rss_before) / 1024:.1f} MiB and "
        f"{cpu_subscribed - cpu_before:.2f} s CPU to subscribe; {transitions} transitions to each: "
        f"{cpu_after - cpu_subscribed:.2f} s CPU, +{(rss_after - rss_subscribed) / 1024:.1f} MiB"
    )
