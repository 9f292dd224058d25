"""Live transitions as Server-Sent Events: one execution's (resumable), or a workflow's feed."""

from __future__ import annotations

import uuid

import structlog
from aiohttp import web
from pydantic import Field

from conveyor.errors import NotFoundError, ValidationError
from conveyor.http.auth import principal_of
from conveyor.http.bodies import decimal, path_uuid
from conveyor.http.hub import EVENT_HUB, Subscription, SubscriptionEndedError
from conveyor.http.keys import POOL
from conveyor.http.operation import EVENT_STREAM, QueryModel, operation, query_of
from conveyor.http.scoping import namespace_of
from conveyor.http.shapes import execution_shape, transition_shape
from conveyor.http.sse import EventStream
from conveyor.statemachines import TERMINAL_STATES
from conveyor.store import connection
from conveyor.store.feed import history_events_between, snapshot
from conveyor.store.workflows import get_workflow

log = structlog.get_logger(__name__)

routes = web.RouteTableDef()

# A comment this often keeps proxies from closing a quiet stream.
KEEPALIVE_SECONDS = 15.0
_MAX_EVENT_ID = 2**63 - 1


def last_event_id(request: web.Request) -> int | None:
    """The history id a reconnecting client saw last, or a 422 naming the header."""
    raw = request.headers.get("Last-Event-ID")
    if raw is None or not raw.strip():
        return None
    value = decimal(raw.strip(), _MAX_EVENT_ID)
    if value is None:
        raise ValidationError("Last-Event-ID must be an event id this API sent", field="Last-Event-ID", value=raw[:100])
    return value


class StreamQuery(QueryModel):
    """Which workflow's transitions GET /events/stream sends."""

    workflow: str | None = Field(default=None, description="a workflow's id or name; all when absent")


@routes.get("/executions/{id}/events")
@operation(media=EVENT_STREAM, path={"id": uuid.UUID}, errors=(404, 422))
async def execution_events(request: web.Request) -> web.StreamResponse:
    """The execution's state, then each transition as it commits, until it ends; resumes after Last-Event-ID."""
    execution_id = path_uuid(request)
    after = last_event_id(request)
    async with request.app[EVENT_HUB].subscribe(execution_id=execution_id) as subscription:
        # Subscribed first, then read: a row committed in between is both read and queued, never lost.
        async with connection(request.app[POOL]) as conn:
            now = await snapshot(conn, execution_id)
            if now is None or now.execution.namespace != namespace_of(request):
                raise NotFoundError(f"execution {execution_id} not found", field="id", value=str(execution_id))
            seen = now.last_history_id or 0
            missed = await history_events_between(conn, execution_id, after, seen) if after is not None else []
        stream = await EventStream.open(request)
        try:
            await stream.send("state", execution_shape(now.execution))
            for event in missed:
                await stream.send("transition", transition_shape(event), event.id)
            if now.execution.state not in TERMINAL_STATES:
                await _follow(stream, subscription, seen, until_terminal=True)
        except ConnectionResetError:
            log.debug("event_stream_left", execution_id=str(execution_id))
    return stream.response


@routes.get("/events/stream")
@operation(media=EVENT_STREAM, query=StreamQuery, errors=(404,))
async def event_stream(request: web.Request) -> web.StreamResponse:
    """Every transition from now on, of one workflow (`?workflow=` id or name) or of all."""
    workflow_id: uuid.UUID | None = None
    workflow = query_of(request, StreamQuery).workflow
    if workflow is not None:
        async with connection(request.app[POOL]) as conn:
            workflow_id = (await get_workflow(conn, workflow, namespace_of(request))).id
    # Every namespace's transitions go to a caller who spans namespaces (the bootstrap token); others see theirs.
    principal = principal_of(request)
    namespace = None if principal.spans_namespaces else principal.namespace
    async with request.app[EVENT_HUB].subscribe(workflow_id=workflow_id) as subscription:
        stream = await EventStream.open(request)
        try:
            await stream.comment("subscribed")
            await _follow(stream, subscription, 0, until_terminal=False, namespace=namespace)
        except ConnectionResetError:
            log.debug("event_stream_left", workflow_id=str(workflow_id))
    return stream.response


async def _follow(
    stream: EventStream, subscription: Subscription, seen: int, *, until_terminal: bool, namespace: str | None = None
) -> None:
    """Relay the subscription's events newer than `seen` (of one namespace, when named); stop after a terminal
    one if asked, or when it ends."""
    while True:
        try:
            event = await subscription.next(KEEPALIVE_SECONDS)
        except SubscriptionEndedError as exc:
            await stream.send("error", {"error": {"code": exc.code, "message": exc.message, "details": {}}})
            return
        if event is None:
            await stream.comment("keepalive")
            continue
        if event.id <= seen or (namespace is not None and event.namespace != namespace):
            continue
        await stream.send("transition", transition_shape(event), event.id)
        if until_terminal and event.entry.to_state in TERMINAL_STATES:
            return
