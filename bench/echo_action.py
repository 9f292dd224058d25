"""An action of the team's own for the actions scenario: it returns its params, as noop does, but is declared
with `@action` and loaded into the worker by CONVEYOR_ACTIONS, so its figure is the registry's own cost."""

from __future__ import annotations

from conveyor import ActionContext, action
from conveyor.jsonvalue import JSONObject


@action("bench.echo", category="bench")
async def echo(params: JSONObject, ctx: ActionContext) -> JSONObject:
    """Return the params unchanged."""
    return params
