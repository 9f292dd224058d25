"""What an action receives besides its params: who is running it, its secrets, and the means to stop and report."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

import structlog

from conveyor.jsonvalue import JSONObject
from conveyor.nodes.base import StepContext
from conveyor.services import Services


@dataclass(slots=True)
class Progress:
    """The last sign of life of a running action, written from its thread or its task."""

    beat_at: float = field(default_factory=time.monotonic)
    details: object = None


@dataclass(frozen=True, slots=True)
class ActionContext:
    """One attempt of one action step.

    `idempotency_key` is the same for every attempt of this step and for a re-run after a crash: pass it to
    the system the action calls so that a re-run does nothing twice. `secrets` holds the secrets the action
    declared, and no other. `cancelled` is set when the step is abandoned (its timeout, a pause or cancel, the
    worker stopping): an async action is cancelled outright, a plain one should look at it between units of
    work, since a thread cannot be stopped from outside.
    """

    idempotency_key: str
    attempt: int
    execution_id: uuid.UUID
    workflow_id: uuid.UUID
    node_id: str
    log: structlog.stdlib.BoundLogger
    secrets: Mapping[str, str]
    cancelled: threading.Event
    step: StepContext = field(repr=False)
    progress: Progress = field(default_factory=Progress, repr=False)

    def heartbeat(self, details: object = None) -> None:
        """Report that the action is alive; a node with `heartbeat_timeout` fails an action silent longer."""
        self.progress.beat_at = time.monotonic()
        self.progress.details = details

    @property
    def data(self) -> JSONObject:
        """What templates see of the execution: `input`, `steps` and `execution`."""
        return self.step.data

    @property
    def services(self) -> Services:
        """The worker's database pool, transports and HTTP session (for conveyor's own actions)."""
        return self.step.services
