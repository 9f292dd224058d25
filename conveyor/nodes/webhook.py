"""The webhook node: an outbound HTTP call, retried per policy, logged per attempt."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

import aiohttp
from yarl import URL

from conveyor.definitions import WebhookNode
from conveyor.errors import PermanentStepError, StepError
from conveyor.jsonvalue import JSONValue
from conveyor.nodes.base import Completed, Outcome, StepContext
from conveyor.nodes.ports import WebhookCall
from conveyor.nodes.webhook_guard import check_host
from conveyor.templating import render_value

_DEFAULT_TIMEOUT_SECONDS = 30.0
_LOGGED_BODY_CHARS = 10_000


class WebhookExecutor:
    """Runs webhook nodes."""

    def __init__(self, allowed_hosts: frozenset[str]) -> None:
        self._allowed = allowed_hosts

    async def execute(self, node: WebhookNode, ctx: StepContext) -> Outcome:
        """Call the URL; a 2xx answer's JSON (or text) is the output, anything else fails the attempt."""
        url = ctx.render("url", node.url)
        headers = render_value(node.headers, ctx.data)  # not kept as step input: headers carry secrets
        body = ctx.render("body", node.body)
        try:
            target = URL(str(url))
        except ValueError as exc:
            raise PermanentStepError(f"invalid webhook URL {url!r}") from exc
        if target.scheme not in ("http", "https") or not target.host:
            raise PermanentStepError(f"webhook URL must be http(s) with a host, got {url!r}")
        check_host(target.host, self._allowed)
        headers = {str(k): str(v) for k, v in headers.items()}
        headers.setdefault("Idempotency-Key", ctx.idempotency_key)
        timeout = node.timeout.total_seconds() if node.timeout else _DEFAULT_TIMEOUT_SECONDS
        started = time.perf_counter()
        status, text, error = None, None, None
        try:
            async with ctx.services.http.request(
                node.method,
                target,
                headers=headers,
                json=body if body is not None else None,
                timeout=aiohttp.ClientTimeout(total=timeout),
                allow_redirects=False,
            ) as response:
                status, text = response.status, await response.text()
        except PermanentStepError:
            raise
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        finally:
            if status is None and error is None:
                error = "cancelled: the step's timeout or a shutdown ended the call"
            await ctx.services.webhooks.record(
                ctx.execution_id,
                WebhookCall(
                    key=ctx.idempotency_key,
                    node=node.id,
                    attempt=ctx.attempt,
                    method=node.method,
                    url=str(target),
                    body=body,
                    status_code=status,
                    response_body=text[:_LOGGED_BODY_CHARS] if text else text,
                    error=error,
                    duration_ms=(time.perf_counter() - started) * 1000,
                ),
            )
        if error is not None:
            raise StepError(f"webhook call failed: {error}", url=str(target))
        assert status is not None
        if not 200 <= status < 300:
            raise StepError(f"webhook answered HTTP {status}", url=str(target), status=status)
        return Completed(output={"status": status, "body": _parse(text or "")})


def _parse(text: str) -> JSONValue:
    try:
        parsed: JSONValue = json.loads(text)
    except ValueError:
        return text
    return parsed if not isinstance(parsed, Mapping) else dict(parsed)
