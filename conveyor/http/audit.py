"""The audit trail over HTTP: every request that changes something is recorded; GET /audit lists the trail."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import structlog
from aiohttp import web
from pydantic import Field, field_validator

from conveyor.errors import ConveyorError
from conveyor.http.auth import principal_of
from conveyor.http.cursor import PageQuery, id_cursor, page_of
from conveyor.http.errors import Handler
from conveyor.http.instant import query_instant
from conveyor.http.keys import POOL
from conveyor.http.operation import declared_operation, operation, query_of
from conveyor.http.request_id import REQUEST_ID
from conveyor.http.resources import AuditAnswer, Page
from conveyor.http.shapes import respond
from conveyor.jsonvalue import JSONObject
from conveyor.roles import Role
from conveyor.store import connection
from conveyor.store.audit_trail import Actor, AuditEntry, AuditFilter, Origin, list_audit, record_change

log = structlog.get_logger(__name__)

routes = web.RouteTableDef()

_READS = frozenset({"GET", "HEAD", "OPTIONS"})
# What of a created or changed resource's answer names it in the trail.
_NAMING_FIELDS = ("id", "name")  # never "key": a made API key is in its answer


def actor_of(request: web.Request) -> Actor:
    """Who the request acts as and where it came from, as the audit trail and history record it."""
    return Actor(principal_of(request), Origin(request.get(REQUEST_ID), request.remote))


def _target(request: web.Request, response: web.StreamResponse) -> JSONObject:
    """The path's parameters, and what the answer names (a created resource's id)."""
    target: JSONObject = dict(request.match_info)
    if isinstance(response, web.Response) and response.content_type == "application/json" and response.body:
        try:
            answer = json.loads(bytes(response.body))  # type: ignore[arg-type]
        except ValueError:
            return target
        if isinstance(answer, dict):
            target |= {k: answer[k] for k in _NAMING_FIELDS if isinstance(answer.get(k), str | int)}
    return target


@web.middleware
async def audit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Record each successful change a caller made (public routes, such as inbound hooks, are no caller's)."""
    response = await handler(request)
    declared = declared_operation(request.match_info.route.handler)
    # A viewer's route changes nothing, even one sent as a POST (a definition's check).
    changes = declared is not None and not declared.public and declared.role > Role.VIEWER
    if request.method in _READS or not changes or response.status >= 400:
        return response
    action = f"{request.method} {request.match_info.route.resource.canonical}"  # type: ignore[union-attr]
    try:
        async with connection(request.app[POOL]) as conn:
            await record_change(conn, actor_of(request), action, _target(request, response), response.status)
    except ConveyorError as exc:  # the change is made: the caller must learn it was, so the miss is logged
        log.error("audit_not_recorded", action=action, error=exc.message, request_id=request.get(REQUEST_ID))
    return response


class AuditQuery(PageQuery):
    """The filters of GET /audit: each given one narrows the list."""

    actor: str | None = Field(default=None, max_length=300, description='"key:<id>", "jwt:<subject>" or "token"')
    action: str | None = Field(default=None, max_length=300, description='e.g. "PUT /workflows/{id}" or "cancel"')
    execution: uuid.UUID | None = Field(default=None, description="entries about this execution")
    since: datetime | None = Field(default=None, description="an ISO 8601 time")
    until: datetime | None = Field(default=None, description="an ISO 8601 time")

    @field_validator("since", "until", mode="before")
    @classmethod
    def _instant(cls, value: object) -> object:
        return query_instant(value)


def audit_shape(entry: AuditEntry) -> AuditAnswer:
    """An audit entry as the API shows it."""
    return AuditAnswer.model_validate(entry, from_attributes=True)


@routes.get("/audit")
@operation(Page[AuditAnswer], query=AuditQuery, errors=(422,), role=Role.ADMIN)
async def get_audit(request: web.Request) -> web.Response:
    """The namespace's audit trail, newest first, filtered by actor, action, execution and time, a page at a time."""
    query = query_of(request, AuditQuery)
    where = AuditFilter(
        principal_of(request).namespace, query.actor, query.action, query.execution, query.since, query.until
    )
    async with connection(request.app[POOL]) as conn:
        found = await list_audit(conn, where, id_cursor(request) or None, query.limit + 1)
    return respond(page_of(found, query.limit, audit_shape, lambda e: (str(e.id),)))
