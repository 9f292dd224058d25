"""The webhook node: an outbound HTTP call, retried per policy, logged per attempt."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import ClassVar, Literal

import aiohttp
from pydantic import Field
from yarl import URL

from conveyor.answers import AnswerLimits, AnswerTooLargeError, AnswerTooSlowError, read_text
from conveyor.definitions import DELIVERY_RETRY, NodeModel, RetryPolicy
from conveyor.errors import PermanentStepError, StepError, StepTimeoutError
from conveyor.failpoints import Point, fail
from conveyor.jsonvalue import JSONValue
from conveyor.nodes.base import Completed, Defer, NodeKind, Outcome, StepContext
from conveyor.nodes.throttle import ThrottledError, host_key, throttled
from conveyor.rates import Rate
from conveyor.sendable import Sendable
from conveyor.services.webhook_guard import check_host
from conveyor.store import connection
from conveyor.store.webhooks import WebhookCall, insert_webhook_call

_DEFAULT_TIMEOUT_SECONDS = 30.0
_LOGGED_BODY_CHARS = 10_000


class WebhookNode(NodeModel):
    """Call an HTTP endpoint."""

    type: Literal["webhook"]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: str
    headers: dict[str, str] = {}
    body: JSONValue = None
    # Calls a second to the URL's host, across all workers and workflows; a call over the rate waits its turn.
    rate: float | None = Field(default=None, gt=0, le=100_000)
    retry: RetryPolicy = DELIVERY_RETRY

    templated: ClassVar[tuple[str, ...]] = ("url", "headers", "body")
    sendable: ClassVar[tuple[Sendable, ...]] = (Sendable("/url", "url"), Sendable("/headers", "headers"))


def _target(url: JSONValue, allowed: frozenset[str], shown: str) -> URL:
    """The URL to call; errors name it as `shown`, its record."""
    try:
        target = URL(str(url))
    except ValueError as exc:
        raise PermanentStepError(f"invalid webhook URL {shown!r}") from exc
    if target.scheme not in ("http", "https") or not target.host:
        raise PermanentStepError(f"webhook URL must be http(s) with a host, got {shown!r}")
    check_host(target.host, allowed)
    return target


async def execute(node: WebhookNode, ctx: StepContext) -> Outcome:
    """Call the URL, in its turn under the host's `rate`; a 2xx answer's JSON (or text) is the output."""
    url = await ctx.render("url", node.url)
    target = _target(url, ctx.services.webhook_allow_hosts, str(ctx.records["url"]))
    if node.rate is None:
        return await _send(node, ctx, target)
    try:
        async with throttled(ctx.services.pool, host_key(target.host or ""), Rate(node.rate), ctx.idempotency_key):
            return await _send(node, ctx, target)
    except ThrottledError as exc:
        return Defer(exc.slot_at, {"throttled": exc.key})


async def _send(node: WebhookNode, ctx: StepContext, target: URL) -> Outcome:
    """Call the URL once and log the attempt; anything but a 2xx answer fails it."""
    rendered_headers = await ctx.render("headers", node.headers, keep=False)  # not kept: credentials, often literal
    shown = str(ctx.records["url"])  # the URL as every record of this call names it
    headers = {str(k): str(v) for k, v in rendered_headers.items()}
    headers.setdefault("Idempotency-Key", ctx.idempotency_key)
    body = await ctx.render("body", node.body)
    started = time.perf_counter()
    status, text, error, timed_out, too_large = None, None, None, False, False
    try:
        status, text = await _call(ctx.services.http, node, target, headers, body, ctx.services.answers)
    except (aiohttp.ClientError, TimeoutError) as exc:
        # The node's timeout bounds both the call and the step: whichever fires first, it is a timeout.
        timed_out = isinstance(exc, TimeoutError)
        # aiohttp names the URL it called in some errors: as yarl wrote it, with the secrets it carries.
        error = f"{type(exc).__name__}: {exc}".replace(str(target), shown).replace(target.human_repr(), shown)
    except (AnswerTooLargeError, AnswerTooSlowError) as exc:
        timed_out, too_large = isinstance(exc, AnswerTooSlowError), isinstance(exc, AnswerTooLargeError)
        status, error = exc.details.get("status"), exc.message
    finally:
        if status is None and error is None:
            error = "cancelled: the step's timeout, a shutdown or a cancel of the execution ended the call"
        redact = ctx.redactor
        call = WebhookCall(
            ctx.execution_id,
            node.id,
            ctx.idempotency_key,
            ctx.attempt,
            node.method,
            shown,
            redact.value(body),
            status,
            redact.text(text[:_LOGGED_BODY_CHARS]) if text else text,
            redact.text(error) if error else error,
            (time.perf_counter() - started) * 1000,
        )
        async with connection(ctx.services.pool) as conn:
            fail(Point.STEP_WRITE)
            await insert_webhook_call(conn, call)
    if too_large and status is not None and not 200 <= status < 300:
        raise StepError(f"webhook answered HTTP {status}; {error}", url=shown, status=status)
    if too_large:
        # The call was made and succeeded: calling again would only fetch the same answer.
        raise PermanentStepError(f"webhook call failed: {error}", url=shown, setting="CONVEYOR_MAX_ANSWER")
    if timed_out:
        raise StepTimeoutError(f"webhook call timed out: {error}", url=shown)
    if error is not None:
        raise StepError(f"webhook call failed: {error}", url=shown)
    if status is None or not 200 <= status < 300:
        raise StepError(f"webhook answered HTTP {status}", url=shown, status=status)
    return Completed(output={"status": status, "body": _parse(text or "")})


async def _call(
    http: aiohttp.ClientSession,
    node: WebhookNode,
    target: URL,
    headers: dict[str, str],
    body: JSONValue,
    limits: AnswerLimits,
) -> tuple[int, str]:
    timeout = node.timeout.total_seconds() if node.timeout else _DEFAULT_TIMEOUT_SECONDS
    async with http.request(
        node.method,
        target,
        headers=headers,
        json=body,
        timeout=aiohttp.ClientTimeout(total=timeout),
        allow_redirects=False,
    ) as response:
        try:
            return response.status, await read_text(response, limits)
        except (AnswerTooLargeError, AnswerTooSlowError) as exc:
            exc.details["status"] = response.status  # a failed call's answer too large is retried as any failure
            raise


def _parse(text: str) -> JSONValue:
    try:
        parsed: JSONValue = json.loads(text)
    except ValueError:
        return text
    return parsed if not isinstance(parsed, Mapping) else dict(parsed)


KIND = NodeKind(WebhookNode, execute)
