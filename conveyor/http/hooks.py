"""/hooks/{path}: inbound webhooks (POST, PUT or GET, as the trigger declares), proved by a signature over the
timestamp, the delivery id and the body (see triggers/hook_signature.py) or by a shared token, and answered at
once (`202`) or, with the trigger's `wait`, with the execution's output when it ends in time."""

from __future__ import annotations

import uuid
from datetime import datetime

from aiohttp import web

from conveyor.commands.triggers import Answered, await_delivery, deliver_hook, find_hook
from conveyor.errors import (
    BodyTooLargeError,
    HookNotFoundError,
    HookTokenError,
    MethodNotAllowedError,
    ValidationError,
)
from conveyor.http.bodies import json_body, storable_text
from conveyor.http.errors import BadRequestError
from conveyor.http.keys import POOL, THROTTLE, WAITS
from conveyor.http.operation import operation
from conveyor.http.resources import Answer
from conveyor.http.shapes import respond
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.statemachines import TERMINAL_STATES
from conveyor.store import connection
from conveyor.store.triggers import database_now
from conveyor.triggers.hook_signature import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Proof,
    verify,
    verify_legacy,
)
from conveyor.triggers.webhook import WebhookTrigger, is_hook_path

routes = web.RouteTableDef()

MAX_HOOK_BODY_BYTES = 1024 * 1024
_MAX_DELIVERY_CHARS = 500
_ERRORS = (401, 404, 405, 429)


class DeliveryAccepted(Answer):
    """The inbox row a delivery became; `duplicate` when it was received before (its X-Conveyor-Delivery, or a
    signed delivery sent again); `id` is null for a replay whose row retention has already deleted."""

    id: int | None
    duplicate: bool


class DeliveryAnswered(Answer):
    """A delivery to a hook with `wait`: its row's outcome and the execution it started, with its state, output
    and error; 200 once that has ended, 202 (and a Location) when it had not within the wait."""

    id: int | None
    duplicate: bool
    outcome: str | None
    reason: str | None
    execution_id: uuid.UUID | None
    state: str | None
    output: JSONValue
    error: JSONValue


@routes.post("/hooks/{path:.+}")
@operation(DeliveryAccepted, status=202, also={200: DeliveryAnswered}, body=JSONObject, public=True, errors=_ERRORS)
async def post_hook(request: web.Request) -> web.Response:
    """Store one delivery as an inbox row and answer 202 once it is committed; nothing is stored on a 4xx."""
    return await _deliver(request)


@routes.put("/hooks/{path:.+}")
@operation(DeliveryAccepted, status=202, also={200: DeliveryAnswered}, body=JSONObject, public=True, errors=_ERRORS)
async def put_hook(request: web.Request) -> web.Response:
    """The same as POST, for a hook whose trigger lists PUT in its `methods`."""
    return await _deliver(request)


@routes.get("/hooks/{path:.+}")
@operation(DeliveryAccepted, status=202, also={200: DeliveryAnswered}, public=True, errors=_ERRORS)
async def get_hook(request: web.Request) -> web.Response:
    """A delivery whose payload is the query parameters, for a hook whose trigger lists GET in its `methods`."""
    return await _deliver(request)


async def _deliver(request: web.Request) -> web.Response:
    path = request.match_info["path"]
    if not is_hook_path(path):
        raise HookNotFoundError(field="path")
    async with connection(request.app[POOL]) as conn:
        trigger, model = await find_hook(conn, path)
        assert isinstance(model, WebhookTrigger)
        now = await database_now(conn) if model.secret is not None else None
    if request.method not in model.methods:
        raise MethodNotAllowedError(
            f"this hook answers {' and '.join(model.methods)}, not {request.method}", allowed=list(model.methods)
        )
    delivery = request.headers.get(DELIVERY_HEADER)
    if delivery is not None and not (0 < len(delivery) <= _MAX_DELIVERY_CHARS and storable_text(delivery)):
        raise ValidationError(
            f"{DELIVERY_HEADER} must have 1 to {_MAX_DELIVERY_CHARS} characters of valid text", field=DELIVERY_HEADER
        )
    signed = request.rel_url.raw_query_string.encode() if request.method == "GET" else await _body(request)
    proof = _prove(model, request, signed, delivery, now)
    if model.rate_limit is not None:
        request.app[THROTTLE].admit(trigger.id, trigger.version, model.rate_limit)
    payload = _query_payload(request) if request.method == "GET" else await json_body(request)
    if not isinstance(payload, dict):
        raise BadRequestError("a webhook body must be a JSON object", field="body")
    pool = request.app[POOL]
    row_id, new = await deliver_hook(pool, trigger.id, payload, delivery, proof)
    if model.wait is None or row_id is None:
        return respond(DeliveryAccepted(id=row_id, duplicate=not new), status=202)
    with request.app[WAITS].slot() as free:
        answered = await await_delivery(pool, row_id, model.wait.total_seconds() if free else 0)
    return _answer(trigger.id, row_id, new, answered)


def _prove(
    model: WebhookTrigger, request: web.Request, signed: bytes, delivery: str | None, now: datetime | None
) -> Proof | None:
    """Refuse a delivery without the hook's token or signature; the proof of a v1-signed one."""
    if not model.token_matches(request.headers.get(model.token_header)):
        raise HookTokenError(f"this hook needs its token in the {model.token_header} header", field=model.token_header)
    if model.secret is None:
        return None
    assert now is not None
    signature = request.headers.get(SIGNATURE_HEADER)
    if model.signature == "v1":
        return verify(model.secret, signature, delivery or "", signed, now, model.tolerance)
    timestamp = request.headers.get(TIMESTAMP_HEADER)
    verify_legacy(
        model.secret, signed, signature, timestamp, now, model.tolerance, require_timestamp=model.require_timestamp
    )
    return None


def _query_payload(request: web.Request) -> JSONObject:
    """A GET's query parameters as a JSON object: a parameter given more than once is a list of its values."""
    payload: JSONObject = {}
    for name in request.query:
        if name in payload:
            continue
        values = request.query.getall(name)
        for text in (name, *values):
            if not storable_text(text):
                raise BadRequestError("a query parameter holds a NUL character or a lone surrogate", field=name[:100])
        payload[name] = values[0] if len(values) == 1 else list(values)
    return payload


def _answer(trigger_id: uuid.UUID, row_id: int, new: bool, answered: Answered) -> web.Response:
    row, execution = answered.row, answered.execution
    pending = row is not None and (row.consumed_at is None or (row.outcome == "coalesced" and not execution))
    running = pending or (execution is not None and execution.state not in TERMINAL_STATES)
    response = respond(
        DeliveryAnswered(
            id=row_id,
            duplicate=not new,
            outcome=row.outcome if row else None,
            reason=row.reason if row else None,
            execution_id=execution.id if execution else None,
            state=execution.state if execution else None,
            output=execution.output if execution else None,
            error=execution.error if execution else None,
        ),
        status=202 if running else 200,
    )
    if running:
        response.headers["Location"] = f"/executions/{execution.id}" if execution else f"/triggers/{trigger_id}/rows"
    return response


async def _body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_HOOK_BODY_BYTES:
        raise BodyTooLargeError(
            f"a webhook body may have at most {MAX_HOOK_BODY_BYTES} bytes", field="body", max_bytes=MAX_HOOK_BODY_BYTES
        )
    body = await request.read()  # kept by the request, so json_body parses these same bytes
    if len(body) > MAX_HOOK_BODY_BYTES:
        raise BodyTooLargeError(
            f"a webhook body may have at most {MAX_HOOK_BODY_BYTES} bytes", field="body", max_bytes=MAX_HOOK_BODY_BYTES
        )
    return body
