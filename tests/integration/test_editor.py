"""The editor: a workflow built on an empty canvas in the browser, its problems shown on its nodes by the API's
own 422s as it is built, saved as a draft no execution uses, published, and run."""

from __future__ import annotations

from conveyor.engine.worker import Worker
from tests.browser import Page
from tests.dashboard import ended, shoot_both, start
from tests.integration.conftest import ApiClient


def _set(selector: str, value: str, event: str = "change") -> str:
    return (
        f"(() => {{ const el = document.querySelector('{selector}'); el.value = '{value}';"
        f" el.dispatchEvent(new Event('{event}', {{bubbles: true}})); }})()"
    )


async def _add(page: Page, kind: str, node_id: str) -> None:
    await page.evaluate(_set("#ed-kind", kind))
    await page.evaluate(_set("#ed-id", node_id, "input"))
    await page.evaluate("document.getElementById('ed-add').click()")
    await page.wait_for(f"document.querySelector('#ed-panel h2')?.textContent.startsWith('{node_id}')", node_id)


def _click(node_id: str) -> str:
    box = f"document.querySelector('#ed-canvas .across g.node[data-node={node_id}]')"
    return f"{box}.dispatchEvent(new MouseEvent('click', {{bubbles: true}}))"


_INVALID = "[...document.querySelectorAll('#ed-canvas .across g.node.invalid')].map(g => g.dataset.node)"


async def test_a_workflow_built_on_an_empty_canvas_is_saved_published_and_runs(
    api: ApiClient, worker: Worker, page: Page
) -> None:
    await page.goto(str(api.make_url("/#/editor")))
    assert "empty canvas" in await page.evaluate("document.getElementById('ed-canvas').textContent")
    await page.evaluate(_set("#ed-name", "built-in-the-browser", "input"))

    await _add(page, "action", "hello")
    await page.evaluate(_set("#node-action", "noop"))
    await page.wait_for("document.getElementById('ed-problems').dataset.count === '0'", "a valid one-node workflow")

    await _add(page, "delay", "nap")
    # A delay without a duration: the API's 422 lands on the node.
    assert await page.wait_for(f"{_INVALID}.length && {_INVALID}", "the refused node") == ["nap"]
    note = await page.evaluate("document.querySelector('#ed-canvas .across g.node.invalid').textContent")
    assert "✗" in note
    assert "duration" in await page.evaluate("document.getElementById('ed-problems').textContent")
    await shoot_both(page, "editor-invalid")

    await page.evaluate(_set("#node-duration", "10ms"))
    # Still unreachable from the start: connect hello → nap.
    problems = "document.getElementById('ed-problems').textContent"
    await page.wait_for(f"{problems}.includes('unreachable') && !{problems}.includes('duration')", "nap unreachable")
    assert await page.evaluate(_INVALID) == ["nap"]
    await page.evaluate(_click("hello"))
    await page.wait_for("document.querySelector('#ed-panel h2')?.textContent.startsWith('hello')", "hello selected")
    await page.evaluate(_set("#edge-next", "nap"))
    await page.wait_for("!!document.getElementById('ed-valid')", "a valid workflow")
    edges = await page.evaluate(
        "[...document.querySelectorAll('#ed-canvas .across path.edge')].map(p => p.dataset.from + '>' + p.dataset.to)"
    )
    assert edges == ["hello>nap"]
    await shoot_both(page, "editor-valid")

    await page.evaluate("document.getElementById('ed-save').click()")
    await page.wait_for("!!document.getElementById('ed-publish')", "the saved draft")
    workflow = await (await api.get("/workflows/built-in-the-browser")).json()
    assert workflow["active"] is False  # a draft: not live yet
    refused = await api.post(f"/workflows/{workflow['id']}/executions", json={"input": {}})
    assert refused.status == 409

    await page.evaluate("document.getElementById('ed-publish').click()")
    await page.wait_for("!!document.getElementById('ed-open')", "the published workflow")
    execution_id = await start(api, workflow["id"])
    assert await ended(api, execution_id) == "completed"
    steps = (await (await api.get(f"/executions/{execution_id}/steps")).json())["items"]
    assert [s["node"] for s in steps] == ["hello", "nap"]


async def test_the_editor_opens_a_workflow_and_its_saved_draft_waits_for_publishing(
    api: ApiClient, worker: Worker, page: Page
) -> None:
    definition = {
        "name": "edited",
        "start": "a",
        "nodes": [
            {"id": "a", "type": "action", "action": "noop", "next": "b"},
            {"id": "b", "type": "action", "action": "noop"},
        ],
    }
    workflow = await (await api.post("/workflows", json=definition)).json()
    await page.goto(str(api.make_url(f"/#/editor/{workflow['id']}")))
    await page.wait_for("!!document.getElementById('ed-valid')", "the loaded workflow, valid")
    await page.evaluate(_click("b"))
    await page.wait_for("document.querySelector('#ed-panel h2')?.textContent.startsWith('b')", "b selected")
    await page.evaluate("document.getElementById('ed-remove').click()")
    await page.wait_for("!!document.getElementById('ed-valid')", "a valid one-node workflow")
    await page.evaluate("document.getElementById('ed-save').click()")
    await page.wait_for("!!document.getElementById('ed-publish')", "the saved draft")

    execution_id = await start(api, workflow["id"])
    assert await ended(api, execution_id) == "completed"
    steps = (await (await api.get(f"/executions/{execution_id}/steps")).json())["items"]
    assert [s["node"] for s in steps] == ["a", "b"]  # the draft is not live

    await page.goto(str(api.make_url(f"/#/workflows/{workflow['id']}")))
    await page.evaluate("document.querySelector('#drafts [data-publish=\"2\"]').click()")
    await page.wait_for("document.querySelector('h1 small')?.textContent.startsWith('v2')", "v2 live")
