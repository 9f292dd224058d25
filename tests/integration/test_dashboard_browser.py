"""The dashboard in a real headless Chromium: rows appear and change live, buttons act; screenshots for a look.

Screenshots go to $CONVEYOR_SCREENSHOTS, or <tmp>/conveyor-dashboard; they are not committed.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conveyor.engine.worker import Worker
from tests.browser import Page, chromium, chromium_path
from tests.integration.conftest import ApiClient, flow

SHOTS = Path(os.environ.get("CONVEYOR_SCREENSHOTS") or Path(tempfile.gettempdir()) / "conveyor-dashboard")
PHONE = (390, 844)


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    """A headless Chromium tab; the test is skipped where Debian's chromium is not installed."""
    executable = chromium_path()
    if executable is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run does it)")
    async with chromium(executable) as tab:
        yield tab


def _row_state(execution_id: str) -> str:
    return f"document.querySelector('tr[data-id=\"{execution_id}\"]')?.dataset.state"


async def _start(api: ApiClient, workflow_id: str, **input_: object) -> str:
    response = await api.post(f"/workflows/{workflow_id}/executions", json={"input": input_})
    assert response.status == 201, await response.text()
    return str((await response.json())["id"])


async def test_a_new_execution_appears_and_moves_on_the_executions_page_without_reload(
    api: ApiClient, worker: Worker, page: Page
) -> None:
    definition = flow(
        {"id": "welcome", "type": "action", "action": "noop"},
        {"id": "wait", "type": "delay", "duration": "1500ms"},
        {"id": "finish", "type": "action", "action": "noop"},
        name="dashboard-live",
    )
    workflow = await (await api.post("/workflows", json=definition)).json()
    await page.goto(str(api.make_url("/#/executions")))
    await page.wait_for("document.getElementById('live').dataset.live === 'live'", "the live feed connected")
    await page.evaluate("window.sameDocument = true")

    execution_id = await _start(api, workflow["id"])

    await page.wait_for(f"{_row_state(execution_id)} === 'delayed'", "the new execution, delayed")
    await page.screenshot(SHOTS / "executions-desktop.png")
    await page.wait_for(f"{_row_state(execution_id)} === 'completed'", "the execution completed")
    assert await page.evaluate("window.sameDocument") is True, "the page reloaded"
    counts = await page.evaluate("document.querySelector('.counts').textContent")
    assert "completed" in counts
    await page.resize(*PHONE, mobile=True)
    await page.screenshot(SHOTS / "executions-phone.png")


async def test_an_execution_page_draws_its_graph_and_pauses_and_resumes_from_its_buttons(
    api: ApiClient, worker: Worker, page: Page
) -> None:
    definition = flow(
        {"id": "welcome", "type": "action", "action": "noop"},
        {"id": "wait", "type": "delay", "duration": "1h"},
        {
            "id": "pro",
            "type": "condition",
            "rule": {"==": [{"var": "input.plan"}, "pro"]},
            "then": "crm",
            "else": "nudge",
        },
        {"id": "nudge", "type": "action", "action": "noop", "next": "crm"},
        {"id": "crm", "type": "action", "action": "noop"},
        name="dashboard-graph",
    )
    workflow = await (await api.post("/workflows", json=definition)).json()
    execution_id = await _start(api, workflow["id"], plan="pro")
    await page.goto(str(api.make_url(f"/#/executions/{execution_id}")))

    state = "document.querySelector('#state .badge')?.dataset.state"
    await page.wait_for(f"{state} === 'delayed'", "the execution delayed")
    nodes = await page.evaluate("[...document.querySelectorAll('#graph g.node')].map(g => g.dataset.node)")
    assert sorted(nodes) == ["crm", "nudge", "pro", "wait", "welcome"]
    current = "document.querySelector('#graph g.node.current')?.dataset.node"
    await page.wait_for(f"{current} === 'wait'", "the delay node marked current")
    assert "wakes" in await page.evaluate("document.querySelector('#graph g.node.current').textContent")
    assert await page.evaluate("document.querySelector('[data-action=resume]').disabled") is True
    await page.screenshot(SHOTS / "execution-desktop.png")

    await page.evaluate("document.querySelector('[data-action=pause]').click()")
    await page.wait_for(f"{state} === 'paused'", "the execution paused")
    await page.wait_for(
        "document.querySelector('#timeline li:last-child')?.dataset.event === 'pause'", "pause in history"
    )
    assert await page.evaluate("document.querySelector('[data-action=pause]').disabled") is True
    await page.evaluate("document.querySelector('[data-action=resume]').click()")
    await page.wait_for(f"{state} === 'delayed'", "the execution delayed again")
    history = await (await api.get(f"/executions/{execution_id}/history")).json()
    assert [h["event"] for h in history["items"]][-2:] == ["pause", "resume"]
    await page.resize(*PHONE, mobile=True)
    await page.screenshot(SHOTS / "execution-phone.png")


async def test_bulk_cancel_shows_the_dry_run_count_before_it_cancels(
    api: ApiClient, worker: Worker, page: Page
) -> None:
    definition = flow({"id": "wait", "type": "delay", "duration": "1h"}, name="dashboard-bulk")
    workflow = await (await api.post("/workflows", json=definition)).json()
    ids = [await _start(api, workflow["id"]) for _ in range(3)]
    await page.goto(str(api.make_url(f"/#/executions?workflow={workflow['id']}")))
    for execution_id in ids:
        await page.wait_for(f"{_row_state(execution_id)} === 'delayed'", f"{execution_id} delayed")
    for execution_id in ids[:2]:
        await page.evaluate(f"document.querySelector('tr[data-id=\"{execution_id}\"] input').click()")
    await page.evaluate("document.querySelector('[data-bulk=cancel]').click()")
    text = await page.wait_for(
        "document.getElementById('confirm-dialog').open && document.getElementById('confirm-text').textContent",
        "the dry-run count",
    )
    assert text.startswith("2 of 2 selected will cancel"), text
    assert (await (await api.get(f"/executions/{ids[0]}")).json())["state"] == "delayed"  # a dry run changed nothing
    await page.evaluate("document.getElementById('confirm-ok').click()")
    for execution_id in ids[:2]:
        await page.wait_for(f"{_row_state(execution_id)} === 'cancelled'", f"{execution_id} cancelled")
    assert await page.evaluate(_row_state(ids[2])) == "delayed"


async def test_a_workflow_page_shows_its_graph_versions_and_triggers(api: ApiClient, page: Page) -> None:
    definition = flow(
        {"id": "welcome", "type": "action", "action": "noop"},
        {"id": "wait", "type": "delay", "duration": "2d"},
        name="dashboard-workflow",
    )
    workflow = await (await api.post("/workflows", json=definition)).json()
    changed = json.loads(json.dumps(definition))
    changed["nodes"][1]["duration"] = "3d"
    assert (await api.put(f"/workflows/{workflow['id']}", json=changed)).status == 200
    trigger = {"type": "event", "event": "subscription.created"}
    assert (await api.post(f"/workflows/{workflow['id']}/triggers", json=trigger)).status == 201
    await page.goto(str(api.make_url(f"/#/workflows/{workflow['id']}")))
    await page.wait_for("!!document.querySelector('#triggers tbody tr')", "the trigger")
    diff = await page.evaluate("[...document.querySelectorAll('#diff tr.added, #diff tr.removed')].length")
    assert diff == 2
    assert await page.evaluate("document.querySelectorAll('svg.graph g.node').length") == 2
    await page.screenshot(SHOTS / "workflow-desktop.png")
    await page.resize(*PHONE, mobile=True)
    await page.screenshot(SHOTS / "workflow-phone.png")
    await page.goto(str(api.make_url("/#/system")))
    await page.screenshot(SHOTS / "system-desktop.png")
