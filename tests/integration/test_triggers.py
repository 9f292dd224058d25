"""Triggers: each kind, filters, dedupe, signatures, schedules and catch-up, the inbox stage and its cost."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import io
import time
import uuid
from collections.abc import Awaitable
from datetime import datetime

import pytest

from conveyor.commands.operations import create_workflow, start_execution
from conveyor.config import Settings
from conveyor.db import create_pool
from conveyor.engine.clock_triggers import fire_due_triggers
from conveyor.engine.inbox import consume_inbox
from conveyor.engine.trigger_cache import TriggerCache
from conveyor.engine.worker import Worker
from conveyor.jsonvalue import JSONObject
from conveyor.store import Pool
from conveyor.store.schema import apply_schema
from testkit.peers import WebhookPeer
from testkit.poll import poll_until
from tests.integration.conftest import JSON, ApiClient, flow, running_worker

NOOP = flow({"id": "a", "type": "action", "action": "noop"})


async def workflow(api: ApiClient) -> str:
    response = await api.post("/workflows", json={**NOOP, "name": f"wf-{uuid.uuid4().hex[:8]}"})
    assert response.status == 201
    return str((await response.json())["id"])


async def trigger(api: ApiClient, definition: JSONObject, workflow_id: str | None = None) -> JSONObject:
    response = await api.post(f"/workflows/{workflow_id or await workflow(api)}/triggers", json=definition)
    body = await response.json()
    assert response.status == 201, body
    return dict(body)


async def outcomes(db: Pool) -> list[tuple[str, str | None]]:
    async with db.acquire() as conn:
        rows = await conn.fetch("SELECT outcome, reason FROM trigger_events WHERE outcome <> 'routed' ORDER BY id")
    return [(r["outcome"], r["reason"]) for r in rows]


async def executions_of(db: Pool, trigger_id: str) -> int:
    async with db.acquire() as conn:
        n: int = await conn.fetchval("SELECT count(*) FROM executions WHERE trigger_id = $1", uuid.UUID(trigger_id))
    return n


def sign(secret: str, body: bytes, delivery: str = "", at: int | None = None) -> str:
    """X-Conveyor-Signature for a v1-signed delivery (tests/integration/test_forged_hooks.py tries the forgeries)."""
    t = str(at if at is not None else int(time.time()))
    return f"t={t},v1=" + hmac.new(secret.encode(), f"{t}\n{delivery}\n".encode() + body, hashlib.sha256).hexdigest()


async def test_each_kind_is_created_and_shown_with_its_health(api: ApiClient, db: Pool) -> None:
    async with db.acquire() as conn:
        await conn.execute("CREATE TABLE IF NOT EXISTS subscriptions (id bigserial PRIMARY KEY, email text)")
        await conn.execute("GRANT SELECT ON subscriptions TO conveyor_poll")
    wf = await workflow(api)
    kinds: list[JSONObject] = [
        {"type": "manual"},
        {"type": "event", "event": "subscription.created"},
        {"type": "webhook", "path": "signup/v1", "secret": "s3cret-s3cret"},
        {"type": "schedule", "cron": "0 9 * * MON", "timezone": "Europe/Berlin", "input": {"a": 1}},
        {"type": "poll", "table": "subscriptions", "cursor": "id", "interval": "30s"},
        {"type": "poll", "url": "https://example.com/items", "items": "data", "key": "id", "interval": "5m"},
    ]
    for definition in kinds:
        created = await trigger(api, definition, wf)
        assert created["status"] == "ok"
        assert created["pending"] == 0
        assert created["rows"] == {"started": 0, "filtered": 0, "error": 0}
        assert "secret" not in created["definition"]
    listed = await (await api.get(f"/triggers?workflow={wf}&limit=4")).json()
    assert len(listed["items"]) == 4
    rest = await (await api.get(f"/triggers?workflow={wf}&cursor={listed['next_cursor']}")).json()
    assert [t["definition"]["type"] for t in listed["items"] + rest["items"]] == [k["type"] for k in kinds]
    assert rest["next_cursor"] is None


async def test_a_schedule_shows_its_next_run_in_its_time_zone(api: ApiClient) -> None:
    created = await trigger(api, {"type": "schedule", "cron": "0 9 * * *", "timezone": "America/New_York"})
    local = datetime.fromisoformat(created["next_run_local"])
    assert (local.hour, local.minute) == (9, 0)
    assert local.utcoffset() is not None
    assert local == datetime.fromisoformat(created["next_run_at"])


async def test_dst_preview_fires_a_skipped_time_at_the_gap_end_and_a_repeated_one_once(api: ApiClient) -> None:
    created = await trigger(api, {"type": "schedule", "cron": "30 2 * * *", "timezone": "Europe/Berlin"})
    response = await api.get(f"/triggers/{created['id']}/preview?count=400")
    items = (await response.json())["items"]
    assert len(items) == 400
    local = [datetime.fromisoformat(i["local"]) for i in items]
    spring = [t for t in local if t.month == 3 and t.day >= 25 and t.weekday() == 6 and t.hour == 3]
    assert [t.isoformat()[11:] for t in spring] == ["03:00:00+02:00"]
    fall = [t for t in local if t.month == 10 and t.day >= 25 and t.weekday() == 6]
    assert [t.isoformat()[11:] for t in fall] == ["02:30:00+02:00"]
    too_many = await api.get(f"/triggers/{created['id']}/preview?count=501")
    assert too_many.status == 422


async def test_the_same_event_twice_starts_one_execution(api: ApiClient, db: Pool, worker: Worker) -> None:
    created = await trigger(api, {"type": "event", "event": "user.signed_up"})
    body = {"type": "user.signed_up", "payload": {"email": "ada@example.com"}, "dedupe_key": "u-1"}
    first = await api.post("/events", json=body)
    second = await api.post("/events", json=body)
    assert first.status == second.status == 202
    assert (await first.json())["ids"] == (await second.json())["ids"]
    await poll_until(lambda: _equals(executions_of(db, created["id"]), 1), "one execution of the trigger")
    async with db.acquire() as conn:
        assert await conn.fetchval("SELECT input FROM executions") == {"email": "ada@example.com"}


async def _equals(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


async def test_a_filter_written_as_a_group_of_conditions_starts_only_the_rows_it_accepts(
    api: ApiClient, db: Pool
) -> None:
    # The shape form builders produce: compiled to the same JSON Logic evaluator as any filter.
    group = {
        "combinator": "or",
        "conditions": [
            {"field": "plan", "operator": "equals", "value": "pro"},
            {
                "combinator": "and",
                "conditions": [
                    {"field": "email", "operator": "ends_with", "value": "@example.com"},
                    {"field": "seats", "operator": "gte", "value": 10},
                ],
            },
        ],
    }
    created = await trigger(api, {"type": "event", "event": "sub", "filter": group})
    assert created["definition"]["filter"] == group
    payloads = [
        {"plan": "pro"},
        {"plan": "free", "email": "a@example.com", "seats": 12},
        {"plan": "free", "email": "a@example.com", "seats": 2},
        {"plan": "free", "email": "a@example.org", "seats": 50},
    ]
    for payload in payloads:
        await api.post("/events", json={"type": "sub", "payload": payload})
    assert await consume_inbox(db, TriggerCache(), 100) == 4
    assert [o for o, _ in await outcomes(db)] == ["started", "started", "filtered", "filtered"]


async def test_filters_start_filter_or_fail_each_row_without_blocking_the_rest(api: ApiClient, db: Pool) -> None:
    created = await trigger(api, {"type": "event", "event": "sub", "filter": {"==": [{"+": [{"var": "n"}, 1]}, 2]}})
    for n in (1, 5, "x", 1):
        await api.post("/events", json={"type": "sub", "payload": {"n": n}})
    assert await consume_inbox(db, TriggerCache(), 100) == 4
    found = await outcomes(db)
    assert [o for o, _ in found] == ["started", "filtered", "error", "started"]
    assert found[2][1] is not None
    shown = await (await api.get(f"/triggers/{created['id']}")).json()
    assert shown["rows"] == {"started": 2, "filtered": 1, "error": 1}
    assert shown["status"] == "ok"  # the latest row started
    assert shown["last_error"] == found[2][1]
    assert shown["last_fired_at"] is not None


async def test_a_trigger_whose_rows_fail_shows_error_until_one_succeeds(api: ApiClient, db: Pool) -> None:
    created = await trigger(api, {"type": "event", "event": "e", "filter": {"+": [{"var": "n"}, 1]}})
    await api.post("/events", json={"type": "e", "payload": {"n": "x"}})
    await consume_inbox(db, TriggerCache(), 100)
    shown = await (await api.get(f"/triggers/{created['id']}")).json()
    assert shown["status"] == "error"
    assert shown["error_since"] is not None
    await api.post("/events", json={"type": "e", "payload": {"n": 1}})
    await consume_inbox(db, TriggerCache(), 100)
    shown = await (await api.get(f"/triggers/{created['id']}")).json()
    assert (shown["status"], shown["error_since"]) == ("ok", None)


async def test_rows_of_a_disabled_or_deleted_trigger_are_consumed_as_disabled(api: ApiClient, db: Pool) -> None:
    kept = await trigger(api, {"type": "webhook", "path": "kept"})
    gone = await trigger(api, {"type": "webhook", "path": "gone"})
    assert (await api.post("/hooks/kept", json={"a": 1})).status == 202
    assert (await api.post("/hooks/gone", json={"a": 1})).status == 202
    disabled = await (await api.post(f"/triggers/{kept['id']}/disable")).json()
    assert (disabled["status"], disabled["enabled"], disabled["pending"]) == ("disabled", False, 1)
    assert (await api.delete(f"/triggers/{gone['id']}")).status == 204
    assert (await api.post("/hooks/kept", json={"a": 2})).status == 404
    await consume_inbox(db, TriggerCache(), 100)
    assert [o for o, _ in await outcomes(db)] == ["disabled", "disabled"]
    assert await executions_of(db, kept["id"]) == 0


async def test_a_bad_signature_is_401_and_stores_nothing(api: ApiClient, db: Pool) -> None:
    await trigger(api, {"type": "webhook", "path": "signed", "secret": "0123456789abcdef"})
    body = b'{"email": "ada@example.com"}'
    for headers in ({}, {"X-Conveyor-Signature": "sha256=00"}, {"X-Conveyor-Signature": sign("wrong-secret", body)}):
        response = await api.post("/hooks/signed", data=body, headers=headers | JSON)
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "invalid_signature"
    async with db.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM trigger_events") == 0


async def test_a_signed_webhook_starts_one_execution_and_its_retry_nothing_more(
    api: ApiClient, db: Pool, worker: Worker
) -> None:
    secret = "0123456789abcdef"
    created = await trigger(api, {"type": "webhook", "path": "signed", "secret": secret})
    body = b'{"email": "ada@example.com"}'
    headers = {"X-Conveyor-Signature": sign(secret, body, "d-1"), "X-Conveyor-Delivery": "d-1"} | JSON
    first = await api.post("/hooks/signed", data=body, headers=headers)
    assert first.status == 202
    await poll_until(lambda: _equals(executions_of(db, created["id"]), 1), "one execution of the trigger")
    retry = await api.post("/hooks/signed", data=body, headers=headers)
    assert retry.status == 202
    assert (await retry.json()) == {"id": (await first.json())["id"], "duplicate": True}
    async with db.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM trigger_events WHERE consumed_at IS NULL") == 0
    assert await executions_of(db, created["id"]) == 1


async def test_a_webhook_past_its_rate_limit_is_429_with_retry_after(api: ApiClient) -> None:
    await trigger(api, {"type": "webhook", "path": "slow", "rate_limit": {"requests": 2, "per": "1h"}})
    assert [(await api.post("/hooks/slow", json={})).status for _ in range(2)] == [202, 202]
    limited = await api.post("/hooks/slow", json={})
    assert limited.status == 429
    assert int(limited.headers["Retry-After"]) > 0


async def test_a_webhook_body_over_the_limit_is_413(api: ApiClient) -> None:
    await trigger(api, {"type": "webhook", "path": "big"})
    response = await api.post(
        "/hooks/big", data=io.BytesIO(b'{"a": "' + b"x" * (2 * 1024 * 1024) + b'"}'), headers=JSON
    )
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "body_too_large"


async def test_a_due_schedule_fires_through_the_worker(api: ApiClient, db: Pool, worker: Worker) -> None:
    created = await trigger(api, {"type": "schedule", "cron": "* * * * *", "input": {"from": "cron"}})
    async with db.acquire() as conn:
        tick = await conn.fetchval(
            "UPDATE triggers SET next_run_at = date_trunc('minute', now()) WHERE id = $1 RETURNING next_run_at",
            uuid.UUID(created["id"]),
        )
    worker.wake()
    await poll_until(lambda: _equals(executions_of(db, created["id"]), 1), "one execution of the trigger")
    shown = await (await api.get(f"/triggers/{created['id']}")).json()
    assert datetime.fromisoformat(shown["next_run_at"]) > tick
    assert shown["last_fired_at"] is not None
    async with db.acquire() as conn:
        assert await conn.fetchval("SELECT input FROM executions") == {"from": "cron"}
        key = await conn.fetchval("SELECT dedupe_key FROM trigger_events")
    assert key.startswith(f"schedule:{created['id']}:")


async def test_the_worker_timer_wakes_for_the_nearest_next_run(api: ApiClient, db: Pool, worker: Worker) -> None:
    created = await trigger(api, {"type": "schedule", "cron": "* * * * *"})
    async with db.acquire() as conn, conn.transaction():
        # not a tick, so nothing fires: the trigger just moves on to its next tick, which shows the stage ran
        soon = await conn.fetchval(
            "UPDATE triggers SET next_run_at = now() + interval '300 milliseconds' WHERE id = $1 RETURNING next_run_at",
            uuid.UUID(created["id"]),
        )
        await conn.execute("SELECT pg_notify('conveyor_wake', '')")  # as the API does on every trigger change

    async def moved_on() -> bool:
        async with db.acquire() as conn:
            return bool(await conn.fetchval("SELECT next_run_at > $1 FROM triggers", soon))

    await poll_until(
        moved_on, "the schedule to fire and move on", timeout_seconds=3.0
    )  # the poll interval is 30 s: only the timer can explain this


@pytest.mark.parametrize(("catch_up", "fired"), [("latest", 1), ("all", 3)])
async def test_catch_up_after_downtime_fires_per_policy_and_counts_the_skipped(
    api: ApiClient, db: Pool, catch_up: str, fired: int
) -> None:
    created = await trigger(api, {"type": "schedule", "cron": "*/5 * * * *", "catch_up": catch_up, "max_catch_up": 3})
    async with db.acquire() as conn:
        await conn.execute(
            "UPDATE triggers SET next_run_at = date_bin('5 minutes', now() - interval '1 hour', 'epoch') WHERE id = $1",
            uuid.UUID(created["id"]),
        )
    assert await fire_due_triggers(db, TriggerCache(), 100) == 1
    assert await fire_due_triggers(db, TriggerCache(), 100) == 0  # advanced: not due again
    async with db.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM trigger_events") == fired
    shown = await (await api.get(f"/triggers/{created['id']}")).json()
    assert shown["skipped"] + fired in (13, 12)  # the ticks from an hour ago up to now
    assert shown["pending"] == fired
    assert datetime.fromisoformat(shown["next_run_at"]) > datetime.fromisoformat(created["created_at"])


async def test_an_applications_insert_starts_executions_at_once_for_every_event_trigger(
    api: ApiClient, db: Pool, worker: Worker
) -> None:
    wf = await workflow(api)
    one = await trigger(api, {"type": "event", "event": "order.paid"}, wf)
    two = await trigger(api, {"type": "event", "event": "order.paid", "filter": {"var": "big"}}, wf)
    started = asyncio.get_running_loop().time()
    async with db.acquire() as conn:
        await conn.execute(
            "INSERT INTO trigger_events (type, payload, dedupe_key) VALUES ($1, $2, $3)",
            "order.paid",
            {"order": 7},
            "order-7",
        )
    await poll_until(
        lambda: _equals(executions_of(db, one["id"]), 1), "the raw row to start one execution", timeout_seconds=1.0
    )
    assert asyncio.get_running_loop().time() - started < 1.0
    async with db.acquire() as conn:
        rows = await conn.fetch("SELECT trigger_id, outcome FROM trigger_events ORDER BY id")
    assert (rows[0]["trigger_id"], rows[0]["outcome"]) == (None, "routed")
    assert {(r["trigger_id"], r["outcome"]) for r in rows[1:]} == {
        (uuid.UUID(one["id"]), "started"),
        (uuid.UUID(two["id"]), "filtered"),
    }


async def test_ten_thousand_rows_are_consumed_in_two_statements(api: ApiClient, database_url: str) -> None:
    created = await trigger(api, {"type": "event", "event": "bulk", "filter": {"<": [{"var": "n"}, 5000]}})
    logged: list[str] = []
    insert = (
        "INSERT INTO trigger_events (trigger_id, type, payload) "
        "SELECT $1, 'bulk', jsonb_build_object('n', n) FROM generate_series($2::int, $3) n"
    )
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        # a first batch on the connection lets asyncpg introspect the statements' types, once
        async with pool.acquire() as conn:
            await conn.execute(insert, uuid.UUID(created["id"]), 10_000, 10_000)
        assert await consume_inbox(pool, TriggerCache(), 10) == 1
        async with pool.acquire() as conn:
            await conn.execute(insert, uuid.UUID(created["id"]), 0, 9999)
            conn.add_query_logger(lambda q: logged.append(q.query))
        assert await consume_inbox(pool, TriggerCache(), 10_000) == 10_000
        batch = list(logged)
        async with pool.acquire() as conn:
            rows = await conn.fetch("SELECT outcome, count(*) AS n FROM trigger_events GROUP BY outcome")
            counts = {r["outcome"]: r["n"] for r in rows}
            assert await conn.fetchval("SELECT count(*) FROM executions") == 5000
    finally:
        await pool.close()
    assert counts == {"started": 5000, "filtered": 5001}
    statements = [q for q in batch if q.strip().upper() not in ("BEGIN;", "BEGIN", "COMMIT;", "COMMIT")]
    assert len(statements) == 2, [q[:60] for q in batch]
    assert len(batch) == 4  # with BEGIN and COMMIT


@pytest.mark.parametrize(
    ("definition", "pointer"),
    [
        ({"type": "teleport"}, "/type"),
        ({"type": "poll"}, "/type"),
        ({"type": "schedule", "cron": "61 * * * *"}, "/cron"),
        ({"type": "schedule", "cron": "* * * * *", "timezone": "Mars/Olympus"}, "/timezone"),
        ({"type": "schedule", "cron": "* * * * *", "max_catch_up": 10**30}, "/max_catch_up"),
        ({"type": "poll", "table": "users; DROP TABLE users", "cursor": "id", "interval": "1m"}, "/table"),
        ({"type": "poll", "table": "users", "cursor": 'id" OR 1=1', "interval": "1m"}, "/cursor"),
        ({"type": "poll", "url": "file:///etc/passwd", "key": "id", "interval": "1m"}, "/url"),
        ({"type": "poll", "url": "https://x.example", "key": "id", "interval": "0s"}, "/interval"),
        ({"type": "webhook", "path": "../admin"}, "/path"),
        ({"type": "webhook", "path": "héllo"}, "/path"),
        ({"type": "event", "event": "e", "filter": {"nosuchop": [1]}}, "/filter"),
        ({"type": "event", "event": 5}, "/event"),
        ({"type": "manual", "surprise": True}, "/surprise"),
    ],
)
async def test_bad_triggers_are_422_naming_the_field(api: ApiClient, definition: JSONObject, pointer: str) -> None:
    response = await api.post(f"/workflows/{await workflow(api)}/triggers", json=definition)
    assert response.status == 422
    error = (await response.json())["error"]
    assert (error["code"], error["details"]["field"]) == ("invalid_trigger", pointer)


async def test_hostile_requests_get_json_errors_never_a_500(api: ApiClient) -> None:
    wf = await workflow(api)
    await trigger(api, {"type": "webhook", "path": "h", "secret": "0123456789abcdef"}, wf)
    requests: list[tuple[str, str, bytes | str, dict[str, str]]] = [
        ("POST", f"/workflows/{wf}/triggers", "{not json", {}),
        ("POST", f"/workflows/{wf}/triggers", '{"type": "event", "event": "a\\u0000b"}', {}),
        ("POST", f"/workflows/{wf}/triggers", "[1, 2]", {}),
        ("POST", "/workflows/nope/triggers", '{"type": "manual"}', {}),
        ("POST", "/events", '{"type": 5}', {}),
        ("POST", "/events", '{"type": "a", "payload": [1]}', {}),
        ("POST", "/events", '{"type": "a", "dedupe_key": "' + "k" * 600 + '"}', {}),
        ("POST", "/events", '{"type": "a", "payload": {"n": 1e999}}', {}),
        ("POST", "/hooks/a%00b", "{}", {}),
        ("POST", "/hooks/%E2%98%83/x", "{}", {}),
        ("POST", "/hooks/h", b"\xff\xfe", {"X-Conveyor-Signature": "sha256=\u00e9"}),
        ("POST", "/hooks/nowhere", "{}", {}),
        ("GET", "/triggers?workflow=not-a-uuid", "", {}),
        ("GET", "/triggers?cursor=!!!", "", {}),
        ("GET", "/triggers?limit=99999999999999999999", "", {}),
        ("GET", f"/triggers/{uuid.uuid4()}", "", {}),
        ("GET", "/triggers/not-a-uuid/preview?count=5", "", {}),
        ("PATCH", f"/triggers/{uuid.uuid4()}", '{"cron": "* * * * *"}', {}),
    ]
    for method, path, body, headers in requests:
        response = await api.request(method, path, data=body, headers=headers)
        assert 400 <= response.status < 500, (path, response.status)
        error = (await response.json())["error"]
        assert error["code"], path
        assert error["message"], path


async def test_patch_changes_a_trigger_as_a_new_version_and_is_validated(api: ApiClient) -> None:
    created = await trigger(api, {"type": "schedule", "cron": "0 9 * * *", "timezone": "UTC"})
    bad = await api.patch(f"/triggers/{created['id']}", json={"timezone": "Nowhere/City"})
    assert bad.status == 422
    assert (await bad.json())["error"]["details"]["field"] == "/timezone"
    good = await (await api.patch(f"/triggers/{created['id']}", json={"timezone": "Asia/Tokyo"})).json()
    assert good["version"] == 2
    assert good["definition"]["timezone"] == "Asia/Tokyo"
    assert datetime.fromisoformat(good["next_run_local"]).hour == 9
    not_schedule = await trigger(api, {"type": "manual"})
    assert (await api.get(f"/triggers/{not_schedule['id']}/preview")).status == 409


async def test_a_second_trigger_on_the_same_hook_path_is_409(api: ApiClient) -> None:
    await trigger(api, {"type": "webhook", "path": "same"})
    response = await api.post(f"/workflows/{await workflow(api)}/triggers", json={"type": "webhook", "path": "same"})
    assert response.status == 409
    assert (await response.json())["error"]["details"]["field"] == "/path"


async def test_metrics_show_trigger_rows_and_lag(api: ApiClient, db: Pool) -> None:
    created = await trigger(api, {"type": "event", "event": "m"})
    await api.post("/events", json={"type": "m"})
    text = await (await api.get("/metrics")).text()
    assert f'conveyor_trigger_lag_seconds{{trigger="{created["id"]}"}}' in text
    await consume_inbox(db, TriggerCache(), 100)
    text = await (await api.get("/metrics")).text()
    assert f'conveyor_trigger_rows_total{{outcome="started",trigger="{created["id"]}"}} 1.0' in text


async def test_the_schema_applies_twice_and_the_inbox_still_wakes_and_dedupes(api: ApiClient, db: Pool) -> None:
    await apply_schema(db)
    await apply_schema(db)
    created = await trigger(api, {"type": "event", "event": "again"})
    body = {"type": "again", "dedupe_key": "k"}
    assert (await (await api.post("/events", json=body)).json())["ids"] == (
        await (await api.post("/events", json=body)).json()
    )["ids"]
    async with db.acquire() as conn:
        triggers = await conn.fetchval("SELECT count(*) FROM pg_trigger WHERE tgname = 'trigger_events_notify'")
        rows = await conn.fetchval(
            "SELECT count(*) FROM trigger_events WHERE trigger_id = $1", uuid.UUID(created["id"])
        )
    assert (triggers, rows) == (1, 1)


async def test_a_schedule_fires_on_time_while_every_slot_of_the_worker_is_busy(
    api: ApiClient, db: Pool, database_url: str, settings: Settings, webhook_peer: WebhookPeer
) -> None:
    webhook_peer.hold()
    busy = await create_workflow(db, flow({"id": "call", "type": "webhook", "url": webhook_peer.url}))
    created = await trigger(api, {"type": "schedule", "cron": "* * * * *"})
    async with running_worker(db, database_url, dataclasses.replace(settings, concurrency=1)):
        await start_execution(db, str(busy.id), {})
        await webhook_peer.arrivals(1)  # the worker's one slot is taken until the peer answers
        async with db.acquire() as conn, conn.transaction():
            soon = await conn.fetchval(
                "UPDATE triggers SET next_run_at = now() + interval '300 milliseconds' WHERE id = $1"
                " RETURNING next_run_at",
                uuid.UUID(created["id"]),
            )
            await conn.execute("SELECT pg_notify('conveyor_wake', '')")  # as the API does on every trigger change

        async def moved_on() -> bool:
            async with db.acquire() as conn:
                return bool(await conn.fetchval("SELECT next_run_at > $1 FROM triggers", soon))

        # The poll interval is 30 s, and no execution of this worker ends meanwhile: only its feed's own
        # due time explains this.
        await poll_until(moved_on, "the schedule to fire and move on while the worker is busy", timeout_seconds=3.0)
        webhook_peer.release()
