"""Actions an action node can run, by name, each declared once: what runs it and which params mean what."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.nodes.actions.noop import noop
from conveyor.nodes.actions.send_email import send_email
from conveyor.nodes.base import StepContext

Action = Callable[[JSONObject, StepContext], Awaitable[JSONValue]]


@dataclass(frozen=True, slots=True)
class ActionKind:
    """One action: its code, the param naming an email template (checked to exist at save), and the params it
    sends to a service as credentials (the only params a `{{ secrets.NAME }}` may be written in)."""

    run: Action
    template_param: str | None = None
    credentials: tuple[str, ...] = ()

    @property
    def description(self) -> str:
        """What the action does: its code's docstring."""
        return (self.run.__doc__ or "").strip()


ACTIONS: dict[str, ActionKind] = {
    "send_email": ActionKind(send_email, template_param="template"),
    "noop": ActionKind(noop),
}
