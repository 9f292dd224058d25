"""Security headers on every answer; JSON answers also forbid running or framing anything."""

from __future__ import annotations

from aiohttp import web

_EVERY_ANSWER = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_JSON_POLICY = "default-src 'none'; frame-ancestors 'none'"


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Set the headers just before the answer goes out, error answers and streams included.

    An HTML page sets its own Content-Security-Policy; one that has none gets the JSON policy.
    """
    for name, value in _EVERY_ANSWER.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Content-Security-Policy", _JSON_POLICY)
