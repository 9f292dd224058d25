"""/secrets: write-only named secrets; answers carry names, sources and times, never a value."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from conveyor.http.bodies import model_body
from conveyor.http.keys import VAULT
from conveyor.http.operation import operation
from conveyor.http.resources import Page, SecretAnswer
from conveyor.http.scoping import namespace_of
from conveyor.http.shapes import respond
from conveyor.roles import Role
from conveyor.vault import MAX_VALUE_CHARS, SecretEntry, check_name

routes = web.RouteTableDef()


class SecretBody(BaseModel):
    """The body of PUT /secrets/{name}."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    value: str = Field(max_length=MAX_VALUE_CHARS)


def secret_shape(entry: SecretEntry) -> SecretAnswer:
    """A secret as the API shows it: no value."""
    return SecretAnswer(name=entry.name, source=entry.source, updated_at=entry.updated_at)


@routes.get("/secrets")
@operation(Page[SecretAnswer])
async def get_secrets(request: web.Request) -> web.Response:
    """Every secret's name, source (env or table) and last write."""
    entries = await request.app[VAULT].entries(namespace_of(request))
    return respond(Page[SecretAnswer](items=[secret_shape(e) for e in entries]))


@routes.put("/secrets/{secret}")
@operation(SecretAnswer, also={201: SecretAnswer}, body=SecretBody, errors=(409, 422), role=Role.ADMIN)
async def put_one(request: web.Request) -> web.Response:
    """Store a secret, encrypted; 201 when new. 409 without CONVEYOR_SECRET_KEY."""
    name = check_name(request.match_info["secret"])
    body = await model_body(request, SecretBody)
    entry, created = await request.app[VAULT].put(name, body.value, namespace_of(request))
    return respond(secret_shape(entry), status=201 if created else 200)


@routes.delete("/secrets/{secret}")
@operation(None, status=204, errors=(404, 409, 422), role=Role.ADMIN)
async def delete_one(request: web.Request) -> web.Response:
    """Delete a stored secret."""
    await request.app[VAULT].delete(request.match_info["secret"], namespace_of(request))
    return web.Response(status=204)
