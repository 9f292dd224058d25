"""Actions an action node runs: the registry, and conveyor's own actions, declared through the same door as the
team's (`@action`)."""

from __future__ import annotations

from conveyor.nodes.actions import noop, send_email, send_sms
from conveyor.nodes.actions.registry import REGISTRY, ActionSpec

BUILTINS: tuple[ActionSpec, ...] = tuple(spec for spec in REGISTRY if spec.builtin)
"""conveyor's own actions, present in every process (the web process validates against them without a worker)."""

__all__ = ["BUILTINS", "REGISTRY", "noop", "send_email", "send_sms"]
