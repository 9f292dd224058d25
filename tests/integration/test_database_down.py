"""With the database gone, every route that needs it answers 503 with a JSON error and Retry-After."""

from __future__ import annotations

import re
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from conveyor.config import Settings
from conveyor.db import create_pool
from conveyor.http.app import create_app
from conveyor.secret_cipher import generate_key
from tests.integration.conftest import ApiClient

# Routes that answer without the database, by design.
_NO_DATABASE = {
    "/health/live",
    "/metrics",
    "/node-types",
    "/state-machine",
    "/",
    "/dashboard/{name}",
    "/openapi.json",
    "/docs",
    "/session",
}
_HEALTH = {"/health", "/health/ready"}
# A body each route accepts, so that the request gets as far as the database.
_DEFINITION = {"name": "n", "start": "a", "nodes": [{"id": "a", "type": "action", "action": "noop"}]}
_VALID = {
    ("POST", "/workflows"): _DEFINITION,
    ("PUT", "/workflows/{id}"): _DEFINITION,
    ("PUT", "/templates/{name}"): {"subject": "s", "text_body": "t"},
    ("POST", "/executions/{id}/retry"): {},
    ("POST", "/executions/bulk/{event}"): {"ids": [str(uuid.uuid4())]},
    ("POST", "/recovery/recover"): {},
    ("POST", "/workflows/{id}/triggers"): {"type": "event", "event": "signup"},
    ("POST", "/events"): {"type": "signup", "payload": {}},
    ("PUT", "/secrets/{secret}"): {"value": "a value long enough"},
    ("POST", "/keys"): {"role": "viewer"},
    ("POST", "/drafts"): _DEFINITION,
    ("POST", "/definitions/check"): _DEFINITION,
}
# Path parameters that are not ids, by name: a value each accepts.
_PARAMETERS = {"version": "1", "event": "cancel", "secret": "CRM_TOKEN"}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def api_without_database(aiohttp_client: Callable[..., Awaitable[ApiClient]]) -> AsyncIterator[ApiClient]:
    """The API on a pool whose server is not there (nothing listens on its port)."""
    pool = await create_pool(f"postgresql://conveyor@127.0.0.1:{_closed_port()}/conveyor", min_size=0)
    try:
        yield await aiohttp_client(create_app(pool, Settings(secret_key=generate_key(), key_secret="k" * 32)))
    finally:
        await pool.close()


def _fill(pattern: str) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: _PARAMETERS.get(m.group(1), str(uuid.uuid4())), pattern)


def _routes(app: web.Application) -> list[tuple[str, str, str]]:
    routes = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if route.method in ("HEAD", "OPTIONS") or not path or path in _NO_DATABASE:
            continue
        routes.append((route.method, path, _fill(path)))
    return routes


async def test_every_route_answers_503_json_when_the_database_is_down(api_without_database: ApiClient) -> None:
    routes = _routes(api_without_database.app)
    assert len(routes) >= 10
    for method, pattern, path in routes:
        response = await api_without_database.request(method, path, json=_VALID.get((method, pattern), {"input": {}}))
        assert response.status == 503, f"{method} {path} answered {response.status}"
        body = await response.json()
        if path in _HEALTH:
            assert body["status"] == "unavailable"
            continue
        assert body["error"]["code"] == "database_unavailable", f"{method} {path}: {body}"
        assert response.headers["Retry-After"].isdigit(), f"{method} {path} has no Retry-After"


async def test_liveness_needs_no_database(api_without_database: ApiClient) -> None:
    response = await api_without_database.get("/health/live")
    assert response.status == 200
