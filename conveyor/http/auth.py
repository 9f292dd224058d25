"""Bearer-token authentication: CONVEYOR_API_TOKEN guards the API, CONVEYOR_METRICS_TOKEN /metrics (the API token
when it is unset: metrics name workflows and triggers, so they are open only when the API is)."""

from __future__ import annotations

import hmac

from aiohttp import web

from conveyor.config import Settings
from conveyor.errors import UnauthorizedError
from conveyor.http.dashboard import ASSET_PREFIX
from conveyor.http.errors import Handler
from conveyor.http.keys import SETTINGS

_SCHEME = "bearer "


def _token_for(path: str, settings: Settings) -> str | None:
    """The token a path needs, or None when it is open."""
    if path == "/health" or path.startswith(("/health/", "/hooks/")):
        return None  # probes must answer without secrets; inbound hooks carry their own signature
    if path == "/" or path.startswith(ASSET_PREFIX):
        return None  # the dashboard's shell and assets hold no data; the page asks for the token itself
    if path == "/metrics":
        return settings.metrics_token or settings.api_token
    return settings.api_token


def _presents(request: web.Request, token: str) -> bool:
    header = request.headers.get("Authorization", "")
    if header[: len(_SCHEME)].lower() != _SCHEME:
        return False
    # Constant-time, so the answer's timing does not reveal how much of a guess was right.
    return hmac.compare_digest(header[len(_SCHEME) :].strip().encode(), token.encode())


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a request without the bearer token its path needs."""
    token = _token_for(request.path, request.app[SETTINGS])
    if token is not None and not _presents(request, token):
        raise UnauthorizedError("this route needs the header 'Authorization: Bearer <token>'", field="Authorization")
    return await handler(request)
