"""An action that does nothing: for benchmarks and tests of the engine itself."""

from __future__ import annotations

from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.nodes.actions.context import ActionContext
from conveyor.nodes.actions.registry import action


@action("noop", category="core")
async def noop(params: JSONObject, ctx: ActionContext) -> JSONValue:
    """Return the params unchanged."""
    return params
