"""The operator commands against a real API served on 127.0.0.1: tables, --json, and the API's errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from structlog.testing import capture_logs

from conveyor.cli import main
from conveyor.commands.operations import create_workflow, start_execution
from conveyor.http.app import create_app
from conveyor.store import Pool
from tests.integration.conftest import flow


@pytest.fixture
async def conveyor_cli(
    db: Pool, aiohttp_server: Callable[..., Awaitable[TestServer]], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Awaitable[int]]:
    """Run `conveyor …` (in a thread: it runs its own event loop) against the API on a local port."""
    server = await aiohttp_server(create_app(db), host="127.0.0.1")
    monkeypatch.setenv("CONVEYOR_URL", str(server.make_url("/")))
    monkeypatch.delenv("CONVEYOR_API_TOKEN", raising=False)

    async def run(*argv: str) -> int:
        def call() -> int:
            try:
                main(list(argv))
            except SystemExit as exc:
                return int(exc.code or 0)
            return 0

        with capture_logs():  # the server's log lines would land in the output under test
            return await asyncio.to_thread(call)

    return run


async def test_push_creates_a_workflow_and_show_prints_it(
    conveyor_cli: Callable[..., Awaitable[int]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    definition = flow({"id": "wait", "type": "delay", "duration": "1h"}, name="from-the-terminal")
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(definition))
    assert await conveyor_cli("workflows", "push", str(path), "--json") == 0
    created = json.loads(capsys.readouterr().out)
    assert (created["name"], created["version"]) == ("from-the-terminal", 1)

    assert await conveyor_cli("workflows", "show", "from-the-terminal") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "NAME", "VERSION", "ACTIVE", "UPDATED_AT"]
    assert lines[1].split()[:3] == [created["id"], "from-the-terminal", "1"]


async def test_execution_commands_show_pause_resume_and_cancel(
    conveyor_cli: Callable[..., Awaitable[int]], db: Pool, capsys: pytest.CaptureFixture[str]
) -> None:

    workflow = await create_workflow(db, flow({"id": "wait", "type": "delay", "duration": "1h"}))
    execution, _ = await start_execution(db, str(workflow.id), {})
    ex = str(execution.id)

    assert await conveyor_cli("executions", "show", ex) == 0
    out = capsys.readouterr().out
    assert ex in out
    assert "idle" in out
    for verb, state in (("pause", "paused"), ("resume", "idle"), ("cancel", "cancelled")):
        assert await conveyor_cli("executions", verb, ex, "--json") == 0
        assert json.loads(capsys.readouterr().out)["state"] == state


async def test_an_api_error_prints_its_code_and_message_and_exits_non_zero(
    conveyor_cli: Callable[..., Awaitable[int]], db: Pool, capsys: pytest.CaptureFixture[str]
) -> None:

    workflow = await create_workflow(db, flow({"id": "wait", "type": "delay", "duration": "1h"}))
    execution, _ = await start_execution(db, str(workflow.id), {})
    await conveyor_cli("executions", "cancel", str(execution.id))
    capsys.readouterr()

    assert await conveyor_cli("executions", "retry", str(execution.id)) == 1
    assert capsys.readouterr().err.startswith("error: illegal_transition: cannot retry an execution that is cancelled")
    assert await conveyor_cli("executions", "show", "nope") == 1
    assert capsys.readouterr().err.startswith("error: not_found: ")


async def test_an_unreachable_api_is_an_error_not_a_traceback(
    conveyor_cli: Callable[..., Awaitable[int]], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CONVEYOR_URL", "http://127.0.0.1:9")
    assert await conveyor_cli("workflows", "list") == 1
    assert capsys.readouterr().err.startswith("error: unreachable: cannot reach http://127.0.0.1:9")


async def test_actions_list_shows_the_catalog_and_show_one_action(
    conveyor_cli: Callable[..., Awaitable[int]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert await conveyor_cli("actions", "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["KEY", "CATEGORY", "PROVIDED", "CONFLICT"]
    assert any(line.split()[:2] == ["send_sms", "messaging"] for line in lines[1:])
    assert await conveyor_cli("actions", "show", "send_email", "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["versions"][0]["template_param"] == "template"
    assert await conveyor_cli("actions", "show", "crm.nowhere") == 1
    assert "not_found" in capsys.readouterr().err
