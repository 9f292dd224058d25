"""The wait_for_event node: the execution waits, as a row, for an event its `match` rule accepts, or its timeout.

The first run parks the wait (WaitForEvent); the engine looks back for events already recorded in the same
transaction. Later runs read how the wait was closed: by an event (`on_event`, the payload as output), by
the timeout (`on_timeout`), or not yet (woken early: it waits on, to the same deadline).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import Field, PrivateAttr, model_validator

from conveyor.definitions import Duration, Edge, NodeId, NodeModel
from conveyor.event_types import EventType
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.nodes.base import Completed, NodeKind, Outcome, StepContext, WaitForEvent
from conveyor.nodes.delay import timestamp
from conveyor.rules import Rule, RuleError, compile_rule, is_truthy, rule_errors
from conveyor.store import connection
from conveyor.store.event_waits import close_on_timeout

_EVENT_PREFIX = "event."


class WaitForEventNode(NodeModel):
    """Wait for an event of one of `events` that `match` accepts, or for `timeout`; branch on which came."""

    type: Literal["wait_for_event"]
    events: Annotated[list[EventType], Field(min_length=1, max_length=20)]
    match: JSONValue = None
    until: str | None = None
    lookback: Duration | None = None
    on_event: NodeId | None = None
    on_timeout: NodeId | None = None

    templated: ClassVar[tuple[str, ...]] = ("until",)
    pacing: ClassVar[bool] = True

    _compiled: Rule | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _templated_timeout(cls, raw: object) -> object:
        # `timeout` is a duration or a templated time; a template is kept as `until`, rendered when the wait parks.
        if isinstance(raw, dict) and isinstance(raw.get("timeout"), str) and "{{" in raw["timeout"]:
            if "until" in raw:
                raise ValueError("give a templated time in 'timeout' or in 'until', not both")
            return {**{k: v for k, v in raw.items() if k != "timeout"}, "until": raw["timeout"]}
        return raw

    @model_validator(mode="after")
    def _branches_not_next(self) -> WaitForEventNode:
        if self.next is not None:
            raise ValueError("a wait_for_event node goes on by 'on_event' and 'on_timeout', not 'next'")
        return self

    def outgoing(self) -> list[Edge]:
        """`on_event` and `on_timeout`."""
        return [Edge("/on_event", self.on_event, "on_event"), Edge("/on_timeout", self.on_timeout, "on_timeout")]

    def content_errors(self, pointer: str) -> list[JSONObject]:
        """What the rule compiler finds wrong with `match`."""
        return [] if self.match is None else rule_errors(self.match, f"{pointer}/match")

    def accepts(self, event: JSONObject, data: JSONObject) -> bool:
        """Whether `match` accepts this event (`{"id", "type", "payload"}`) for an execution with this data."""
        if self.match is None:
            return True
        if self._compiled is None:
            self._compiled = compile_rule(self.match)
        try:
            return is_truthy(self._compiled.evaluate({**data, "event": event}))
        except RuleError:
            return False  # a rule that breaks on this event does not accept it

    def match_key(self, data: JSONObject) -> tuple[list[str], str] | None:
        """For a `match` of the form `{"==": [{"var": "event.payload.…"}, <not about the event>]}` (either
        order, or `===`), the event path and the text its value must have; None for any other rule."""
        if not isinstance(self.match, dict) or len(self.match) != 1:
            return None
        [(operator, operands)] = self.match.items()
        if operator not in ("==", "===") or not isinstance(operands, list) or len(operands) != 2:
            return None
        for event_side, other in (operands, operands[::-1]):
            path = _event_path(event_side)
            if path is None or _mentions_event(other):
                continue
            try:
                # a bare string is a literal (the compiler would read it as JSON text)
                value = other if isinstance(other, str) else compile_rule(other).evaluate(data)
            except RuleError:
                return None
            # Only a string is keyed: the index compares text, and JSON Logic's == would equate 1 and 1.0.
            return (path, value) if isinstance(value, str) else None
        return None


def _event_path(operand: JSONValue) -> list[str] | None:
    name = operand.get("var") if isinstance(operand, dict) and len(operand) == 1 else None
    if isinstance(name, list) and len(name) == 1:
        name = name[0]
    if not isinstance(name, str) or not name.startswith(_EVENT_PREFIX):
        return None
    path = name.removeprefix(_EVENT_PREFIX).split(".")
    return path if path[0] in ("type", "payload") and all(path) else None


def _mentions_event(value: JSONValue) -> bool:
    if isinstance(value, dict):
        var = value.get("var")
        first = var[0] if isinstance(var, list) and var else var
        if isinstance(first, str) and (first == "event" or first.startswith(_EVENT_PREFIX)):
            return True
        return any(_mentions_event(v) for v in value.values())
    if isinstance(value, list):
        return any(_mentions_event(v) for v in value)
    return False


async def execute(node: WaitForEventNode, ctx: StepContext) -> Outcome:
    """Park the wait on the first run; afterwards take the event, take the timeout, or wait on."""
    wait = await ctx.services.wait_reads.find(ctx.execution_id, ctx.visit)
    if wait is not None and not wait.closed and wait.due:
        async with connection(ctx.services.pool) as conn:
            wait = await close_on_timeout(conn, ctx.execution_id, ctx.visit)
    if wait is None:
        return await _park(node, ctx)
    if wait.event_id is not None:
        return Completed(output=wait.payload, branched=True, branch=node.on_event)
    if wait.closed:
        return Completed(output=None, branched=True, branch=node.on_timeout)
    return _wait(node, ctx, until=wait.deadline)  # woken early (a lapsed lease, a resume): wait on


async def _park(node: WaitForEventNode, ctx: StepContext) -> WaitForEvent:
    if node.until is not None:
        return _wait(node, ctx, until=timestamp(await ctx.render("until", node.until)))
    return _wait(node, ctx, seconds=node.timeout.total_seconds() if node.timeout is not None else None)


def _wait(
    node: WaitForEventNode, ctx: StepContext, *, until: datetime | None = None, seconds: float | None = None
) -> WaitForEvent:
    data = ctx.data
    return WaitForEvent(
        events=list(node.events),
        accepts=lambda event: node.accepts(event, data),
        key=node.match_key(data),
        lookback_seconds=node.lookback.total_seconds() if node.lookback is not None else None,
        until=until,
        seconds=seconds,
    )


KIND = NodeKind(WaitForEventNode, execute)
