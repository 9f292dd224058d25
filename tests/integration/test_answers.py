"""Every answer, aiohttp's own errors included, is JSON with security headers and no internals."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from structlog.testing import capture_logs

from conveyor.cli import warn_if_open
from conveyor.config import Settings
from conveyor.http.app import create_app
from conveyor.store import Pool
from tests.integration.conftest import ApiClient


@pytest.fixture
async def client(db: Pool, aiohttp_client: Callable[..., Awaitable[ApiClient]]) -> ApiClient:
    app = create_app(db)

    async def crash(request: web.Request) -> web.Response:
        raise RuntimeError(f"secret internals in {__file__}")

    app.router.add_get("/crash", crash)
    return await aiohttp_client(app)


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/health", None, 200),
        ("GET", "/no/such/route", None, 404),
        ("DELETE", "/health", None, 405),
        ("POST", "/workflows", b"x" * (5 * 1024 * 1024), 413),
        ("POST", "/workflows", b"{", 400),
        ("GET", "/crash", None, 500),
    ],
)
async def test_every_answer_has_security_headers_and_errors_are_json(
    client: ApiClient, method: str, path: str, body: bytes | None, status: int
) -> None:
    response = await client.request(
        method, path, data=io.BytesIO(body) if body else None, headers={"Content-Type": "application/json"}
    )
    assert response.status == status
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert response.content_type == "application/json"
    text = await response.text()
    assert "Traceback" not in text
    assert "secret internals" not in text
    assert ".py" not in text
    if status >= 400:
        assert set((await response.json())["error"]) == {"code", "message", "details"}


@pytest.mark.parametrize(("host", "warned"), [("0.0.0.0", True), ("::", True), ("127.0.0.1", False), ("::1", False)])
def test_listening_beyond_loopback_without_a_token_warns(host: str, warned: bool) -> None:
    with capture_logs() as logs:
        warn_if_open(host, Settings())
    assert [e["event"] for e in logs] == (["api_open_without_token"] if warned else [])


def test_a_token_silences_the_warning() -> None:
    with capture_logs() as logs:
        warn_if_open("0.0.0.0", Settings(api_token="t"))
    assert logs == []
