"""Workflow versions: PUT stores a new immutable version; running executions stay on theirs; listing pages."""

from __future__ import annotations

import asyncio

from conveyor.engine.worker import Worker
from conveyor.store import Pool
from tests.integration.conftest import ApiClient, flow, wait_for, wait_until_ended


def versioned(marker: int, name: str = "versioned", delay: str = "400ms") -> dict[str, object]:
    return flow(
        {"id": "wait", "type": "delay", "duration": delay},
        {"id": "mark", "type": "action", "action": "noop", "params": {"version": marker}},
        name=name,
    )


async def test_put_stores_a_new_version_and_running_executions_finish_on_theirs(
    api: ApiClient, db: Pool, worker: Worker
) -> None:
    created = await (await api.post("/workflows", json=versioned(1))).json()
    old = [
        await (await api.post(f"/workflows/{created['id']}/executions", json={"input": {}})).json() for _ in range(20)
    ]
    for ex in old:
        await wait_for(db, ex["id"], lambda e: e.state == "delayed")
    response = await api.put(f"/workflows/{created['id']}", json=versioned(2))
    assert response.status == 200
    assert (await response.json())["version"] == 2
    new = await (await api.post(f"/workflows/{created['id']}/executions", json={"input": {}})).json()
    assert new["workflow_version"] == 2
    for ex in old:
        ended = await wait_until_ended(db, ex["id"])
        assert (ended.workflow_version, ended.output) == (1, {"version": 1})
    assert (await wait_until_ended(db, new["id"])).output == {"version": 2}


async def test_versions_are_listed_newest_first_and_readable_one_by_one(api: ApiClient) -> None:
    created = await (await api.post("/workflows", json=versioned(1))).json()
    await api.put("/workflows/versioned", json=versioned(2))
    versions = (await (await api.get("/workflows/versioned/versions")).json())["items"]
    assert [v["version"] for v in versions] == [2, 1]
    one = await (await api.get(f"/workflows/{created['id']}/versions/1")).json()
    assert one["definition"]["nodes"][1]["params"] == {"version": 1}
    for bad in ("3", "0", "-1", "x", "99999999999999999999", "%00"):
        response = await api.get(f"/workflows/versioned/versions/{bad}")
        assert response.status == 404, bad


async def test_put_validates_exactly_as_create(api: ApiClient) -> None:
    await api.post("/workflows", json=versioned(1))
    broken = flow({"id": "a", "type": "action", "action": "noop", "next": "ghost"}, name="versioned")
    response = await api.put("/workflows/versioned", json=broken)
    assert response.status == 422
    assert (await response.json())["error"]["details"]["field"] == "/nodes/0/next"
    assert (await (await api.get("/workflows/versioned")).json())["version"] == 1
    assert (await api.put("/workflows/nope", json=versioned(1))).status == 404


async def test_workflows_are_listed_by_name_a_page_at_a_time(api: ApiClient) -> None:
    for i in range(5):
        await api.post("/workflows", json=versioned(1, name=f"w{i}"))
    names: list[str] = []
    cursor = None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        body = await (await api.get("/workflows" + query)).json()
        names += [w["name"] for w in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
        await api.post("/workflows", json=versioned(1, name=f"a-late-{len(names)}"))  # before the cursor: unseen
    assert names == ["w0", "w1", "w2", "w3", "w4"]


async def test_hostile_list_parameters_are_422_naming_them(api: ApiClient) -> None:
    for query, field in (
        ("limit=-1", "limit"),
        ("limit=0", "limit"),
        ("limit=10000000000000000000000", "limit"),
        ("limit=ten", "limit"),
        ("cursor=!!!", "cursor"),
        ("cursor=" + "A" * 5000, "cursor"),
        ("cursor=WyJhIiwgImIiXQ", "cursor"),  # a well-formed cursor of another list
    ):
        for path in ("/workflows", "/templates"):
            response = await api.get(f"{path}?{query}")
            assert response.status == 422, (path, query)
            assert (await response.json())["error"]["details"]["field"] == field


async def test_the_version_a_delay_slept_on_wakes_on_it_even_after_two_puts(
    api: ApiClient, db: Pool, worker: Worker
) -> None:
    created = await (await api.post("/workflows", json=versioned(1, delay="600ms"))).json()
    ex = await (await api.post(f"/workflows/{created['id']}/executions", json={"input": {}})).json()
    await wait_for(db, ex["id"], lambda e: e.state == "delayed")
    await asyncio.gather(
        api.put(f"/workflows/{created['id']}", json=versioned(2)),
        api.put(f"/workflows/{created['id']}", json=versioned(3)),
    )
    assert (await (await api.get(f"/workflows/{created['id']}")).json())["version"] == 3
    assert (await wait_until_ended(db, ex["id"])).output == {"version": 1}
