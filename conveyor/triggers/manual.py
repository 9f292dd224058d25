"""The manual trigger: executions started through the executions API. Every workflow has one implicitly."""

from __future__ import annotations

from typing import Literal

from conveyor.triggers.base import TriggerKind, TriggerModel


class ManualTrigger(TriggerModel):
    """Started by `POST /workflows/{id}/executions`; declaring it documents that a workflow is meant to be."""

    type: Literal["manual"]


KIND = TriggerKind(ManualTrigger)
