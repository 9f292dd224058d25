"""Nothing is suppressed silently: every row a trigger received is listed with its outcome, and counted."""

from __future__ import annotations

import uuid

from conveyor.engine.inbox import consume_inbox
from conveyor.engine.trigger_cache import TriggerCache
from conveyor.store import Pool
from tests.integration.conftest import ApiClient

_APPLICATION_EVENT = "INSERT INTO trigger_events (type, payload, dedupe_key) VALUES ('signup', $1, $2)"
_DELIVERY = "INSERT INTO trigger_events (trigger_id, type, payload, dedupe_key) VALUES ($1, 'signup', '{}', $2)"


async def event_trigger(api: ApiClient) -> str:
    """An event trigger for `signup` that takes only the pro plan."""
    flow = {
        "name": f"t-{uuid.uuid4().hex[:6]}",
        "start": "a",
        "nodes": [{"id": "a", "type": "action", "action": "noop"}],
    }
    workflow = await (await api.post("/workflows", json=flow)).json()
    definition = {"type": "event", "event": "signup", "filter": {"==": [{"var": "plan"}, "pro"]}}
    response = await api.post(f"/workflows/{workflow['id']}/triggers", json=definition)
    assert response.status == 201
    trigger_id: str = (await response.json())["id"]
    return trigger_id


async def send(db: Pool, payload: dict[str, str], key: str) -> None:
    """An application's event, consumed at once."""
    async with db.acquire() as conn:
        await conn.execute(_APPLICATION_EVENT, payload, key)
    await consume_inbox(db, TriggerCache(), 100)


async def test_started_filtered_duplicate_and_disabled_rows_are_listed_with_their_outcome(
    api: ApiClient, db: Pool
) -> None:
    trigger_id = await event_trigger(api)
    await send(db, {"plan": "pro"}, "a")
    await send(db, {"plan": "free"}, "b")
    await send(db, {"plan": "pro"}, "a")  # the same key again: no second execution
    assert (await api.post(f"/triggers/{trigger_id}/disable")).status == 200
    async with db.acquire() as conn:
        await conn.execute(_DELIVERY, uuid.UUID(trigger_id), "c")
    await consume_inbox(db, TriggerCache(), 100)

    response = await api.get(f"/triggers/{trigger_id}/rows")
    assert response.status == 200
    rows = (await response.json())["items"]
    assert [(r["dedupe_key"], r["outcome"]) for r in rows] == [
        ("c", "disabled"),
        (None, "duplicate"),  # the trigger has a row with key a already: this one names it in its reason
        ("b", "filtered"),
        ("a", "started"),
    ]
    assert rows[1]["reason"] == "dedupe key already received: a"
    assert rows[-1]["execution_id"] is not None
    assert [r["execution_id"] for r in rows[:3]] == [None, None, None]
    metrics = await (await api.get("/metrics")).text()
    for outcome in ("started", "filtered", "duplicate", "disabled"):
        assert f'conveyor_trigger_rows_total{{outcome="{outcome}",trigger="{trigger_id}"}} 1.0' in metrics


async def test_rows_filter_by_outcome_and_page_newest_first(api: ApiClient, db: Pool) -> None:
    trigger_id = await event_trigger(api)
    for i in range(5):
        await send(db, {"plan": "pro" if i % 2 == 0 else "free"}, f"k{i}")

    seen: list[str] = []
    url: str | None = f"/triggers/{trigger_id}/rows?outcome=started&limit=2"
    while url:
        page = await (await api.get(url)).json()
        seen += [r["dedupe_key"] for r in page["items"]]
        cursor = page["next_cursor"]
        url = f"/triggers/{trigger_id}/rows?outcome=started&limit=2&cursor={cursor}" if cursor else None
    assert seen == ["k4", "k2", "k0"]


async def test_rows_of_an_unknown_trigger_are_404_and_an_unknown_outcome_is_422(api: ApiClient) -> None:
    assert (await api.get(f"/triggers/{uuid.uuid4()}/rows")).status == 404
    trigger_id = await event_trigger(api)
    assert (await api.get(f"/triggers/{trigger_id}/rows?outcome=lost")).status == 422


async def test_an_event_sent_while_its_trigger_is_disabled_is_a_disabled_row_of_that_trigger(
    api: ApiClient, db: Pool
) -> None:
    trigger_id = await event_trigger(api)
    assert (await api.post(f"/triggers/{trigger_id}/disable")).status == 200
    posted = await api.post("/events", json={"type": "signup", "payload": {"plan": "pro"}, "dedupe_key": "p"})
    assert posted.status == 202
    await send(db, {"plan": "pro"}, "i")  # an application's INSERT, fanned out

    rows = (await (await api.get(f"/triggers/{trigger_id}/rows?outcome=disabled")).json())["items"]
    assert [(r["dedupe_key"], r["reason"]) for r in rows] == [
        ("i", "the trigger is disabled"),
        ("p", "the trigger is disabled"),
    ]
    metrics = await (await api.get("/metrics")).text()
    assert f'conveyor_trigger_rows_total{{outcome="disabled",trigger="{trigger_id}"}} 2.0' in metrics


async def test_rows_filter_by_text_in_their_reason_and_a_bad_reason_is_422(api: ApiClient, db: Pool) -> None:
    trigger_id = await event_trigger(api)
    await send(db, {"plan": "pro"}, "a")
    await send(db, {"plan": "pro"}, "a")  # a duplicate, its reason naming the key
    await send(db, {"plan": "pro"}, "b")

    page = await (await api.get(f"/triggers/{trigger_id}/rows?reason=already received")).json()
    assert [(r["outcome"], r["reason"]) for r in page["items"]] == [("duplicate", "dedupe key already received: a")]
    assert (await api.get(f"/triggers/{trigger_id}/rows?reason=%00")).status == 422
    assert (await api.get(f"/triggers/{trigger_id}/rows?reason={'x' * 201}")).status == 422
