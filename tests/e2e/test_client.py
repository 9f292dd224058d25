"""The Python client and the CLI against a real `conveyor serve`: typed answers, typed errors carrying the API's
code and field, waiting, live streams, and a CLI whose output pipes cleanly."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conveyor.client import (
    AsyncClient,
    Client,
    ConflictError,
    InvalidError,
    NotFoundError,
    UnavailableError,
)
from conveyor.jsonvalue import JSONObject
from conveyor.store import Pool
from tests.e2e.served import Served, conveyor_command, ready, serving


def _definition(name: str, delay: str = "50ms") -> JSONObject:
    return {
        "name": name,
        "start": "hello",
        "nodes": [
            {"id": "hello", "type": "action", "action": "noop", "next": "pause"},
            {"id": "pause", "type": "delay", "duration": delay},
        ],
    }


@pytest.fixture
async def served(database_url: str, db: Pool, tmp_path: Path) -> AsyncIterator[Served]:
    """`conveyor serve` on the test database, on a port of its own."""
    with serving({"DATABASE_URL": database_url}, tmp_path / "serve.log") as found:
        await ready(found)
        yield found


def test_the_blocking_client_starts_waits_lists_and_refuses_with_typed_errors(served: Served) -> None:
    name = f"client-{uuid.uuid4().hex[:8]}"
    with Client(served.url) as client:
        assert client.push_workflow(_definition(name)).version == 1
        assert client.push_workflow(_definition(name, "60ms")).version == 2
        first = client.start(name, {"n": 1}, dedupe_key="signup-42")
        assert client.start(name, {"n": 1}, dedupe_key="signup-42").id == first.id
        done = client.wait(first.id, within=30)
        assert done.state == "completed"
        assert client.history(done.id)[-1].to_state == "completed"
        assert [s.node for s in client.steps(done.id)] == ["hello", "pause"]
        assert first.id in {e.id for e in client.list_executions(workflow=name).items}
        with pytest.raises(ConflictError) as conflict:
            client.pause(done.id)
        assert (conflict.value.status, conflict.value.code) == (409, "illegal_transition")
        with pytest.raises(InvalidError) as invalid:
            client.push_workflow({"name": f"{name}-bad", "start": "x", "nodes": []})
        assert invalid.value.field == "/nodes"
        with pytest.raises(NotFoundError):
            client.get(uuid.uuid4())
        assert client.send_event("nobody.listens", {"a": 1}) == []
        slow = client.start(name, {"n": 2})
        events = list(client.stream(slow.id, after="0"))  # every transition, however soon it ended
        assert events[0].event == "state"
        assert events[-1].event == "transition"
        assert isinstance(events[-1].data, dict)
        assert events[-1].data["to"] == "completed"


async def test_the_async_client_cancels_follows_and_names_an_unreachable_api(served: Served) -> None:
    name = f"async-{uuid.uuid4().hex[:8]}"
    async with AsyncClient(served.url) as client:
        await client.push_workflow(_definition(name, "1h"))
        execution = await client.start(name, {"who": "ada"})
        cancelled = await client.cancel(execution.id)
        assert cancelled.state == "cancelled"
        assert (await client.wait(execution.id, within=10)).state == "cancelled"
        short = await client.start(name, {}, wait=0.1)
        assert short.state in ("delayed", "running", "idle")
    async with AsyncClient("http://127.0.0.1:9") as nowhere:
        with pytest.raises(UnavailableError) as unreachable:
            await nowhere.get(uuid.uuid4())
    assert (unreachable.value.status, unreachable.value.code) == (0, "unreachable")


def _cli(served: Served, *argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*conveyor_command(), *argv], env=served.env, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_cli_starts_waits_shows_sends_and_pipes_cleanly(served: Served, tmp_path: Path) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    (tmp_path / "flow.json").write_text(json.dumps(_definition(name)))
    (tmp_path / "input.json").write_text('{"email": "ada@example.com"}')
    assert _cli(served, "--version", cwd=tmp_path).stdout.startswith("conveyor ")
    assert _cli(served, "workflows", "push", "flow.json", cwd=tmp_path).returncode == 0

    started = _cli(served, "executions", "start", name, "--input", "@input.json", "--wait", cwd=tmp_path)
    assert started.returncode == 0, started.stderr
    assert "completed" in started.stdout
    assert "HISTORY" in started.stdout
    assert "STEPS" in started.stdout

    listed = _cli(served, "executions", "list", "--workflow", name, cwd=tmp_path)
    assert listed.stdout.splitlines()[1].split()[1] == name  # the workflow's name, not its id

    sent = _cli(served, "events", "send", "user.engaged", "--payload", '{"email": "ada@example.com"}', cwd=tmp_path)
    assert sent.returncode == 0, sent.stderr
    assert "sent user.engaged" in sent.stdout

    psql = _cli(served, "psql", "-tA", "-c", f"SELECT count(*) FROM workflows WHERE name = '{name}'", cwd=tmp_path)
    assert (psql.returncode, psql.stdout.strip()) == (0, "1"), psql.stderr

    missing = _cli(served, "executions", "show", str(uuid.uuid4()), cwd=tmp_path)
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: not_found")

    with Client(served.url) as client:  # enough executions that the JSON outgrows a pipe's buffer
        for n in range(150):
            client.start(name, {"n": n})
    piped = subprocess.run(
        ["bash", "-c", f"{' '.join(conveyor_command())} executions list --limit 1000 --json | head -n 1"],
        env=served.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert piped.stdout == "{\n"
    assert "Traceback" not in piped.stderr
    assert "BrokenPipeError" not in piped.stderr
