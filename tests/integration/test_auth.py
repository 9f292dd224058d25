"""Bearer tokens guard the API and /metrics; probes and inbound hooks stay open; bodies have a size limit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from structlog.testing import capture_logs

from conveyor.config import Settings
from conveyor.http.app import create_app
from conveyor.store import Pool
from tests.integration.conftest import JSON, ApiClient

TOKEN = "s3cret-token-value"
Client = Callable[..., Awaitable[ApiClient]]


@pytest.fixture
async def guarded(db: Pool, aiohttp_client: Client) -> ApiClient:
    """The API with an API token, a metrics token and a small body limit."""
    settings = Settings(api_token=TOKEN, metrics_token="metrics-token", max_body_bytes=2048)
    return await aiohttp_client(create_app(db, settings))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("headers", [{}, bearer("wrong"), {"Authorization": TOKEN}, {"Authorization": "Basic x"}])
async def test_a_missing_or_wrong_token_is_401_with_a_challenge(guarded: ApiClient, headers: dict[str, str]) -> None:
    response = await guarded.get("/emails", headers=headers)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await response.json())["error"]["code"] == "unauthorized"


async def test_the_right_token_is_let_in(guarded: ApiClient) -> None:
    assert (await guarded.get("/emails", headers=bearer(TOKEN))).status == 200
    assert (await guarded.get("/emails", headers={"Authorization": f"bearer {TOKEN}"})).status == 200


async def test_unknown_routes_are_401_before_404_so_routes_do_not_leak(guarded: ApiClient) -> None:
    assert (await guarded.get("/nowhere")).status == 401
    assert (await guarded.get("/nowhere", headers=bearer(TOKEN))).status == 404


async def test_health_needs_no_token(guarded: ApiClient) -> None:
    assert (await guarded.get("/health/live")).status == 200
    assert (await guarded.get("/health")).status == 200


async def test_metrics_has_its_own_token(guarded: ApiClient) -> None:
    assert (await guarded.get("/metrics", headers=bearer(TOKEN))).status == 401
    assert (await guarded.get("/metrics", headers=bearer("metrics-token"))).status == 200


async def test_without_a_token_configured_the_api_is_open(api: ApiClient) -> None:
    assert (await api.get("/emails")).status == 200
    assert (await api.get("/metrics")).status == 200


async def test_the_token_is_never_logged(guarded: ApiClient) -> None:
    with capture_logs() as logs:
        await guarded.get("/emails", headers=bearer(TOKEN + "x"))
        await guarded.post("/workflows", headers=bearer(TOKEN) | JSON, data="{bad")
    assert TOKEN not in repr(logs)
    assert TOKEN not in repr(Settings(api_token=TOKEN))


async def test_a_body_over_the_limit_is_413(guarded: ApiClient) -> None:
    response = await guarded.post("/workflows", headers=bearer(TOKEN) | JSON, data="[" + "1," * 2000 + "1]")
    assert response.status == 413
    error = (await response.json())["error"]
    assert error["code"] == "body_too_large"
    assert error["details"] == {"field": "body", "max_bytes": 2048}
    assert "CONVEYOR_MAX_BODY" in error["message"]  # the setting that would allow it


async def test_metrics_need_the_api_token_when_they_have_none_of_their_own(db: Pool, aiohttp_client: Client) -> None:
    api = await aiohttp_client(create_app(db, Settings(api_token=TOKEN)))
    refused = await api.get("/metrics")
    assert refused.status == 401
    assert (await refused.json())["error"]["details"]["field"] == "Authorization"
    assert (await api.get("/metrics", headers=bearer("wrong"))).status == 401
    assert (await api.get("/metrics", headers=bearer(TOKEN))).status == 200
