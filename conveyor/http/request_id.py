"""Each request's id: the client's X-Request-Id when it is a short plain token, else a new one; echoed back."""

from __future__ import annotations

import re
import uuid

from aiohttp import web

from conveyor.http.errors import Handler

HEADER = "X-Request-Id"
REQUEST_ID = web.RequestKey("request_id", str)
# What a proxy's or a client's id may look like to be kept: it goes into logs and the audit trail.
_ACCEPTED = re.compile(r"[A-Za-z0-9._:-]{1,128}")


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give the request its id before anything else runs."""
    given = request.headers.get(HEADER, "")
    request[REQUEST_ID] = given if _ACCEPTED.fullmatch(given) else uuid.uuid4().hex
    return await handler(request)


async def echo_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """Tell the client the id its request is known by (error answers and streams included)."""
    if REQUEST_ID in request:
        response.headers[HEADER] = request[REQUEST_ID]
