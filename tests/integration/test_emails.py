"""GET /emails: filters, keyset pages newest first, an index for each filter; GET /emails/statistics."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote

import pytest

from conveyor.store import Pool
from conveyor.store.delivery import DeliveryStatus
from conveyor.store.emails import EmailFilter, OutgoingEmail, email_list_query, mark_email, reserve_email
from conveyor.store.templates import EmailContent
from tests.integration.conftest import ApiClient, flow, run_flow
from tests.pages import all_ids
from tests.plans import index_names_in_page_order


async def _send(db: Pool, execution_id: uuid.UUID, to: str, template: str, status: DeliveryStatus) -> uuid.UUID:
    email = OutgoingEmail(
        execution_id=execution_id,
        node="mail",
        idempotency_key=f"{execution_id}:mail:{uuid.uuid4()}",
        recipient=to,
        template=template,
        content=EmailContent("Hi", "Hello", None),
        transport="log",
    )
    async with db.acquire() as conn:
        row = await reserve_email(conn, email)
        if status != DeliveryStatus.SENDING:
            await mark_email(conn, row.id, status, "refused" if status == DeliveryStatus.FAILED else None)
    return row.id


async def _execution(db: Pool) -> uuid.UUID:
    return (await run_flow(db, flow({"id": "a", "type": "action", "action": "noop"}))).id


async def _ids(api: ApiClient, query: str, limit: int = 100) -> list[str]:
    return await all_ids(api, "/emails", query, limit)


async def test_pages_cover_every_email_once_newest_first(api: ApiClient, db: Pool) -> None:
    execution = await _execution(db)
    sent = [str(await _send(db, execution, f"u{i}@example.com", "welcome", DeliveryStatus.LOGGED)) for i in range(16)]
    assert await _ids(api, "", limit=5) == sent[::-1]
    first = await (await api.get("/emails?limit=5")).json()
    assert [e["to"] for e in first["items"]] == [f"u{i}@example.com" for i in range(15, 10, -1)]
    assert first["items"][0]["status"] == "logged"


async def test_filters_narrow_the_list(api: ApiClient, db: Pool) -> None:
    one, other = await _execution(db), await _execution(db)
    welcome = await _send(db, one, "ada@example.com", "welcome", DeliveryStatus.SENT)
    failed = await _send(db, one, "ada@example.com", "nudge", DeliveryStatus.FAILED)
    sending = await _send(db, other, "lin@example.com", "welcome", DeliveryStatus.SENDING)
    assert await _ids(api, f"execution={one}") == [str(failed), str(welcome)]
    assert await _ids(api, "status=failed") == [str(failed)]
    assert await _ids(api, "status=failed,sending") == [str(sending), str(failed)]
    assert await _ids(api, "template=welcome") == [str(sending), str(welcome)]
    assert await _ids(api, "to=lin@example.com") == [str(sending)]
    assert await _ids(api, "template=welcome&to=ada@example.com&status=sent") == [str(welcome)]
    async with db.acquire() as conn:
        created = await conn.fetchval("SELECT created_at FROM email_logs WHERE id = $1", failed)
    assert await _ids(api, f"created_after={quote(created.isoformat())}") == [str(sending)]
    assert await _ids(api, f"created_before={quote(created.isoformat())}") == [str(welcome)]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("execution=nope", "execution"),
        ("status=bogus", "status"),
        ("status=sent,,bogus", "status"),
        ("template=", "template"),
        ("created_after=yesterday", "created_after"),
        ("created_before=2030-01-01T00:00:00", "created_before"),  # no offset: which day is it?
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=1&limit=2", "limit"),
        ("cursor=abc", "cursor"),
    ],
)
async def test_bad_filters_are_422_naming_the_parameter(api: ApiClient, query: str, field: str) -> None:
    response = await api.get(f"/emails?{query}")
    assert response.status == 422, await response.text()
    assert (await response.json())["error"]["details"]["field"] == field


@pytest.mark.parametrize(
    ("chosen", "index"),
    [
        (EmailFilter(), "email_logs_created_idx"),
        (EmailFilter(execution_id=uuid.uuid4()), "email_logs_execution_page_idx"),
        (EmailFilter(statuses=("failed",)), "email_logs_status_idx"),
        (EmailFilter(template="welcome"), "email_logs_template_idx"),
        (EmailFilter(recipient="ada@example.com"), "email_logs_recipient_idx"),
    ],
)
async def test_each_filter_is_served_by_an_index_in_page_order(db: Pool, chosen: EmailFilter, index: str) -> None:
    sql, args = email_list_query(chosen, (datetime.now(UTC), uuid.uuid4()), 101)
    async with db.acquire() as conn, conn.transaction():
        # Tiny test tables make a scan cheapest: ask for the plan the planner picks at scale.
        await conn.execute("SET LOCAL enable_seqscan = off")
        await conn.execute("SET LOCAL enable_bitmapscan = off")
        await conn.execute("SET LOCAL enable_sort = off")
        plan = await conn.fetchval("EXPLAIN (FORMAT JSON) " + sql, *args)
    assert index in index_names_in_page_order(plan)


async def test_statistics_count_by_status_template_and_day_within_the_window(api: ApiClient, db: Pool) -> None:
    execution = await _execution(db)
    for status in (DeliveryStatus.SENT, DeliveryStatus.SENT, DeliveryStatus.FAILED):
        await _send(db, execution, "ada@example.com", "welcome", status)
    await _send(db, execution, "ada@example.com", "nudge", DeliveryStatus.LOGGED)
    yesterday = await _send(db, execution, "ada@example.com", "nudge", DeliveryStatus.SENT)
    too_old = await _send(db, execution, "ada@example.com", "nudge", DeliveryStatus.SENT)
    async with db.acquire() as conn:
        await conn.execute("UPDATE email_logs SET created_at = now() - interval '1 day' WHERE id = $1", yesterday)
        await conn.execute("UPDATE email_logs SET created_at = now() - interval '3 days' WHERE id = $1", too_old)
        today: date = await conn.fetchval("SELECT (now() AT TIME ZONE 'UTC')::date")
    response = await api.get("/emails/statistics?days=2")
    assert response.status == 200, await response.text()
    stats = await response.json()
    assert stats["counts"] == {"total": 5, "sent": 3, "logged": 1, "failed": 1, "sending": 0}
    assert {t["template"]: (t["total"], t["sent"]) for t in stats["by_template"]} == {
        "nudge": (2, 1),
        "welcome": (3, 2),
    }
    assert [(d["day"], d["total"]) for d in stats["by_day"]] == [
        ((today - timedelta(days=1)).isoformat(), 1),
        (today.isoformat(), 4),
    ]
    assert datetime.fromisoformat(stats["since"]) == datetime.combine(
        today - timedelta(days=1), datetime.min.time(), UTC
    )
    wider = await (await api.get("/emails/statistics")).json()
    assert (wider["days"], len(wider["by_day"]), wider["counts"]["total"]) == (30, 30, 6)


@pytest.mark.parametrize("days", ["0", "367", "x"])
async def test_statistics_window_is_bounded(api: ApiClient, days: str) -> None:
    response = await api.get(f"/emails/statistics?days={days}")
    assert response.status == 422
    assert (await response.json())["error"]["details"]["field"] == "days"
