"""/sms: the text messages steps sent, newest first, of one execution or of all."""

from __future__ import annotations

import uuid
from datetime import datetime

from aiohttp import web
from pydantic import Field

from conveyor.http.keys import POOL
from conveyor.http.operation import Count, QueryModel, operation, query_of
from conveyor.http.resources import Answer, EmailStatusName, Page
from conveyor.http.scoping import namespace_of
from conveyor.http.shapes import respond
from conveyor.store import connection
from conveyor.store.sms import list_sms

routes = web.RouteTableDef()


class SmsQuery(QueryModel):
    """The filter and size of GET /sms."""

    execution: uuid.UUID | None = Field(default=None, description="the execution that sent them")
    limit: Count = Field(default=50, ge=1, le=1000)


class SmsAnswer(Answer):
    """A text message a step sent, or is sending."""

    execution_id: uuid.UUID
    idempotency_key: str
    node: str
    to: str = Field(validation_alias="recipient")
    body: str
    transport: str
    status: EmailStatusName
    provider_id: str | None
    error: str | None
    created_at: datetime
    sent_at: datetime | None


@routes.get("/sms")
@operation(Page[SmsAnswer], query=SmsQuery, errors=(422,))
async def get_sms(request: web.Request) -> web.Response:
    """The newest ?limit= text messages (50; at most 1000), of one ?execution= or of all."""
    query = query_of(request, SmsQuery)
    async with connection(request.app[POOL]) as conn:
        found = await list_sms(conn, namespace_of(request), query.execution, query.limit)
    return respond(Page(items=[SmsAnswer.model_validate(m, from_attributes=True) for m in found]))
