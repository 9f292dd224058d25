"""The dashboard: its shell and assets are served with their types and a page CSP; the machine is served as data."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import pytest

from conveyor.config import Settings
from conveyor.http.app import create_app
from conveyor.http.dashboard import ASSETS, PAGE_POLICY
from conveyor.statemachines import OPERATOR_EVENTS, OPERATOR_VERBS, STATES, TERMINAL_STATES, moves
from conveyor.statemachines.chart import transitions
from conveyor.store import Pool
from tests.integration.conftest import ApiClient, flow

TOKEN = "dashboard-token"


async def test_the_shell_is_html_with_a_policy_allowing_only_its_own_assets(api: ApiClient) -> None:
    response = await api.get("/")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    policy = response.headers["Content-Security-Policy"]
    assert policy == PAGE_POLICY
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "connect-src 'self'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert '<script type="module" src="/dashboard/app.js"></script>' in await response.text()


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("app.js", "text/javascript; charset=utf-8"),
        ("graph.js", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
    ],
)
async def test_assets_are_served_with_their_content_type(api: ApiClient, name: str, content_type: str) -> None:
    response = await api.get(f"/dashboard/{name}")
    assert response.status == 200
    assert response.headers["Content-Type"] == content_type
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert await response.read() == (ASSETS / name).read_bytes()


async def test_every_module_the_page_imports_is_shipped(api: ApiClient) -> None:
    for script in ASSETS.glob("*.js"):
        for line in script.read_text().splitlines():
            if line.startswith("import ") and ' from "./' in line:
                imported = line.split(' from "./', 1)[1].split('"', 1)[0]
                assert (await api.get(f"/dashboard/{imported}")).status == 200, f"{script.name} imports {imported}"


@pytest.mark.parametrize("path", ["/dashboard/nope.js", "/dashboard/..%2Fapp.py", "/dashboard/index.html"])
async def test_anything_else_under_the_asset_path_is_404(api: ApiClient, path: str) -> None:
    response = await api.get(path)
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"


async def test_with_a_token_the_shell_and_assets_are_open_and_data_is_not(
    db: Pool, aiohttp_client: Callable[..., Awaitable[ApiClient]]
) -> None:
    guarded = await aiohttp_client(create_app(db, Settings(api_token=TOKEN)))
    assert (await guarded.get("/")).status == 200
    assert (await guarded.get("/dashboard/app.js")).status == 200
    for path in ("/state-machine", "/executions", "/events/stream", "/recovery/statistics"):
        assert (await guarded.get(path)).status == 401, path
    ok = await guarded.get("/state-machine", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status == 200


def test_the_dashboard_lists_no_operator_events_itself() -> None:
    # Its buttons, single and bulk, come from /state-machine's operator_verbs: a list of events in a script is a copy.
    listed = re.compile(r"\[\s*\"(" + "|".join(OPERATOR_EVENTS) + r")\"")
    scripts = {path.name: path.read_text() for path in ASSETS.glob("*.js")}
    assert scripts
    copies = [f"{name}: {found.group(0)!r}" for name, text in scripts.items() for found in listed.finditer(text)]
    assert not copies, copies


async def test_the_state_machine_route_lists_every_transition_of_the_machine(api: ApiClient) -> None:
    chart = await (await api.get("/state-machine")).json()
    assert chart["states"] == list(STATES)
    assert chart["initial"] == "idle"
    assert set(chart["terminal"]) == TERMINAL_STATES
    assert chart["operator_events"] == list(OPERATOR_EVENTS)
    assert chart["operator_verbs"] == list(OPERATOR_VERBS)
    served = {(t["event"], t["from"], t["to"]) for t in chart["transitions"]}
    assert served == {(t.event, t.source, t.target) for t in transitions()}
    assert set(chart["events"]) == {event for event, _, _ in served}
    for event in ("pause", "cancel", "retry", "rerun"):  # unconditional events: the machine's own table agrees
        assert {(m.event, m.source, m.target) for m in moves(event)} <= served
    allowed = {(event, source) for event, source, _ in served}
    assert ("pause", "completed") not in allowed
    assert ("resume", "paused") in allowed
    assert ("rerun", "completed") in allowed


async def test_workflow_statistics_count_its_executions_per_state(api: ApiClient) -> None:
    workflow = await (await api.post("/workflows", json=flow({"id": "a", "type": "action", "action": "noop"}))).json()
    other = await (await api.post("/workflows", json=flow({"id": "a", "type": "action", "action": "noop"}))).json()
    for _ in range(3):
        await api.post(f"/workflows/{workflow['id']}/executions", json={"input": {}})
    await api.post(f"/workflows/{other['id']}/executions", json={"input": {}})
    stats = await (await api.get(f"/workflows/{workflow['name']}/statistics")).json()
    assert stats == {"workflow_id": workflow["id"], "executions_by_state": {"idle": 3}}
