"""What a node kind declares, what its executor receives, and what it may answer."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

import structlog

from conveyor.concurrency import NO_SLOTS, Slots
from conveyor.definitions import NodeModel
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.principal import DEFAULT_NAMESPACE
from conveyor.redaction import NO_SECRETS, Redactor, marker
from conveyor.render_thread import off_loop
from conveyor.secret_references import SECRETS, secret_names
from conveyor.sendable import Sendable, conceal, restored
from conveyor.services import Services
from conveyor.store.children import ChildGroup
from conveyor.templating import TemplateRenderError, is_templated, render_value


def execution_data(
    execution_id: uuid.UUID, workflow_id: uuid.UUID, attempt: int, visit: int, input_: JSONObject, context: JSONObject
) -> JSONObject:
    """What templates and rules see of an execution: `input`, `steps` and `execution`."""
    return {
        "input": input_,
        "steps": context,
        "execution": {"id": str(execution_id), "workflow_id": str(workflow_id), "attempt": attempt, "visit": visit},
    }


@dataclass(frozen=True, slots=True)
class StepContext:
    """One attempt of one node of one execution."""

    execution_id: uuid.UUID
    workflow_id: uuid.UUID
    workflow_version: int
    node_id: str
    visit: int
    attempt: int
    generation: int
    data: JSONObject
    services: Services
    log: structlog.stdlib.BoundLogger
    namespace: str = DEFAULT_NAMESPACE  # the execution's: a shared flow names a workflow of its namespace
    rendered: JSONObject = field(default_factory=dict)
    # Every rendered field as records may hold it (kept or not): what a log row or an error names.
    records: JSONObject = field(default_factory=dict)
    # The values of the secrets this node's templates name, read for this attempt; what its commit redacts.
    secrets: dict[str, str] = field(default_factory=dict)
    # Where the node sends credentials: the fields whose records are concealed (see conveyor/sendable.py).
    sendable: tuple[Sendable, ...] = ()

    @property
    def idempotency_key(self) -> str:
        """The same for every attempt of this node visit, and across crash re-runs."""
        return f"{self.execution_id}:{self.node_id}:{self.visit}"

    async def render(self, name: str, value: JSONValue, *, keep: bool = True) -> JSONValue:
        """Render a templated field with the execution's data and secrets; unless not `keep`, its record is
        kept as the step's input. Secrets are only ever reached from the definition's own templates.

        The record of a field that names a secret is rendered again with each secret's marker in its place,
        never derived from the value sent; a credential in a sendable field is concealed in it.

        A render runs on the render thread (conveyor/render_thread.py), never on the event loop, so the API and the
        other executions of this process go on meanwhile."""
        result = record = value
        if is_templated(value):
            context = {**self.data, SECRETS: self.secrets} if self.secrets else self.data
            try:
                result = record = await off_loop(render_value, value, context)
            except TemplateRenderError as exc:
                raise exc.in_node(self.node_id) from exc
            named = secret_names(value) if self.secrets else set()
            if named:
                markers = {n: marker(n) for n in named}
                shown = await off_loop(render_value, value, {**self.data, SECRETS: markers})
                record = restored(shown, markers.values())
        self.records[name] = conceal(self.sendable, name, record)
        if keep:
            self.rendered[name] = self.records[name]
        return result

    @property
    def redactor(self) -> Redactor:
        """Replaces this step's secret values wherever its results are written."""
        return Redactor(self.secrets) if self.secrets else NO_SECRETS


@dataclass(frozen=True, slots=True)
class Completed:
    """The step is done; the execution goes on to `branch` when `branched`, else to the node's `next`."""

    output: JSONValue = None
    branched: bool = False
    branch: str | None = None


@dataclass(frozen=True, slots=True)
class Sleep:
    """The step is done; the execution waits, as a row, until a time or for a number of seconds."""

    output: JSONValue = None
    until: datetime | None = None
    seconds: float | None = None


@dataclass(frozen=True, slots=True)
class SpawnChild:
    """Start a child execution, and wait for it, in the same transaction."""

    workflow_id: uuid.UUID
    workflow_version: int
    start_node: str
    input: JSONObject
    dedupe_key: str
    child_id: uuid.UUID = field(default_factory=uuid.uuid4)
    slots: Slots = NO_SLOTS  # the child's own workflow's caps: a child runs under them like any execution


@dataclass(frozen=True, slots=True)
class WaitForChild:
    """A child is still running: keep waiting for it."""

    child_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class SpawnGroup:
    """Start a group of children (a parallel node's branches, a foreach node's items) in the step's own
    transaction, and wait for them."""

    children: ChildGroup


@dataclass(frozen=True, slots=True)
class WaitForGroup:
    """Children of the group run on: wait, to be woken by the next that ends after the `ended` counted."""

    group: str
    ended: int


@dataclass(frozen=True, slots=True)
class WaitForEvent:
    """Wait, as a row, for an event of `events` that `accepts` takes: until a time, for a while, or for good.

    `key`, when the node's rule is an equality on one event path, is that path and the text its value must
    have, so events find the wait by index. `lookback_seconds`: see events recorded that long before the wait
    parks, instead of every event since the execution was created.
    """

    events: list[str]
    accepts: Callable[[JSONObject], bool]
    key: tuple[list[str], str] | None = None
    lookback_seconds: float | None = None
    until: datetime | None = None
    seconds: float | None = None


@dataclass(frozen=True, slots=True)
class Defer:
    """Not done yet: run this step again `at` (its slot under a send rate), as the same attempt."""

    at: datetime
    reason: JSONObject


Outcome = Completed | Sleep | SpawnChild | WaitForChild | SpawnGroup | WaitForGroup | WaitForEvent | Defer

N = TypeVar("N", bound=NodeModel)


@dataclass(frozen=True, slots=True)
class NodeKind(Generic[N]):
    """One kind of node, declared once: its model (fields, templated fields, edges) and its executor."""

    model: type[N]
    execute: Callable[[N, StepContext], Awaitable[Outcome]]

    @property
    def type(self) -> str:
        """The `type` a definition names this kind by."""
        return self.model.type_name()
