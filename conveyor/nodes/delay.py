"""The delay node: the execution waits as a row, for a duration or until a time."""

from __future__ import annotations

from datetime import UTC, datetime

from conveyor.definitions import DelayNode
from conveyor.errors import PermanentStepError
from conveyor.nodes.base import Outcome, Sleep, StepContext


def _timestamp(value: object) -> datetime:
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


class DelayExecutor:
    """Runs delay nodes."""

    async def execute(self, node: DelayNode, ctx: StepContext) -> Outcome:
        """Ask the engine to wake the execution later."""
        if node.duration is not None:
            return Sleep(seconds=node.duration.total_seconds(), output={"seconds": node.duration.total_seconds()})
        until = _timestamp(ctx.render("until", node.until))
        return Sleep(until=until, output={"until": until.isoformat()})
