"""The dashboard in a real headless Chromium: rows appear and change live, buttons act; screenshots for a look
(in tests/dashboard.py's SHOTS)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from conveyor.engine.worker import Worker
from testkit.peers import WebhookPeer
from tests.browser import Page
from tests.dashboard import PHONE, STATE, ended, shoot, start
from tests.integration.conftest import ApiClient, flow


def _row_state(execution_id: str) -> str:
    return f"document.querySelector('tr[data-id=\"{execution_id}\"]')?.dataset.state"


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

    execution_id = await start(api, workflow["id"])

    await page.wait_for(f"{_row_state(execution_id)} === 'delayed'", "the new execution, delayed")
    await shoot(page, "executions-desktop.png")
    await page.wait_for(f"{_row_state(execution_id)} === 'completed'", "the execution completed")
    assert await page.evaluate("window.sameDocument") is True, "the page reloaded"
    counts = await page.evaluate("document.querySelector('.counts').textContent")
    assert "completed" in counts
    await page.resize(*PHONE, mobile=True)
    await shoot(page, "executions-phone.png")


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
    execution_id = await start(api, workflow["id"], plan="pro")
    await page.goto(str(api.make_url(f"/#/executions/{execution_id}")))

    state = "document.querySelector('#state .badge')?.dataset.state"
    await page.wait_for(f"{state} === 'delayed'", "the execution delayed")
    nodes = await page.evaluate("[...document.querySelectorAll('#graph .across g.node')].map(g => g.dataset.node)")
    assert sorted(nodes) == ["crm", "nudge", "pro", "wait", "welcome"]
    current = "document.querySelector('#graph g.node.current')?.dataset.node"
    await page.wait_for(f"{current} === 'wait'", "the delay node marked current")
    assert "wakes" in await page.evaluate("document.querySelector('#graph g.node.current').textContent")
    assert await page.evaluate("document.querySelector('[data-action=resume]').disabled") is True
    await shoot(page, "execution-desktop.png")

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
    await shoot(page, "execution-phone.png")


async def test_bulk_cancel_shows_the_dry_run_count_before_it_cancels(
    api: ApiClient, worker: Worker, page: Page
) -> None:
    definition = flow({"id": "wait", "type": "delay", "duration": "1h"}, name="dashboard-bulk")
    workflow = await (await api.post("/workflows", json=definition)).json()
    ids = [await start(api, workflow["id"]) for _ in range(3)]
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
    diff = await page.evaluate("[...document.querySelectorAll('#diff tbody tr:not(.same)')].map(r => r.className)")
    assert diff == ["changed"]  # the one changed line, removed and added, on one row
    changed = await page.evaluate("[...document.querySelectorAll('#diff tr.changed td')].map(td => td.textContent)")
    assert [cell.split() for cell in changed] == [["\u2212", '"duration":', '"2d"'], ["+", '"duration":', '"3d"']]
    assert await page.evaluate("document.querySelectorAll('.across svg.graph g.node').length") == 2
    await shoot(page, "workflow-desktop.png")
    await page.resize(*PHONE, mobile=True)
    await shoot(page, "workflow-phone.png")
    await page.resize(1280, 800)
    await page.goto(str(api.make_url("/#/system")))
    await shoot(page, "system-desktop.png")


async def test_a_failed_webhook_execution_shows_its_calls_and_completes_after_a_retry_from_its_page(
    api: ApiClient, worker: Worker, webhook_peer: WebhookPeer, page: Page
) -> None:
    webhook_peer.answer(500)
    definition = flow(
        {
            "id": "notify",
            "type": "webhook",
            "method": "POST",
            "url": webhook_peer.url,
            "body": {"n": 1},
            "retry": {"max_attempts": 1},
        },
        {"id": "done", "type": "action", "action": "noop"},
        name="dashboard-webhook",
    )
    workflow = await (await api.post("/workflows", json=definition)).json()
    execution_id = await start(api, workflow["id"])
    assert await ended(api, execution_id) == "failed"  # one attempt, answered 500
    await page.goto(str(api.make_url(f"/#/executions/{execution_id}")))
    await page.wait_for(f"{STATE} === 'failed'", "the failed execution")
    calls = "[...document.querySelectorAll('#webhook-calls tbody tr')]"
    await page.wait_for(f"{calls}.length === 1", "the failed call")
    cells = await page.evaluate(f"{calls}[0].textContent")
    for shown in ("notify", "POST", webhook_peer.url, "✗ 500", f"{execution_id}:notify:1", " ms"):
        assert shown in cells, (shown, cells)
    assert "500" in await page.evaluate("document.querySelector('#graph g.node.current').textContent")
    await shoot(page, "execution-failed-desktop.png")
    await page.evaluate("window.sameDocument = true")

    await page.evaluate("document.querySelector('[data-action=retry]').click()")  # the peer answers 200 now

    await page.wait_for(f"{STATE} === 'completed'", "the retried execution completed")
    await page.wait_for(f"{calls}.map(r => r.dataset.status).join() === '500,200'", "both calls, the second a 200")
    await page.wait_for("document.querySelector('#timeline li:last-child')?.dataset.event === 'finish'", "finish")
    assert await page.evaluate("window.sameDocument") is True, "the page reloaded"
    assert len(webhook_peer.received) == 2


async def test_retry_from_a_node_of_a_completed_execution_runs_a_new_visit_from_the_page(
    api: ApiClient, worker: Worker, page: Page
) -> None:
    definition = flow(
        {"id": "first", "type": "action", "action": "noop"},
        {"id": "second", "type": "action", "action": "noop"},
        {"id": "third", "type": "action", "action": "noop"},
        name="dashboard-rerun",
    )
    workflow = await (await api.post("/workflows", json=definition)).json()
    execution_id = await start(api, workflow["id"])
    assert await ended(api, execution_id) == "completed"
    await page.goto(str(api.make_url(f"/#/executions/{execution_id}")))
    await page.wait_for("document.querySelector('[data-action=rerun]')?.disabled === false", "rerun enabled")
    assert await page.evaluate("document.querySelector('[data-action=retry]').disabled") is True  # not failed
    await page.evaluate("window.sameDocument = true")

    await page.evaluate("document.getElementById('from-node').value = 'second'")
    await page.evaluate("document.querySelector('[data-action=rerun]').click()")

    steps = "[...document.querySelectorAll('#steps tr[data-node]')]"
    await page.wait_for(
        f"{STATE} === 'completed' && {steps}.filter(r => r.dataset.node === 'third').length === 2",
        "the new visit completed",
    )
    await page.wait_for("!!document.querySelector('#timeline li[data-event=rerun]')", "rerun in the timeline")
    ran = await page.evaluate(f"{steps}.map(r => r.dataset.node)")
    assert sorted(ran) == ["first", "second", "second", "third", "third"]  # from `second`, not from the start
    assert await page.evaluate("window.sameDocument") is True, "the page reloaded"
    history = (await (await api.get(f"/executions/{execution_id}/history")).json())["items"]
    rerun = next(h for h in history if h["event"] == "rerun")
    assert (rerun["from"], rerun["node"]) == ("completed", "second")


async def test_the_executions_filters_live_in_the_url_and_survive_a_reload(
    api: ApiClient, worker: Worker, page: Page
) -> None:
    one = flow({"id": "a", "type": "action", "action": "noop"}, name="dashboard-filter-one")
    other = flow({"id": "a", "type": "action", "action": "noop"}, name="dashboard-filter-other")
    workflow = await (await api.post("/workflows", json=one)).json()
    second = await (await api.post("/workflows", json=other)).json()
    mine, theirs = await start(api, workflow["id"]), await start(api, second["id"])
    assert {await ended(api, mine), await ended(api, theirs)} == {"completed"}
    await page.goto(str(api.make_url("/#/executions")))
    await page.wait_for(f"{_row_state(theirs)} === 'completed'", "every execution listed")

    await page.evaluate(f"document.getElementById('f-workflow').value = '{workflow['id']}'")
    await page.evaluate("document.getElementById('f-state').value = 'completed'")
    await page.evaluate("document.querySelector('form.filters').requestSubmit()")
    await page.wait_for(f"location.hash === '#/executions?workflow={workflow['id']}&state=completed'", "the URL")
    await page.reload()

    rows = "[...document.querySelectorAll('#executions tr[data-id]')].map(r => r.dataset.id)"
    await page.wait_for(f"{rows}.join() === '{mine}'", "only the filtered execution after the reload")
    assert await page.evaluate("document.getElementById('f-workflow').value") == workflow["id"]
    assert await page.evaluate("document.getElementById('f-state').value") == "completed"

    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(second=0, microsecond=0).isoformat()
    await page.goto(str(api.make_url(f"/#/executions?after={tomorrow.replace('+00:00', 'Z')}")))
    await page.wait_for(f"{rows}.length === 0 && !!document.querySelector('#executions tbody td')", "nothing after")
    local = await page.evaluate("document.getElementById('f-after').value")
    assert await page.evaluate(f"new Date({json.dumps(local)}).toISOString()") == tomorrow.replace("+00:00", ".000Z")


async def test_the_system_page_reads_its_figures_again_when_transitions_arrive(
    api: ApiClient, worker: Worker, page: Page
) -> None:
    workflow = await (await api.post("/workflows", json=flow({"id": "a", "type": "action", "action": "noop"}))).json()
    await page.goto(str(api.make_url("/#/system")))
    await page.wait_for("document.getElementById('live').dataset.live === 'live'", "the live feed connected")
    await page.evaluate("window.sameDocument = true")
    counts = "[...document.querySelectorAll('.counts li')].map(li => li.textContent).join(' ')"
    assert "completed" not in await page.evaluate(counts)

    execution_id = await start(api, workflow["id"])

    await page.wait_for(f"{counts}.includes('completed')", "the completed execution counted")
    assert await ended(api, execution_id) == "completed"
    assert await page.evaluate("window.sameDocument") is True, "the page reloaded"


async def test_the_line_diff_pairs_a_changed_line_and_keeps_the_surplus_apart(api: ApiClient, page: Page) -> None:
    await page.goto(str(api.make_url("/#/system")))
    rows = await page.evaluate(
        "import('/dashboard/diff.js').then(m => m.lineDiff('a\\nb\\nc\\nd', 'a\\nB\\nC\\nX\\nd\\ne'))"
    )
    assert rows == [
        ["a", "a", "same"],
        ["b", "B", "changed"],
        ["c", "C", "changed"],
        [None, "X", "added"],
        ["d", "d", "same"],
        [None, "e", "added"],
    ]


async def test_the_actions_page_lists_the_catalog_and_an_execution_describes_its_action_steps(
    api: ApiClient, worker: Worker, page: Page
) -> None:
    await page.goto(str(api.make_url("/#/actions")))
    await page.wait_for("!!document.querySelector('#actions tr[data-key=\"send_sms\"]')", "send_sms in the catalog")
    row = await page.evaluate("document.querySelector('#actions tr[data-key=\"send_email\"]').textContent")
    assert "built-in" in row
    assert "Render a stored template" in row
    assert worker.id in row  # the live worker that provides it
    await shoot(page, "actions-desktop.png")
    await page.resize(*PHONE, mobile=True)
    await shoot(page, "actions-phone.png")
    await page.resize(1280, 800)

    definition = flow({"id": "hello", "type": "action", "action": "noop"}, name="dashboard-actions")
    workflow = await (await api.post("/workflows", json=definition)).json()
    execution_id = await start(api, workflow["id"])
    assert await ended(api, execution_id) == "completed"
    await page.goto(str(api.make_url(f"/#/executions/{execution_id}")))
    note = "document.querySelector('#steps tr[data-node=\"hello\"] .action-note')?.textContent"
    await page.wait_for(f"!!{note}", "the action's description beside its step")
    assert await page.evaluate(note) == "noop Return the params unchanged."
