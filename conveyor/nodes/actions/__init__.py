"""Actions an action node can run, by name."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.nodes.actions.noop import noop
from conveyor.nodes.actions.send_email import send_email
from conveyor.nodes.base import StepContext

Action = Callable[[JSONObject, StepContext], Awaitable[JSONValue]]

ACTIONS: dict[str, Action] = {
    "send_email": send_email,
    "noop": noop,
}
# The param of each action that names an email template, checked to exist when a definition is saved.
TEMPLATE_PARAMS: dict[str, str] = {"send_email": "template"}
