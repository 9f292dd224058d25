"""/hooks/{path}: inbound webhooks, signed with HMAC-SHA256 (over a timestamp too, against replays) when the
trigger has a secret."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from conveyor.engine.triggers import deliver_hook, find_hook
from conveyor.errors import HookNotFoundError, PayloadTooLargeError, SignatureError, ValidationError
from conveyor.http.bodies import json_body, storable_text
from conveyor.http.errors import BadRequestError
from conveyor.http.keys import POOL, THROTTLE
from conveyor.http.operation import operation
from conveyor.http.resources import Answer
from conveyor.http.shapes import respond
from conveyor.jsonvalue import JSONObject
from conveyor.store import connection
from conveyor.store.triggers import database_now
from conveyor.triggers.webhook import WebhookTrigger, is_hook_path, timestamp_problem

routes = web.RouteTableDef()

MAX_HOOK_BODY_BYTES = 1024 * 1024
_SIGNATURE = "X-Conveyor-Signature"
_DELIVERY = "X-Conveyor-Delivery"
_TIMESTAMP = "X-Conveyor-Timestamp"
_MAX_DELIVERY_CHARS = 500


class DeliveryAccepted(Answer):
    """The inbox row a delivery became; `duplicate` when its X-Conveyor-Delivery was seen before."""

    id: int
    duplicate: bool


@routes.post("/hooks/{path:.+}")
@operation(DeliveryAccepted, status=202, body=JSONObject, public=True, errors=(401, 404, 429))
async def post_hook(request: web.Request) -> web.Response:
    """Store one delivery as an inbox row and answer 202 once it is committed; nothing is stored on a 4xx."""
    path = request.match_info["path"]
    if not is_hook_path(path):
        raise HookNotFoundError(field="path")
    timestamp = request.headers.get(_TIMESTAMP)
    async with connection(request.app[POOL]) as conn:
        trigger, model = await find_hook(conn, path)
        now = await database_now(conn) if timestamp is not None else None
    assert isinstance(model, WebhookTrigger)
    body = await _body(request)
    _check_signature(model, body, request.headers.get(_SIGNATURE), timestamp, now)
    if model.rate_limit is not None:
        request.app[THROTTLE].admit(trigger.id, trigger.version, model.rate_limit)
    delivery = request.headers.get(_DELIVERY)
    if delivery is not None and not (0 < len(delivery) <= _MAX_DELIVERY_CHARS and storable_text(delivery)):
        raise ValidationError(
            f"{_DELIVERY} must have 1 to {_MAX_DELIVERY_CHARS} characters of valid text", field=_DELIVERY
        )
    payload = await json_body(request)
    if not isinstance(payload, dict):
        raise BadRequestError("a webhook body must be a JSON object", field="body")
    row_id, new = await deliver_hook(request.app[POOL], trigger.id, payload, delivery)
    return respond(DeliveryAccepted(id=row_id, duplicate=not new), status=202)


def _check_signature(
    model: WebhookTrigger, body: bytes, signature: str | None, timestamp: str | None, now: datetime | None
) -> None:
    """Refuse a delivery whose signature does not match, or whose signed timestamp is missing or stale."""
    if model.secret is None:
        return
    if timestamp is None and model.require_timestamp:
        raise SignatureError(f"this hook needs a signed {_TIMESTAMP} header", field=_TIMESTAMP)
    if not model.signed(body, signature, timestamp):
        signed = "the body" if timestamp is None else f"{_TIMESTAMP} + '.' + the body"
        raise SignatureError(f"{_SIGNATURE} must be sha256=<hex HMAC-SHA256 of {signed}>", field=_SIGNATURE)
    problem = timestamp_problem(timestamp, now) if timestamp is not None and now is not None else None
    if problem is not None:
        raise SignatureError(f"{_TIMESTAMP} {problem}", field=_TIMESTAMP)


async def _body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_HOOK_BODY_BYTES:
        raise PayloadTooLargeError(f"a webhook body may have at most {MAX_HOOK_BODY_BYTES} bytes", field="body")
    body = await request.read()  # kept by the request, so json_body parses these same bytes
    if len(body) > MAX_HOOK_BODY_BYTES:
        raise PayloadTooLargeError(f"a webhook body may have at most {MAX_HOOK_BODY_BYTES} bytes", field="body")
    return body
