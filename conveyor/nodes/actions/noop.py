"""An action that does nothing: for benchmarks and tests of the engine itself."""

from __future__ import annotations

from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.nodes.base import StepContext


async def noop(params: JSONObject, ctx: StepContext) -> JSONValue:
    """Return the params unchanged."""
    return params
