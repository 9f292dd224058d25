"""What a page on another origin, or a name rebound to this machine, can make a browser send is refused, with or
without a token; the dashboard's own requests and a server's webhook deliveries still pass
(tests/corpora/cross_origin.json)."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from conveyor.config import Settings
from conveyor.http.app import create_app
from conveyor.store import Pool
from tests.corpus import corpus
from tests.integration.conftest import ApiClient
from tests.raw_http import send_raw

_TOKEN = "cross-origin-token"


def _other_port(port: int) -> int:
    """A port nothing here listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        other = int(s.getsockname()[1])
    return other if other != port else other + 1


def _settings(entry: dict[str, Any]) -> Settings:
    given = entry.get("settings", {})
    return Settings(
        api_token=_TOKEN if "api_token" in given else None,
        allowed_hosts=frozenset(given.get("allowed_hosts", ())),
        allowed_origins=frozenset(given.get("allowed_origins", ())),
    )


@pytest.mark.parametrize("entry", corpus("cross_origin.json", "requests", "note"))
async def test_a_cross_origin_request_is_refused_and_a_same_origin_one_passes(
    db: Pool, aiohttp_client: Callable[..., Awaitable[ApiClient]], entry: dict[str, Any]
) -> None:
    settings = _settings(entry)
    api = await aiohttp_client(create_app(db, settings), headers={"Authorization": f"Bearer {_TOKEN}"})
    workflow = {"name": "hostile", "start": "a", "nodes": [{"id": "a", "type": "delay", "duration": "1h"}]}
    assert (await api.post("/workflows", json=workflow)).status == 201
    execution = await (await api.post("/workflows/hostile/executions", json={"input": {}})).json()
    trigger = await (await api.post("/workflows/hostile/triggers", json={"type": "webhook", "path": "hostile"})).json()
    assert (await api.put("/templates/hostile", json={"subject": "s", "text_body": "t"})).status in (200, 201)
    port = api.server.port
    assert port is not None
    names = {
        "$OTHER_PORT": str(_other_port(port)),
        "$PORT": str(port),
        "$NAME": f"wf-{uuid.uuid4().hex[:8]}",
        "$EXECUTION": execution["id"],
        "$TRIGGER": trigger["id"],
        "$TOKEN": _TOKEN,
    }

    def filled(text: str) -> str:
        for name, value in names.items():
            text = text.replace(name, value)
        return text

    headers = [f"{name}: {filled(value)}".encode() for name, value in entry.get("headers", {}).items()]
    body = None
    if "body" in entry:
        raw = entry["body"]
        body = filled(raw if isinstance(raw, str) else json.dumps(raw)).encode()
        if entry["content_type"] is not None:
            headers.append(f"Content-Type: {entry['content_type']}".encode())
    host = filled(entry["host"]).encode() if "host" in entry else None
    answer = await send_raw(port, entry["method"], filled(entry["path"]), headers, body, host=host)
    assert answer.status == entry["status"], answer.error
    if "code" in entry:
        assert answer.error is not None
        assert (answer.error["code"], answer.error["details"]["field"]) == (entry["code"], entry["field"])
