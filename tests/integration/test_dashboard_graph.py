"""The dashboard draws a workflow's graph from the server's edges: every kind's, styled by kind, path and place."""

from __future__ import annotations

import uuid

from conveyor import demo
from conveyor.engine.worker import Worker
from conveyor.jsonvalue import JSONObject
from conveyor.store import Pool
from tests.browser import Page
from tests.dashboard import STATE, shoot_both, start
from tests.every_kind import child_definition, every_kind_definition
from tests.integration.conftest import ApiClient

_DRAWN = """[...document.querySelectorAll('#SCOPE .across path.edge')]
  .map(p => [p.dataset.from, p.dataset.to, p.dataset.kind].join(' ')).sort()"""


async def _every_kind_workflow(api: ApiClient) -> JSONObject:
    assert (await api.post("/workflows", json=child_definition())).status == 201
    response = await api.post("/workflows", json=every_kind_definition())
    assert response.status == 201, await response.text()
    workflow: JSONObject = await response.json()
    return workflow


async def _graph(api: ApiClient, workflow: JSONObject) -> JSONObject:
    version = await (await api.get(f"/workflows/{workflow['id']}/versions/{workflow['version']}")).json()
    graph: JSONObject = version["graph"]
    return graph


def _edges(graph: JSONObject) -> list[str]:
    return sorted(f"{e['from']} {e['to']} {e['kind']}" for e in graph["edges"])


async def test_a_version_answers_its_graph_with_each_edge_kind(api: ApiClient) -> None:
    graph = await _graph(api, await _every_kind_workflow(api))
    assert graph["start"] == "check"
    kinds = {e["kind"] for e in graph["edges"]}
    assert kinds == {"next", "then", "else", "on_event", "on_timeout", "on_error", "branches", "join", "branch"}


async def test_every_kind_of_edge_is_drawn_on_the_workflow_page(api: ApiClient, page: Page) -> None:
    workflow = await _every_kind_workflow(api)
    graph = await _graph(api, workflow)
    await page.goto(str(api.make_url(f"/#/workflows/{workflow['id']}")))
    drawn = await page.wait_for(_DRAWN.replace("SCOPE", "view"), "the graph's edges")
    assert drawn == _edges(graph)
    labels = await page.evaluate("[...document.querySelectorAll('.across .edge-label')].map(t => t.textContent)")
    assert sorted(labels) == [
        "branch",
        "branches",
        "branches",
        "else",
        "join",
        "on error",
        "on event",
        "on timeout",
        "then",
    ]
    # Ranked left to right: each edge that is not a loop goes to a later column.
    xs = await page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('.across g.node')].map(g => "
        "[g.dataset.node, g.transform.baseVal[0].matrix.e]))"
    )
    for edge in graph["edges"]:
        assert xs[edge["to"]] > xs[edge["from"]], edge
    await shoot_both(page, "graph-every-kind")


async def test_an_execution_page_marks_the_path_taken_and_the_wait_it_is_in(
    api: ApiClient, worker: Worker, page: Page
) -> None:
    workflow = await _every_kind_workflow(api)
    execution_id = await start(api, str(workflow["id"]), plan="free")
    await page.goto(str(api.make_url(f"/#/executions/{execution_id}")))
    await page.wait_for(f"{STATE} === 'delayed'", "the execution waiting for its event")
    current = "document.querySelector('#graph .across g.node.current')?.dataset.node"
    await page.wait_for(f"{current} === 'wait'", "the wait marked current")
    taken = await page.evaluate(
        "[...document.querySelectorAll('#graph .across path.edge.taken')].map(p => p.dataset.from + '>' + p.dataset.to)"
    )
    assert taken == ["check>wait"]
    assert await page.evaluate(_DRAWN.replace("SCOPE", "graph")) == _edges(await _graph(api, workflow))
    await shoot_both(page, "graph-execution")


async def test_a_stored_version_todays_kinds_no_longer_read_answers_no_graph(api: ApiClient, db: Pool) -> None:
    workflow = await _every_kind_workflow(api)
    old = {"name": "every-kind", "start": "a", "nodes": [{"id": "a", "type": "teleport"}]}
    async with db.acquire() as conn:
        await conn.execute(
            "INSERT INTO workflow_versions (workflow_id, version, definition) VALUES ($1, 2, $2)",
            uuid.UUID(str(workflow["id"])),
            old,
        )
    versions = await api.get(f"/workflows/{workflow['id']}/versions")
    assert versions.status == 200
    assert [v["graph"] is None for v in (await versions.json())["items"]] == [True, False]


async def test_the_demo_workflows_are_drawn_with_every_edge_and_no_node_floats(
    api: ApiClient, db: Pool, page: Page
) -> None:
    drop = "DROP TABLE IF EXISTS subscriptions, newsletters"  # the demo's own tables, which truncation leaves
    async with db.acquire() as conn:
        await conn.execute(drop)
    try:
        await demo.set_up(db)
        for item in (await (await api.get("/workflows")).json())["items"]:
            graph = await _graph(api, item)
            await page.goto(str(api.make_url(f"/#/workflows/{item['id']}")))
            assert await page.evaluate(_DRAWN.replace("SCOPE", "view")) == _edges(graph), item["name"]
            # Only the start has no edge into it: the rest are connected, none drawn as a first node.
            entered = {e["to"] for e in graph["edges"]}
            assert {n["id"] for n in graph["nodes"]} - entered == {graph["start"]}, item["name"]
    finally:
        async with db.acquire() as conn:
            await conn.execute(drop)
