"""/events: an event becomes one inbox row per event trigger of its type (a disabled one's is consumed as such)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from conveyor.commands.triggers import post_event
from conveyor.http.bodies import model_body
from conveyor.http.keys import POOL
from conveyor.http.operation import operation
from conveyor.http.resources import Answer
from conveyor.http.scoping import namespace_of
from conveyor.http.shapes import respond
from conveyor.jsonvalue import JSONObject
from conveyor.roles import Role
from conveyor.triggers.event import EventType

routes = web.RouteTableDef()


class PostEvent(BaseModel):
    """The body of POST /events."""

    model_config = ConfigDict(extra="forbid")

    type: EventType
    payload: JSONObject = {}
    dedupe_key: str | None = Field(default=None, min_length=1, max_length=500)


class EventAccepted(Answer):
    """The inbox rows an event became, one per event trigger of its type."""

    ids: list[int]


@routes.post("/events")
@operation(EventAccepted, status=202, body=PostEvent, role=Role.OPERATOR)
async def post(request: web.Request) -> web.Response:
    """Accept an event: 202 with the inbox rows written (the same dedupe key again: the same rows)."""
    body = await model_body(request, PostEvent)
    ids = await post_event(request.app[POOL], body.type, body.payload, body.dedupe_key, namespace_of(request))
    return respond(EventAccepted(ids=ids), status=202)
