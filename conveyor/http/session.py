"""GET /session: who the caller is, its namespace and role, and which operations that role may call; the
dashboard shows the first and hides what the last leaves out."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from conveyor.http.auth import principal_of
from conveyor.http.openapi import allowed_operations
from conveyor.http.operation import operation
from conveyor.http.resources import Answer, RoleName
from conveyor.http.shapes import respond

routes = web.RouteTableDef()


class SessionAnswer(Answer):
    """The caller as the API sees it."""

    actor: str = Field(description='"key:<id>", "jwt:<subject>", "token" or "anonymous" (no token configured)')
    role: RoleName
    namespace: str
    may: list[str] = Field(description="the operationIds (of /openapi.json) the role allows")


@routes.get("/session")
@operation(SessionAnswer, database=False)
async def get_session(request: web.Request) -> web.Response:
    """The caller's actor, namespace and role, and the operations it may call."""
    principal = principal_of(request)
    return respond(
        SessionAnswer(
            actor=principal.actor,
            role=principal.role.label,
            namespace=principal.namespace,
            may=allowed_operations(request.app, principal.role),
        )
    )
