"""The delay node: the execution waits as a row, for a duration or until a time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar, Literal

from pydantic import model_validator

from conveyor.definitions import Duration, NodeModel
from conveyor.errors import PermanentStepError
from conveyor.nodes.base import NodeKind, Outcome, Sleep, StepContext


class DelayNode(NodeModel):
    """Wait for a duration, or until a templated timestamp."""

    type: Literal["delay"]
    duration: Duration | None = None
    until: str | None = None

    templated: ClassVar[tuple[str, ...]] = ("until",)
    pacing: ClassVar[bool] = True

    @model_validator(mode="after")
    def _exactly_one(self) -> DelayNode:
        if (self.duration is None) == (self.until is None):
            raise ValueError("a delay node needs exactly one of 'duration' or 'until'")
        return self


def timestamp(value: object) -> datetime:
    """A timezone-aware moment from a datetime, epoch seconds or an ISO 8601 string (UTC when naive)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        moment = datetime.fromtimestamp(value, UTC)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise PermanentStepError(f"'until' gave {value!r}, not an ISO 8601 timestamp") from exc
    else:
        raise PermanentStepError(f"'until' gave {value!r}, not a timestamp")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def execute(node: DelayNode, ctx: StepContext) -> Outcome:
    """Ask the engine to wake the execution later."""
    if node.duration is not None:
        return Sleep(seconds=node.duration.total_seconds(), output={"seconds": node.duration.total_seconds()})
    until = timestamp(await ctx.render("until", node.until))
    return Sleep(until=until, output={"until": until.isoformat()})


KIND = NodeKind(DelayNode, execute)
