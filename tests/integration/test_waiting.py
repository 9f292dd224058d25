"""An execution says what it waits for, in words and as data, in the API, the CLI and the dashboard; its history
reads in words beside the machine's event names."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime

import pytest
from aiohttp.test_utils import TestServer
from structlog.testing import capture_logs

from conveyor.cli import main
from conveyor.engine.worker import Worker
from conveyor.http.app import create_app
from conveyor.jsonvalue import JSONObject
from conveyor.store import Pool
from testkit.poll import poll_until
from tests.browser import Page
from tests.dashboard import STATE, shoot_both, start
from tests.integration.conftest import ApiClient, flow

_WAIT = flow(
    {"id": "welcome", "type": "action", "action": "noop"},
    {
        "id": "value",
        "type": "wait_for_event",
        "events": ["user.engaged"],
        "match": {"==": [{"var": "event.payload.user"}, {"var": "input.user"}]},
        "timeout": "1h",
        "on_event": "done",
        "on_timeout": "nudge",
        "next": None,
    },
    {"id": "nudge", "type": "action", "action": "noop", "next": "done"},
    {"id": "done", "type": "action", "action": "noop"},
    name="waiting-words",
)


async def _waiting(api: ApiClient, execution_id: str) -> JSONObject:
    async def found() -> JSONObject | None:
        answer: JSONObject = await (await api.get(f"/executions/{execution_id}")).json()
        return answer if answer.get("waiting") else None

    answer = await poll_until(found, "the execution waiting")
    assert answer is not None
    return answer


async def test_an_execution_in_a_wait_for_event_says_what_for_until_when_and_where_a_timeout_goes(
    api: ApiClient, worker: Worker
) -> None:
    workflow = await (await api.post("/workflows", json=_WAIT)).json()
    execution_id = await start(api, workflow["id"], user="ada")
    waiting = (await _waiting(api, execution_id))["waiting"]
    assert isinstance(waiting, dict)
    assert (waiting["kind"], waiting["node"], waiting["events"]) == ("event", "value", ["user.engaged"])
    assert (waiting["on_event"], waiting["on_timeout"]) == ("done", "nudge")
    assert waiting["match"] == _WAIT["nodes"][1]["match"]
    until = datetime.fromisoformat(str(waiting["until"]))
    assert str(waiting["text"]).startswith('waiting for user.engaged matching {"==":')
    assert str(waiting["text"]).endswith(f"until {until:%Y-%m-%d %H:%M:%S} UTC (on event → done; on timeout → nudge)")

    history = (await (await api.get(f"/executions/{execution_id}/history")).json())["items"]
    assert [(h["event"], h["words"]) for h in history][:2] == [
        ("start", "started at welcome"),
        ("step_ok", "step welcome done"),
    ]
    assert history[-1]["words"] == "waiting for user.engaged for 60 min"


async def test_a_sleeping_execution_says_until_when_and_a_running_or_ended_one_waits_for_nothing(
    api: ApiClient, worker: Worker
) -> None:
    workflow = await (await api.post("/workflows", json=flow({"id": "nap", "type": "delay", "duration": "1h"}))).json()
    execution_id = await start(api, workflow["id"])
    waiting = (await _waiting(api, execution_id))["waiting"]
    assert isinstance(waiting, dict)
    assert waiting["kind"] == "sleep"
    assert str(waiting["text"]).startswith("sleeping until ")
    assert (await api.post(f"/executions/{execution_id}/cancel")).status == 200
    assert (await (await api.get(f"/executions/{execution_id}")).json())["waiting"] is None


async def test_executions_show_prints_the_wait_in_words(
    api: ApiClient,
    db: Pool,
    worker: Worker,
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = await aiohttp_server(create_app(db), host="127.0.0.1")
    monkeypatch.setenv("CONVEYOR_URL", str(server.make_url("/")))
    monkeypatch.delenv("CONVEYOR_API_TOKEN", raising=False)
    workflow = await (await api.post("/workflows", json=_WAIT)).json()
    execution_id = await start(api, workflow["id"], user="ada")
    await _waiting(api, execution_id)
    with capture_logs(), pytest.raises(SystemExit) as exited:
        await asyncio.to_thread(main, ["executions", "show", execution_id])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "\nwaiting: waiting for user.engaged matching" in out
    assert "(on event → done; on timeout → nudge)" in out


async def test_the_execution_page_shows_the_wait_and_history_in_words(
    api: ApiClient, worker: Worker, page: Page
) -> None:
    workflow = await (await api.post("/workflows", json=_WAIT)).json()
    execution_id = await start(api, workflow["id"], user="ada")
    await page.goto(str(api.make_url(f"/#/executions/{execution_id}")))
    await page.wait_for(f"{STATE} === 'delayed'", "the execution waiting")
    text = await page.wait_for("document.getElementById('waiting')?.textContent", "the wait in words")
    assert text.startswith("waiting for user.engaged matching")
    assert "on timeout → nudge" in text
    words = await page.evaluate("[...document.querySelectorAll('#timeline .words')].map(s => s.textContent)")
    assert words[:2] == ["started at welcome", "step welcome done"]
    events = await page.evaluate("[...document.querySelectorAll('#timeline li')].map(li => li.dataset.event)")
    assert events[:2] == ["start", "step_ok"]
    await shoot_both(page, "execution-waiting")
