"""The manual trigger: executions started through the executions API. Every workflow has one implicitly."""

from __future__ import annotations

from typing import Literal

from conveyor.jsonvalue import JSONObject
from conveyor.triggers.base import TriggerKind, TriggerModel


class ManualTrigger(TriggerModel):
    """Started by `POST /workflows/{id}/executions`; declaring it documents that a workflow is meant to be."""

    type: Literal["manual"]

    def content_errors(self) -> list[JSONObject]:
        """Its executions start from the API, not from inbox rows: nothing for a coalesce or a cap to act on."""
        errors = super().content_errors()
        for name in ("coalesce", "concurrency"):
            if getattr(self, name) is not None:
                message = f"a manual trigger starts no rows to apply {name} to; declare it on the workflow or an event"
                errors.append({"pointer": f"/{name}", "message": message, "value": None})
        return errors


KIND = TriggerKind(ManualTrigger)
