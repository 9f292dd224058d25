"""`conveyor keys` against a real API on 127.0.0.1, signed in with CONVEYOR_API_KEY or the config file."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from structlog.testing import capture_logs

from conveyor.cli import main
from conveyor.http.app import create_app
from conveyor.store import Pool
from tests.integration.test_roles import TOKEN, access_settings

Cli = Callable[..., Awaitable[int]]


@pytest.fixture
async def conveyor_cli(
    db: Pool, aiohttp_server: Callable[..., Awaitable[TestServer]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Cli:
    """Run `conveyor …` in a thread against a guarded API; no credential in the environment until a test sets one."""
    server = await aiohttp_server(create_app(db, access_settings()), host="127.0.0.1")
    monkeypatch.setenv("CONVEYOR_URL", str(server.make_url("/")))
    monkeypatch.setenv("CONVEYOR_CONFIG", str(tmp_path / "config.toml"))
    for name in ("CONVEYOR_API_TOKEN", "CONVEYOR_API_KEY"):
        monkeypatch.delenv(name, raising=False)

    async def run(*argv: str) -> int:
        def call() -> int:
            try:
                main(list(argv))
            except SystemExit as exc:
                return int(exc.code or 0)
            return 0

        with capture_logs():
            return await asyncio.to_thread(call)

    return run


async def test_keys_create_list_and_revoke(
    conveyor_cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CONVEYOR_API_KEY", TOKEN)
    assert await conveyor_cli("keys", "create", "--role", "operator", "--namespace", "team-a", "--expires", "90d") == 0
    printed = capsys.readouterr().out.splitlines()
    key = printed[0]
    assert key.startswith("cvk_")
    assert "shown this once" in printed[1]

    monkeypatch.delenv("CONVEYOR_API_KEY")
    (tmp_path / "config.toml").write_text(f'key = "{key}"\n')
    assert await conveyor_cli("workflows", "list") == 0
    capsys.readouterr()
    assert await conveyor_cli("keys", "list") == 1  # an operator is no admin
    assert "role_too_low" in capsys.readouterr().err

    monkeypatch.setenv("CONVEYOR_API_KEY", TOKEN)
    assert await conveyor_cli("keys", "list", "--json") == 0
    assert json.loads(capsys.readouterr().out)["items"] == []  # the token acts in the default namespace


async def test_a_bad_expiry_is_refused_before_any_call(conveyor_cli: Cli, capsys: pytest.CaptureFixture[str]) -> None:
    assert await conveyor_cli("keys", "create", "--role", "viewer", "--expires", "someday") == 2
    assert "neither a duration" in capsys.readouterr().err
