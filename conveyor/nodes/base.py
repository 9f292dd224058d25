"""What a node executor receives and what it may answer."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeVar

import structlog

from conveyor.definitions import AnyNode
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.nodes.ports import Services
from conveyor.templating import render_value


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
    rendered: JSONObject = field(default_factory=dict)

    @property
    def idempotency_key(self) -> str:
        """The same for every attempt of this node visit, and across crash re-runs."""
        return f"{self.execution_id}:{self.node_id}:{self.visit}"

    def render(self, name: str, value: JSONValue) -> JSONValue:
        """Render a templated field with the execution's data, keeping the result as the step's input."""
        result = render_value(value, self.data)
        self.rendered[name] = result
        return result


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


@dataclass(frozen=True, slots=True)
class WaitForChild:
    """A child is still running: keep waiting for it."""

    child_id: uuid.UUID


Outcome = Completed | Sleep | SpawnChild | WaitForChild

N_contra = TypeVar("N_contra", contravariant=True, bound=AnyNode)


class NodeExecutor(Protocol[N_contra]):
    """Runs one kind of node."""

    async def execute(self, node: N_contra, ctx: StepContext) -> Outcome:
        """Run the node once; raise StepError (or any exception) to fail the attempt."""
        ...
