"""The wait_for_event node: an event or the timeout, exactly one; no event missed around the wait's parking."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import MutableMapping
from typing import Any

from conveyor.commands.operations import create_workflow, start_execution
from conveyor.commands.triggers import post_event
from conveyor.config import Settings
from conveyor.db import create_pool
from conveyor.engine.definitions_cache import DefinitionCache
from conveyor.engine.event_matcher import EventMatcher
from conveyor.jsonvalue import JSONObject
from conveyor.statemachines import COMPLETED, RUNNING
from conveyor.store import Pool
from conveyor.store.claims import NO_CLAIM, ClaimFor
from conveyor.store.event_log import LOCK_SPACE
from conveyor.store.event_waits import ParkedWait, close_on_timeout, park
from conveyor.store.executions import Execution
from conveyor.store.wait_reads import WaitReads
from testkit.poll import poll_until
from tests.conftest import logged
from tests.integration.conftest import ApiClient, running_worker, wait_until_ended

MATCH_USER = {"==": [{"var": "event.payload.user"}, {"var": "input.user"}]}


def waiting(timeout: str | None = "1h", **extra: object) -> JSONObject:
    """A workflow that waits for `user.engaged` of its own user, then ends in `engaged` or `nudge`."""
    wait: JSONObject = {
        "id": "wait",
        "type": "wait_for_event",
        "events": ["user.engaged"],
        "match": MATCH_USER,
        "on_event": "engaged",
        "on_timeout": "nudge",
        **extra,
    }
    if timeout is not None:
        wait["timeout"] = timeout
    return {
        "name": f"wait-{uuid.uuid4().hex[:8]}",
        "start": "wait",
        "nodes": [
            wait,
            {"id": "engaged", "type": "action", "action": "noop"},
            {"id": "nudge", "type": "action", "action": "noop"},
        ],
    }


async def start(db: Pool, definition: JSONObject, users: list[str]) -> list[Execution]:
    workflow = await create_workflow(db, definition)
    return [(await start_execution(db, str(workflow.id), {"user": u}))[0] for u in users]


async def nodes_run(db: Pool, execution_id: uuid.UUID) -> list[str]:
    async with db.acquire() as conn:
        rows = await conn.fetch(
            "SELECT node FROM execution_steps WHERE execution_id = $1 AND status = 'completed' ORDER BY id",
            execution_id,
        )
    return [r["node"] for r in rows]


async def parked(db: Pool, count: int) -> None:
    async def check() -> bool:
        async with db.acquire() as conn:
            n: int = await conn.fetchval("SELECT count(*) FROM event_waits WHERE closed_at IS NULL")
        return n >= count

    await poll_until(check, f"{count} parked waits", timeout_seconds=60)


async def output_of(db: Pool, execution_id: uuid.UUID, node: str) -> object:
    async with db.acquire() as conn:
        return await conn.fetchval(
            "SELECT output FROM execution_steps WHERE execution_id = $1 AND node = $2 AND status = 'completed'",
            execution_id,
            node,
        )


async def test_an_event_after_the_wait_takes_on_event_with_its_payload_as_output(
    api: ApiClient, db: Pool, database_url: str, settings: Settings
) -> None:
    [ex] = await start(db, waiting(), ["ada"])
    async with running_worker(db, database_url, settings):
        await parked(db, 1)
        response = await api.post("/events", json={"type": "user.engaged", "payload": {"user": "ada", "via": "x"}})
        assert response.status == 202
        ended = await wait_until_ended(db, ex.id)
    assert ended.state == COMPLETED
    assert await nodes_run(db, ex.id) == ["wait", "engaged"]
    assert await output_of(db, ex.id, "wait") == {"user": "ada", "via": "x"}


async def test_an_event_sent_before_the_execution_first_runs_is_taken_by_the_look_back(
    db: Pool, database_url: str, settings: Settings
) -> None:
    [ex] = await start(db, waiting(), ["ada"])
    # the execution exists, its wait not yet: no worker runs
    await post_event(db, "user.engaged", {"user": "bob"}, None)
    await post_event(db, "user.engaged", {"user": "ada"}, None)
    async with running_worker(db, database_url, settings):
        await wait_until_ended(db, ex.id)
    assert await nodes_run(db, ex.id) == ["wait", "engaged"]
    assert await output_of(db, ex.id, "wait") == {"user": "ada"}


async def test_an_event_committed_while_the_wait_step_runs_and_before_it_parks_resumes_it(
    db: Pool, database_url: str, settings: Settings, logs: list[MutableMapping[str, Any]]
) -> None:
    [ex] = await start(db, waiting(), ["ada"])
    async with db.acquire() as holder, running_worker(db, database_url, settings):
        # the type's lock, held as a matcher holds it: the wait's step runs, then its parking waits here
        tx = holder.transaction()
        await tx.start()
        await holder.execute("SELECT pg_advisory_xact_lock($1, hashtext('user.engaged'))", LOCK_SPACE)

        async def parking_blocked() -> bool:
            async with db.acquire() as conn:
                blocked: int = await conn.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted")
                state: str = await conn.fetchval("SELECT state FROM executions WHERE id = $1", ex.id)
            return blocked == 1 and state == RUNNING

        await poll_until(parking_blocked, "the wait's step running, its parking held", timeout_seconds=20)
        await post_event(db, "user.engaged", {"user": "ada"}, None)
        event_id = await db.fetchval("SELECT id FROM event_log")
        await tx.commit()  # the event committed, now the wait parks
        ended = await wait_until_ended(db, ex.id)
    assert ended.state == COMPLETED
    assert await nodes_run(db, ex.id) == ["wait", "engaged"]
    assert await output_of(db, ex.id, "wait") == {"user": "ada"}
    assert logged(logs, "event_taken_on_parking", event_id=event_id)  # by the look back, not the matcher


async def test_events_racing_the_parking_are_never_missed(db: Pool, database_url: str, settings: Settings) -> None:
    users = [f"u{i}" for i in range(60)]
    executions = await start(db, waiting(), users)

    async def send() -> None:
        for user in users:
            await post_event(db, "user.engaged", {"user": user}, None)
            await asyncio.sleep(0)  # interleave with the worker parking waits in the same loop

    async with running_worker(db, database_url, settings):
        await send()
        ended = [await wait_until_ended(db, ex.id, timeout=60) for ex in executions]
    assert {ex.state for ex in ended} == {COMPLETED}
    for ex in executions:
        assert await nodes_run(db, ex.id) == ["wait", "engaged"]


async def test_an_application_insert_without_a_trigger_reaches_the_wait(
    db: Pool, database_url: str, settings: Settings
) -> None:
    [ex] = await start(db, waiting(), ["ada"])
    async with running_worker(db, database_url, settings):
        await parked(db, 1)
        async with db.acquire() as conn:
            await conn.execute(
                "INSERT INTO trigger_events (type, payload) VALUES ('user.engaged', $1)", {"user": "ada"}
            )
        await wait_until_ended(db, ex.id)
    assert await nodes_run(db, ex.id) == ["wait", "engaged"]
    async with db.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM event_log") == 1


async def test_the_timeout_takes_on_timeout(db: Pool, database_url: str, settings: Settings) -> None:
    [ex] = await start(db, waiting(timeout="200ms"), ["ada"])
    async with running_worker(db, database_url, settings):
        await wait_until_ended(db, ex.id)
    assert await nodes_run(db, ex.id) == ["wait", "nudge"]
    assert await output_of(db, ex.id, "wait") is None


async def test_an_event_at_the_timeout_takes_exactly_one_branch(
    db: Pool, database_url: str, settings: Settings
) -> None:
    users = [f"u{i}" for i in range(40)]
    executions = await start(db, waiting(timeout="1s"), users)
    async with running_worker(db, database_url, settings):
        await parked(db, len(users))
        async with db.acquire() as conn:
            # every deadline at once, then each event as the worker claims the timeouts
            await conn.execute("UPDATE event_waits SET deadline = now()")
            await conn.execute("UPDATE executions SET wake_at = now() WHERE state = 'delayed'")
            await conn.execute("NOTIFY conveyor_wake")
        for user in users:
            await post_event(db, "user.engaged", {"user": user}, None)
        for ex in executions:
            await wait_until_ended(db, ex.id)
    async with db.acquire() as conn:
        waits = {r["execution_id"]: r["event_id"] for r in await conn.fetch("SELECT * FROM event_waits")}
    branches = set()
    for ex in executions:
        run = await nodes_run(db, ex.id)
        branches.add(run[1])
        assert run == ["wait", "engaged" if waits[ex.id] is not None else "nudge"]
    assert branches <= {"engaged", "nudge"}


async def test_one_event_among_a_thousand_waits_resumes_only_its_own(
    db: Pool, database_url: str, settings: Settings, logs: list[MutableMapping[str, Any]]
) -> None:
    users = [f"u{i}" for i in range(1000)]
    executions = await start(db, waiting(), users)
    async with running_worker(db, database_url, dataclasses.replace(settings, concurrency=50)):
        await parked(db, len(users))
        await post_event(db, "user.engaged", {"user": "u500"}, None)
        await wait_until_ended(db, executions[500].id)
    async with db.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM event_waits WHERE closed_at IS NULL") == 999
    [matched] = logged(logs, "events_matched", events=1)
    assert matched["candidates"] == 1  # found by the key's index, not by testing 1,000 rules


async def test_one_event_resumes_a_thousand_waits_in_one_batch_of_four_statements(
    db: Pool, database_url: str, settings: Settings, logs: list[MutableMapping[str, Any]]
) -> None:
    count = 1000
    definition = waiting(match={"==": [{"var": "event.payload.plan"}, "pro"]})
    executions = await start(db, definition, [f"u{i}" for i in range(count)])
    async with running_worker(db, database_url, dataclasses.replace(settings, concurrency=50)):
        await parked(db, count)
    # the match stage alone, on one connection, so that every statement it sends is logged
    definitions = DefinitionCache(db)
    await definitions.get(executions[0].workflow_id, executions[0].workflow_version)
    queries: list[str] = []
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        # a first batch (matching no wait) lets asyncpg introspect the statements' types, once
        await post_event(db, "user.engaged", {"plan": "free"}, None)
        assert (await EventMatcher(pool, definitions, WaitReads(pool)).match(100, NO_CLAIM)).events == 1
        await post_event(db, "user.engaged", {"plan": "pro"}, None)
        async with pool.acquire() as conn:
            conn.add_query_logger(lambda q: queries.append(q.query))
        assert (await EventMatcher(pool, definitions, WaitReads(pool)).match(100, NO_CLAIM)).events == 1
        batch = list(queries)
    finally:
        await pool.close()
    statements = [q for q in batch if q.strip().upper() not in ("BEGIN;", "BEGIN", "COMMIT;", "COMMIT")]
    # README, "Waiting for events": the events' locking read, the waits' read, the write, and cancel_on's read
    assert len(statements) == 4, [q[:60] for q in batch]
    assert len(batch) == 6  # with BEGIN and COMMIT
    assert [(e["delivered"], e["woken"]) for e in logged(logs, "events_matched", events=1)] == [(0, 0), (count, count)]
    async with running_worker(db, database_url, dataclasses.replace(settings, concurrency=50)):
        ended = [await wait_until_ended(db, ex.id, timeout=60) for ex in executions]
    assert {ex.state for ex in ended} == {COMPLETED}


async def test_a_match_batch_claims_what_it_wakes_as_far_as_the_worker_has_room(
    db: Pool, database_url: str, settings: Settings
) -> None:
    executions = await start(db, waiting(), [f"u{i}" for i in range(10)])
    async with running_worker(db, database_url, settings):
        await parked(db, 10)
    for i in range(10):
        await post_event(db, "user.engaged", {"user": f"u{i}"}, None)
    definitions = DefinitionCache(db)
    reads = WaitReads(db)
    claim = ClaimFor(owner="matcher-test", room=4, lease_seconds=30.0, provides=())
    matched = await EventMatcher(db, definitions, reads).match(100, claim)
    assert matched.events == 10
    assert len(matched.claimed) == 4
    assert {ex.state for ex in matched.claimed} == {RUNNING}
    claimed = {ex.id for ex in matched.claimed}
    async with db.acquire() as conn:
        rows = await conn.fetch(
            "SELECT id, lease_owner, wake_at <= now() AS due FROM executions WHERE id = ANY($1::uuid[])",
            [ex.id for ex in executions],
        )
        history = await conn.fetch(
            "SELECT execution_id, detail->>'worker' AS worker FROM execution_history WHERE event = 'wake'"
        )
    # the claimed are leased to the claimer, with a claim's history row; the rest are due for any worker
    assert {r["id"] for r in rows if r["lease_owner"] == "matcher-test"} == claimed
    assert all(r["due"] for r in rows if r["id"] not in claimed)
    assert {(h["execution_id"], h["worker"]) for h in history} == {(i, "matcher-test") for i in claimed}
    # the claimed executions' nodes learn how their waits closed without a read
    for ex in matched.claimed:
        wait = await reads.find(ex.id, ex.visit)
        assert wait is not None
        assert (wait.closed, wait.payload) == (True, {"user": ex.input["user"]})
    await db.execute("UPDATE executions SET lease_owner = NULL, wake_at = now() WHERE lease_owner = 'matcher-test'")
    async with running_worker(db, database_url, settings):
        ended = [await wait_until_ended(db, ex.id) for ex in executions]
    assert {ex.state for ex in ended} == {COMPLETED}
    assert {ex.id: await nodes_run(db, ex.id) for ex in executions} == {ex.id: ["wait", "engaged"] for ex in executions}


async def test_parking_stores_the_wait_and_looks_back_in_one_statement(db: Pool) -> None:
    [ex] = await start(db, waiting(), ["u1"])
    async with db.acquire() as conn:
        for user in ("u1", "u2", "u1"):
            await conn.execute(
                "INSERT INTO event_log (type, payload) VALUES ('user.engaged', jsonb_build_object('user', $1::text))",
                user,
            )
        await conn.execute("INSERT INTO event_log (type, payload) VALUES ('user.left', '{\"user\": \"u1\"}')")
        wait = ParkedWait(ex.id, 1, "wait", ["user.engaged"], None, ["payload", "user"], "u1")
        queries: list[str] = []
        conn.add_query_logger(lambda q: queries.append(q.query))
        closed, events = await park(conn, wait)
        await asyncio.sleep(0)  # the logger is called on the loop's next turn
        assert len(queries) == 1
        # the events of its types and key since the execution began, oldest first
        assert not closed
        assert [(e.type, e.payload) for e in events] == [("user.engaged", {"user": "u1"})] * 2
        assert events[0].id < events[1].id
        # parked again at the same visit (woken early): the wait is kept, the look back is the same
        assert await park(conn, wait) == (False, events)
        assert await conn.fetchval("SELECT count(*) FROM event_waits WHERE execution_id = $1", ex.id) == 1
        # closed meanwhile: parking again says so, and looks back for nothing
        await close_on_timeout(conn, ex.id, 1)
        assert await park(conn, wait) == (True, [])


async def test_the_waits_read_on_one_loop_turn_go_out_as_one_statement(
    db: Pool, database_url: str, settings: Settings
) -> None:
    executions = await start(db, waiting(), [f"u{i}" for i in range(50)])
    async with running_worker(db, database_url, settings):
        await parked(db, len(executions))
    queries: list[str] = []
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        reads = WaitReads(pool)
        assert await reads.find(uuid.uuid4(), 1) is None  # a first read lets asyncpg introspect the statement once
        async with pool.acquire() as conn:
            conn.add_query_logger(lambda q: queries.append(q.query))
        # a claimed batch of resumed waits: each node asks for its own, on the same turn
        found = await asyncio.gather(*(reads.find(ex.id, 1) for ex in executions), reads.find(uuid.uuid4(), 1))
    finally:
        await pool.close()
    assert len(queries) == 1, [q[:60] for q in queries]
    *waits, unknown = found
    assert unknown is None
    assert all(w is not None and not w.closed and w.event_id is None and not w.due for w in waits)
