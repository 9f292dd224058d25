"""The workflow page compares two chosen versions: what changed node by node, and the two texts side by side."""

from __future__ import annotations

import json

from tests.browser import Page
from tests.dashboard import shoot_both
from tests.integration.conftest import ApiClient, flow

_CHANGES = "[...document.querySelectorAll('#changes li')].map(li => li.dataset.change + ' ' + li.dataset.where)"


async def test_two_chosen_versions_are_compared_node_by_node(api: ApiClient, page: Page) -> None:
    first = flow(
        {"id": "welcome", "type": "action", "action": "noop"},
        {"id": "wait", "type": "delay", "duration": "2d"},
        {"id": "gone", "type": "action", "action": "noop"},
        name="versions-compared",
    )
    workflow = await (await api.post("/workflows", json=first)).json()
    second = json.loads(json.dumps(first))
    second["nodes"][1]["duration"] = "3d"
    assert (await api.put(f"/workflows/{workflow['id']}", json=second)).status == 200
    third = flow(
        {"id": "welcome", "type": "action", "action": "noop", "params": {"hello": True}},
        {"id": "wait", "type": "delay", "duration": "3d"},
        {"id": "fresh", "type": "action", "action": "noop"},
        name="versions-compared",
    )
    third["description"] = "now with a description"
    assert (await api.put(f"/workflows/{workflow['id']}", json=third)).status == 200

    await page.goto(str(api.make_url(f"/#/workflows/{workflow['id']}")))
    # The two newest by default: v2 against v3.
    assert await page.wait_for(f"{_CHANGES}.length && {_CHANGES}", "the changes") == [
        "changed workflow",
        "changed welcome",
        "changed wait",
        "removed gone",
        "added fresh",
    ]
    fields = await page.evaluate("document.querySelector('#changes li[data-where=welcome]').textContent")
    assert fields.endswith("changed: params")

    await page.evaluate("""(() => { const s = document.querySelector('select[aria-label="Left version"]');
        s.value = '1'; s.dispatchEvent(new Event('change')); })()""")
    changes = await page.wait_for(f"{_CHANGES}.includes('changed wait') && {_CHANGES}", "v1 against v3")
    assert "changed wait" in changes
    await page.evaluate("""(() => { const s = document.querySelector('select[aria-label="Left version"]');
        s.value = '3'; s.dispatchEvent(new Event('change')); })()""")
    diff = "document.getElementById('diff').textContent"
    assert "two different versions" in await page.wait_for(f"{diff}.includes('different') && {diff}", "a request")
    await shoot_both(page, "workflow-versions")


async def test_a_workflow_with_one_version_says_there_is_nothing_to_compare(api: ApiClient, page: Page) -> None:
    definition = flow({"id": "a", "type": "action", "action": "noop"}, name="one-version")
    workflow = await (await api.post("/workflows", json=definition)).json()
    await page.goto(str(api.make_url(f"/#/workflows/{workflow['id']}")))
    text = await page.evaluate(
        "[...document.querySelectorAll('section')].find(s => s.textContent.startsWith('Versions')).textContent"
    )
    assert "Only v1 so far" in text
    assert await page.evaluate("document.getElementById('diff')") is None
