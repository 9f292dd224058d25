"""Per-minute trends: executions started, completed and failed and step latency, from one bounded statement, drawn
as inline SVG on the system and workflow pages; an execution's steps on a time line."""

from __future__ import annotations

import pytest

from conveyor.engine.worker import Worker
from testkit.peers import WebhookPeer
from tests.browser import Page
from tests.dashboard import ended, shoot_both, start
from tests.integration.conftest import ApiClient, flow


async def _failing_run(api: ApiClient, webhook_peer: WebhookPeer, count: int) -> dict[str, object]:
    webhook_peer.answer(*[500] * count)  # one attempt each: the node declares no retries (webhooks retry by default)
    definition = flow(
        {"id": "notify", "type": "webhook", "url": webhook_peer.url, "body": {"n": 1}, "retry": {"max_attempts": 1}},
        {"id": "done", "type": "action", "action": "noop"},
        name="trends-failing",
    )
    workflow: dict[str, object] = await (await api.post("/workflows", json=definition)).json()
    ids = [await start(api, str(workflow["id"])) for _ in range(count)]
    assert {await ended(api, i) for i in ids} == {"failed"}
    return workflow


async def test_the_minutes_count_what_started_and_failed_and_time_the_steps(
    api: ApiClient, worker: Worker, webhook_peer: WebhookPeer
) -> None:
    workflow = await _failing_run(api, webhook_peer, 3)
    ok = await (await api.post("/workflows", json=flow({"id": "a", "type": "action", "action": "noop"}))).json()
    assert await ended(api, await start(api, ok["id"])) == "completed"

    overall = await (await api.get("/statistics/minutes?minutes=5")).json()
    assert len(overall["items"]) == 5
    assert (overall["considered"], overall["capped"]) == (4, False)
    assert sum(m["started"] for m in overall["items"]) == 4
    assert sum(m["failed"] for m in overall["items"]) == 3
    assert sum(m["completed"] for m in overall["items"]) == 1
    timed = [m for m in overall["items"] if m["steps"]]
    assert timed
    assert all(m["step_p95_ms"] >= m["step_p50_ms"] >= 0 for m in timed)

    mine = await (await api.get(f"/statistics/minutes?minutes=5&workflow={workflow['name']}")).json()
    assert sum(m["failed"] for m in mine["items"]) == 3
    assert sum(m["completed"] for m in mine["items"]) == 0


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("minutes=0", 422, "minutes"),
        ("minutes=1441", 422, "minutes"),
        ("minutes=-1", 422, "minutes"),
        ("minutes=ten", 422, "minutes"),
        ("workflow=nope", 404, "workflow"),
        ("workflow=" + "w" * 501, 422, "workflow"),
    ],
)
async def test_a_bad_window_or_workflow_is_refused_naming_it(
    api: ApiClient, query: str, status: int, field: str
) -> None:
    response = await api.get(f"/statistics/minutes?{query}")
    assert response.status == status, await response.text()
    assert (await response.json())["error"]["details"]["field"] == field


async def test_the_workflow_chart_shows_the_failures_of_a_peer_answering_500(
    api: ApiClient, worker: Worker, webhook_peer: WebhookPeer, page: Page
) -> None:
    workflow = await _failing_run(api, webhook_peer, 4)
    await page.goto(str(api.make_url(f"/#/workflows/{workflow['id']}")))
    await page.wait_for("document.getElementById('charts')?.dataset.ready === '60'", "the charts")
    failed = "document.querySelector('#charts [data-series=failed]').dataset.total"
    assert await page.evaluate(failed) == "4"
    assert await page.evaluate("document.querySelector('#charts [data-series=completed]').dataset.total") == "0"
    assert await page.evaluate("document.querySelector('#charts [data-series=step_p95_ms]').children.length > 0")
    # Drawn in the page: nothing is loaded from another origin.
    sources = "[...document.querySelectorAll('[src], [href]')].map(e => e.src || e.href).filter(Boolean)"
    origin = await page.evaluate("location.origin")
    assert all(u.startswith((origin, "data:")) for u in await page.evaluate(sources))
    await shoot_both(page, "workflow-trends")

    # The executions of the run, with how long each took and why it failed.
    await page.goto(str(api.make_url(f"/#/executions?workflow={workflow['name']}&error=500")))
    rows = "[...document.querySelectorAll('#executions tr[data-id]')]"
    await page.wait_for(f"{rows}.length === 4", "the four failed executions found by their error")
    cells = await page.evaluate(
        f"{rows}.map(r => [r.querySelector('td.duration').textContent, r.querySelector('td.error-text').textContent])"
    )
    assert all(took.endswith((" ms", " s")) and "500" in error for took, error in cells), cells

    await page.goto(str(api.make_url("/#/system")))
    await page.wait_for("document.getElementById('charts')?.dataset.ready === '60'", "the overall charts")
    assert await page.evaluate(failed) == "4"
    await shoot_both(page, "system-trends")


async def test_an_execution_page_lays_its_steps_on_a_time_line(api: ApiClient, worker: Worker, page: Page) -> None:
    definition = flow(
        {"id": "first", "type": "action", "action": "noop"},
        {"id": "nap", "type": "delay", "duration": "300ms"},
        {"id": "last", "type": "action", "action": "noop"},
        name="trends-timeline",
    )
    workflow = await (await api.post("/workflows", json=definition)).json()
    execution_id = await start(api, workflow["id"])
    assert await ended(api, execution_id) == "completed"
    await page.goto(str(api.make_url(f"/#/executions/{execution_id}")))
    bars = "[...document.querySelectorAll('#step-timeline g.step')].map(g => g.dataset.node)"
    assert await page.wait_for(f"{bars}.length === 3 && {bars}", "the step timeline") == ["first", "nap", "last"]
    texts = await page.evaluate("[...document.querySelectorAll('#step-timeline g.step')].map(g => g.textContent)")
    assert all(" ms" in t or " s" in t for t in texts), texts
    await shoot_both(page, "execution-timeline")
