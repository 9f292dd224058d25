"""Run one action for one step: check its params against its model, give it its declared secrets, call it (on the
event loop or in an action thread), watch its heartbeat, and check that what it returns is JSON."""

from __future__ import annotations

import asyncio
import contextvars
import json
import threading
import time
from collections.abc import Awaitable, Callable
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from conveyor.errors import PermanentStepError, StepTimeoutError
from conveyor.jsonvalue import JSONValue
from conveyor.nodes.actions.context import ActionContext
from conveyor.nodes.actions.registry import ActionSpec
from conveyor.nodes.base import StepContext
from conveyor.validation_messages import problems


class ActionParamsError(PermanentStepError):
    """The rendered params do not meet the action's params model."""

    code = "invalid_action_params"


class ActionResultError(PermanentStepError):
    """The action returned something that cannot be stored as JSON, or that breaks its output model."""

    code = "invalid_action_result"


async def invoke(spec: ActionSpec, params: JSONValue, ctx: StepContext, heartbeat_timeout: float | None) -> JSONValue:
    """The action's JSON result; any exception it raises is the step's failure."""
    checked = _checked_params(spec, params)
    secrets = await ctx.services.vault.values(spec.secrets, ctx.namespace) if spec.secrets else {}
    ctx.secrets.update(secrets)  # what the step's commit redacts
    actx = ActionContext(
        idempotency_key=ctx.idempotency_key,
        attempt=ctx.attempt,
        execution_id=ctx.execution_id,
        workflow_id=ctx.workflow_id,
        node_id=ctx.node_id,
        log=ctx.log.bind(action=spec.key),
        secrets=MappingProxyType(secrets),
        cancelled=threading.Event(),
        step=ctx,
    )
    try:
        result = await _watched(_call(spec, checked, actx), actx, heartbeat_timeout)
    finally:
        actx.cancelled.set()  # a thread still running has been abandoned: tell it so
    return _json_result(spec, result)


def _call(spec: ActionSpec, params: Any, actx: ActionContext) -> Awaitable[Any]:
    if spec.is_async:
        return spec.function(params, actx)  # type: ignore[no-any-return]
    # A plain function runs in the bounded pool, with the caller's log context; never on the event loop.
    bound = contextvars.copy_context()
    return asyncio.get_running_loop().run_in_executor(
        actx.services.action_threads, bound.run, spec.function, params, actx
    )


async def _watched(call: Awaitable[Any], actx: ActionContext, heartbeat_timeout: float | None) -> Any:
    """The call's result; past `heartbeat_timeout` without a heartbeat, the step times out."""
    if heartbeat_timeout is None:
        return await call
    task = asyncio.ensure_future(call)
    try:
        while True:
            silent_for = time.monotonic() - actx.progress.beat_at
            if silent_for >= heartbeat_timeout:
                task.cancel()
                raise StepTimeoutError(
                    f"the action sent no heartbeat for {heartbeat_timeout:g} s (the node's heartbeat_timeout)",
                    field="heartbeat_timeout",
                )
            done, _ = await asyncio.wait({task}, timeout=heartbeat_timeout - silent_for)
            if done:
                return task.result()
    finally:
        task.cancel()


def _checked_params(spec: ActionSpec, params: JSONValue) -> Any:
    if spec.params is None:
        if not isinstance(params, dict):
            raise ActionParamsError(f"action {spec.key!r} takes an object of params", field="params")
        return params
    try:
        return spec.params.model_validate(params)
    except PydanticValidationError as exc:
        first = problems(exc, _under("params"), spec.params)[0]
        raise ActionParamsError(
            f"{first['pointer']} of action {spec.key!r} {first['message']}", field=first["pointer"]
        ) from exc


def _under(root: str) -> Callable[[tuple[int | str, ...]], str]:
    """A pointer maker for pydantic's error locations, below `root` (the params, the output)."""
    return lambda loc: "/".join([root, *(str(part) for part in loc)])


def _json_result(spec: ActionSpec, result: Any) -> JSONValue:
    if isinstance(result, BaseModel):
        result = result.model_dump(mode="json")
    if spec.output is not None:
        try:
            result = spec.output.model_validate(result).model_dump(mode="json")
        except PydanticValidationError as exc:
            first = problems(exc, _under("output"), spec.output)[0]
            raise ActionResultError(
                f"action {spec.key!r} returned {first['pointer']} that breaks its output model: {first['message']}"
            ) from exc
    try:
        json.dumps(result, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ActionResultError(f"action {spec.key!r} returned a value that is not JSON: {exc}") from exc
    return result
