"""Poll triggers: new rows of a table and new items at a URL start executions once each, whatever happens."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from conveyor.config import Settings
from conveyor.engine.worker import Worker
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.store import Pool
from testkit.poll import poll_until
from tests.integration.conftest import ApiClient, flow, run_flow, running_worker, wait_until_ended

NOOP = flow({"id": "a", "type": "action", "action": "noop"})


async def create_trigger(api: ApiClient, definition: JSONObject) -> JSONObject:
    response = await api.post("/workflows", json={**NOOP, "name": f"wf-{uuid.uuid4().hex[:8]}"})
    workflow = await response.json()
    response = await api.post(f"/workflows/{workflow['id']}/triggers", json=definition)
    body: JSONObject = await response.json()
    assert response.status == 201, body
    return body


async def refused(api: ApiClient, definition: JSONObject) -> JSONObject:
    response = await api.post("/workflows", json={**NOOP, "name": f"wf-{uuid.uuid4().hex[:8]}"})
    workflow = await response.json()
    response = await api.post(f"/workflows/{workflow['id']}/triggers", json=definition)
    body: JSONObject = await response.json()
    assert response.status == 422, body
    error: JSONObject = body["error"]
    return error


async def inputs(db: Pool, trigger_id: str) -> list[JSONValue]:
    async with db.acquire() as conn:
        rows = await conn.fetch(
            "SELECT input FROM executions WHERE trigger_id = $1 ORDER BY input->>'id'", uuid.UUID(trigger_id)
        )
    return [r["input"] for r in rows]


async def count_executions(db: Pool, trigger_id: str, expected: int) -> bool:
    return len(await inputs(db, trigger_id)) == expected


async def shown(api: ApiClient, trigger_id: str) -> JSONObject:
    body: JSONObject = await (await api.get(f"/triggers/{trigger_id}")).json()
    return body


@pytest.fixture
async def subscriptions(db: Pool) -> str:
    """A fresh application table, the shape of the onboarding use case."""
    name = f"subs_{uuid.uuid4().hex[:8]}"
    async with db.acquire() as conn:
        await conn.execute(
            f"CREATE TABLE {name} (id bigserial PRIMARY KEY, email text NOT NULL, product text NOT NULL,"
            " created_at timestamptz NOT NULL DEFAULT '2026-01-01T00:00:00Z', doc json)"
        )
        await conn.execute(f"GRANT SELECT ON {name} TO conveyor_poll")
    return name


async def insert(db: Pool, table: str, *products: str) -> None:
    async with db.acquire() as conn:
        await conn.executemany(
            f"INSERT INTO {table} (email, product) VALUES ($1, $2)",
            [(f"user{i}@example.com", p) for i, p in enumerate(products)],
        )


async def test_rows_of_a_table_start_one_execution_each_and_a_restart_replays_none(
    api: ApiClient, db: Pool, database_url: str, settings: Settings, subscriptions: str
) -> None:
    await insert(db, subscriptions, "old")
    created = await create_trigger(
        api, {"type": "poll", "table": subscriptions, "cursor": "id", "interval": "1s", "batch": 2}
    )
    async with running_worker(db, database_url, settings):
        await insert(db, subscriptions, "united", "podcast", "newsletter")
        await poll_until(lambda: count_executions(db, created["id"], 3), "three rows to start three executions")
    assert [i["product"] for i in await inputs(db, created["id"])] == ["united", "podcast", "newsletter"]
    await insert(db, subscriptions, "united")
    async with running_worker(db, database_url, settings):  # a restart: no old row again, the new one once
        await poll_until(lambda: count_executions(db, created["id"], 4), "the row added while stopped")
        await insert(db, subscriptions, "podcast")
        await poll_until(lambda: count_executions(db, created["id"], 5), "the row added after the restart")
    ids = [i["id"] for i in await inputs(db, created["id"])]
    assert sorted(ids) == sorted(set(ids))
    assert (await shown(api, created["id"]))["status"] == "ok"


async def test_start_all_takes_the_rows_already_there(
    api: ApiClient, db: Pool, worker: Worker, subscriptions: str
) -> None:
    await insert(db, subscriptions, "a", "b")
    created = await create_trigger(
        api, {"type": "poll", "table": subscriptions, "cursor": "id", "interval": "1s", "start": "all"}
    )
    await poll_until(lambda: count_executions(db, created["id"], 2), "both existing rows")


async def test_a_cursor_whose_values_repeat_loses_no_row_at_a_batch_edge(
    api: ApiClient, db: Pool, worker: Worker, subscriptions: str
) -> None:
    created = await create_trigger(
        api,
        {"type": "poll", "table": subscriptions, "cursor": "created_at", "interval": "1s", "batch": 2},
    )
    await insert(db, subscriptions, *[f"p{i}" for i in range(7)])  # every row has the same created_at
    await poll_until(lambda: count_executions(db, created["id"], 7), "all seven rows sharing one cursor value")
    assert sorted(i["product"] for i in await inputs(db, created["id"])) == [f"p{i}" for i in range(7)]


async def test_the_filter_picks_the_rows_of_one_product(
    api: ApiClient, db: Pool, worker: Worker, subscriptions: str
) -> None:
    created = await create_trigger(
        api,
        {
            "type": "poll",
            "table": subscriptions,
            "cursor": "id",
            "interval": "1s",
            "filter": {"==": [{"var": "product"}, "united"]},
        },
    )
    await insert(db, subscriptions, "united", "podcast", "united")
    await poll_until(lambda: _rows(api, created["id"], started=2, filtered=1), "two rows started and one filtered out")


async def _rows(api: ApiClient, trigger_id: str, **expected: int) -> bool:
    rows: dict[str, int] = (await shown(api, trigger_id))["rows"]
    return all(rows[k] == v for k, v in expected.items())


@pytest.mark.parametrize(
    ("definition", "field"),
    [
        ({"table": "subs; DROP TABLE executions", "cursor": "id"}, "/table"),
        ({"table": 'subs"--', "cursor": "id"}, "/table"),
        ({"table": "pg_catalog.pg_authid", "cursor": "oid"}, "/table"),
        ({"table": "{table}", "cursor": "id) OR (1=1"}, "/cursor"),
        ({"table": "{table}", "cursor": "doc"}, "/cursor"),
        ({"table": "{table}", "cursor": "nothing"}, "/cursor"),
        ({"table": "no_such_table", "cursor": "id"}, "/table"),
        ({"table": "executions", "cursor": "id"}, "/table"),
        ({"table": "public.trigger_events", "cursor": "id"}, "/table"),
    ],
)
async def test_a_table_or_cursor_that_cannot_be_polled_safely_is_refused(
    api: ApiClient, db: Pool, subscriptions: str, definition: JSONObject, field: str
) -> None:
    table = str(definition["table"]).replace("{table}", subscriptions)
    error = await refused(api, {"type": "poll", "interval": "1s", **definition, "table": table})
    assert error["details"]["field"] == field
    async with db.acquire() as conn:  # nothing was dropped or read
        assert await conn.fetchval("SELECT to_regclass('executions') IS NOT NULL")
        assert await conn.fetchval(f"SELECT count(*) FROM {subscriptions}") == 0


async def test_a_table_that_disappears_puts_the_trigger_in_error_and_the_worker_goes_on(
    api: ApiClient, db: Pool, worker: Worker, subscriptions: str
) -> None:
    created = await create_trigger(api, {"type": "poll", "table": subscriptions, "cursor": "id", "interval": "1s"})
    async with db.acquire() as conn:
        await conn.execute(f"DROP TABLE {subscriptions}")

    async def in_error() -> bool:
        status: str = (await shown(api, created["id"]))["status"]
        return status == "error"

    await poll_until(in_error, "the trigger to show its error")
    body = await shown(api, created["id"])
    assert "does not exist" in body["last_error"]
    assert body["error_since"] is not None
    ex = await run_flow(db, flow({"id": "a", "type": "action", "action": "noop"}))
    assert (await wait_until_ended(db, ex.id)).state == "completed"


@dataclass
class Feed:
    """A JSON list served on 127.0.0.1 with an ETag, whose items and status a test changes."""

    items: list[JSONObject] = field(default_factory=list)
    status: int = 200
    url: str = ""
    requests: list[str | None] = field(default_factory=list)  # the If-None-Match each request sent

    def etag(self) -> str:
        return f'"{len(self.items)}"'


@pytest.fixture
async def feed(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> Feed:
    feed = Feed()

    async def serve(request: web.Request) -> web.Response:
        feed.requests.append(request.headers.get("If-None-Match"))
        if feed.status != 200:
            return web.json_response({"error": "down"}, status=feed.status)
        if request.headers.get("If-None-Match") == feed.etag():
            return web.Response(status=304)
        return web.json_response({"data": feed.items}, headers={"ETag": feed.etag()})

    app = web.Application()
    app.router.add_get("/items", serve)
    server = await aiohttp_server(app, host="127.0.0.1")
    feed.url = str(server.make_url("/items"))
    return feed


async def test_new_items_at_a_url_start_once_and_an_unchanged_list_costs_a_304(
    api: ApiClient, db: Pool, worker: Worker, feed: Feed
) -> None:
    feed.items = [{"id": 1, "email": "a@example.com"}, {"id": 2, "email": "b@example.com"}]
    created = await create_trigger(
        api, {"type": "poll", "url": feed.url, "items": "data", "key": "id", "interval": "1s"}
    )
    await poll_until(lambda: count_executions(db, created["id"], 2), "both items")
    await poll_until(lambda: feed.requests[-1:] == ['"2"'], "a poll that sends the ETag back")
    feed.items = [{"id": 3, "email": "c@example.com"}, *feed.items]
    await poll_until(lambda: count_executions(db, created["id"], 3), "the new item only")
    assert (await shown(api, created["id"]))["cursor"]["seen"] == ["1", "2", "3"]


async def test_a_failing_url_shows_its_error_backs_off_and_recovers(
    api: ApiClient, db: Pool, worker: Worker, feed: Feed
) -> None:
    feed.status = 500
    created = await create_trigger(
        api, {"type": "poll", "url": feed.url, "items": "data", "key": "id", "interval": "1s"}
    )

    async def status(expected: str) -> bool:
        current: str = (await shown(api, created["id"]))["status"]
        return current == expected

    await poll_until(lambda: status("error"), "the failing URL to show as an error")
    assert "HTTP 500" in (await shown(api, created["id"]))["last_error"]
    feed.status, feed.items = 200, [{"id": "x"}]
    await poll_until(lambda: status("ok"), "the URL to recover", timeout_seconds=30)
    await poll_until(lambda: count_executions(db, created["id"], 1), "the item after recovery")


@pytest.mark.parametrize(
    "url", ["http://10.1.2.3/items", "http://169.254.169.254/latest", "http://[::ffff:127.0.0.2]/", "http://0x7f.1/x"]
)
async def test_a_url_the_guard_refuses_is_a_422_at_save_naming_the_url(api: ApiClient, url: str) -> None:
    definition: JSONObject = {"type": "poll", "url": url, "items": "data", "key": "id", "interval": "1s"}
    error = await refused(api, definition)
    assert error["details"] == {"field": "/url", "value": url}
    assert "not allowed" in error["message"]


async def _started(db: Pool, trigger_id: str, emails: set[str]) -> bool:
    return {i["email"] for i in await inputs(db, trigger_id)} >= emails


@pytest.mark.parametrize(
    ("cursor", "write_first"),
    [("id", True), ("created_at", True), ("created_at", False), ("stamped", True)],
    ids=["sequence", "now", "now-taken-before-the-first-write", "clock_timestamp"],
)
async def test_a_row_committed_after_the_cursor_passed_its_value_is_taken_once(
    api: ApiClient, db: Pool, worker: Worker, cursor: str, write_first: bool
) -> None:
    # The case: A takes a low value and holds its transaction open, B takes a higher one and commits, the
    # poll takes B's row and moves past A's value; A then commits. A's row must start once, and B's before that.
    table = f"t_{uuid.uuid4().hex[:8]}"
    async with db.acquire() as conn:
        await conn.execute(
            f"CREATE TABLE {table} (id bigserial PRIMARY KEY, email text NOT NULL,"
            " created_at timestamptz NOT NULL DEFAULT now(), stamped timestamptz NOT NULL DEFAULT clock_timestamp());"
            f" CREATE INDEX ON {table} (created_at, id); CREATE INDEX ON {table} (stamped, id);"
            f" GRANT SELECT ON {table} TO conveyor_poll"
        )
    created = await create_trigger(api, {"type": "poll", "table": table, "cursor": cursor, "interval": "1s"})
    async with db.acquire() as a, db.acquire() as b:
        holding = a.transaction()
        await holding.start()
        if write_first:
            await a.execute(f"INSERT INTO {table} (email) VALUES ('a@example.com')")
        else:  # now() is the transaction's start; the transaction has no id until it writes
            await a.fetchval("SELECT now()")
        await b.execute(f"INSERT INTO {table} (email) VALUES ('b@example.com')")
        await poll_until(lambda: _started(db, created["id"], {"b@example.com"}), "B's row while A is open")
        if not write_first:
            await a.execute(f"INSERT INTO {table} (email) VALUES ('a@example.com')")
        await b.execute(f"INSERT INTO {table} (email) VALUES ('c@example.com')")
        await poll_until(lambda: _started(db, created["id"], {"c@example.com"}), "rows after A's are not held up")
        assert (await shown(api, created["id"]))["held_seconds"] > 0
        await holding.commit()
    await poll_until(lambda: _started(db, created["id"], {"a@example.com"}), "A's row once A commits")
    await poll_until(lambda: _rows(api, created["id"], started=3), "three rows started", timeout_seconds=10)
    assert sorted(i["email"] for i in await inputs(db, created["id"])) == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
    ]


async def _write_in_random_transactions(db: Pool, table: str, writer: int, rows: int, seed: int) -> None:
    """Insert `rows` rows in transactions of random size and length, some idle before their first write."""
    rng = random.Random(seed)
    done = 0
    async with db.acquire() as conn:
        while done < rows:
            size = min(rows - done, rng.randint(1, 40))
            async with conn.transaction():
                await conn.fetchval("SELECT now()")
                if rng.random() < 0.5:
                    await asyncio.sleep(rng.uniform(0, 0.3))
                await conn.executemany(
                    f"INSERT INTO {table} (email) VALUES ($1)",
                    [(f"w{writer}-{done + i}@example.com",) for i in range(size)],
                )
                await asyncio.sleep(rng.uniform(0, 0.3) if rng.random() < 0.95 else rng.uniform(1, 3))
            done += size


async def _started_rows(db: Pool, trigger_id: str) -> int:
    async with db.acquire() as conn:
        n: int = await conn.fetchval(
            "SELECT count(*) FROM trigger_events WHERE trigger_id = $1 AND outcome = 'started'", uuid.UUID(trigger_id)
        )
    return n


@pytest.mark.parametrize("cursor", ["id", "created_at"])
async def test_concurrent_writers_with_random_transaction_lengths_start_every_row_exactly_once(
    api: ApiClient, db: Pool, worker: Worker, cursor: str
) -> None:
    table = f"w_{uuid.uuid4().hex[:8]}"
    async with db.acquire() as conn:
        await conn.execute(
            f"CREATE TABLE {table} (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE,"
            f" created_at timestamptz NOT NULL DEFAULT now()); CREATE INDEX ON {table} (created_at, id);"
            f" GRANT SELECT ON {table} TO conveyor_poll"
        )
    created = await create_trigger(
        api, {"type": "poll", "table": table, "cursor": cursor, "interval": "1s", "batch": 500}
    )
    writers, total = 8, 10_000
    await asyncio.gather(
        *(_write_in_random_transactions(db, table, w, total // writers, seed=w) for w in range(writers))
    )

    async def all_started() -> bool:
        return await _started_rows(db, created["id"]) == total

    await poll_until(all_started, "every row started", timeout_seconds=120)
    async with db.acquire() as conn:
        started = await conn.fetch(
            "SELECT input->>'email' AS email, count(*) AS n FROM executions WHERE trigger_id = $1 GROUP BY 1",
            uuid.UUID(created["id"]),
        )
        assert await conn.fetchval(f"SELECT count(*) FROM {table}") == total
    assert len(started) == total
    assert all(r["n"] == 1 for r in started)
