"""What node executors need from the outside, as protocols the engine implements."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from conveyor.jsonvalue import JSONValue


@dataclass(frozen=True, slots=True)
class EmailContent:
    """A template's parts."""

    subject: str
    text_body: str
    html_body: str | None


@dataclass(frozen=True, slots=True)
class EmailRecord:
    """The log row for one step's email."""

    id: uuid.UUID
    status: str


class EmailStore(Protocol):
    """Templates and the email log."""

    async def template(self, name: str) -> EmailContent:
        """Load a template, failing the step for good when it does not exist."""
        ...

    async def reserve(
        self,
        execution_id: uuid.UUID,
        key: str,
        node: str,
        to: str,
        template: str,
        content: EmailContent,
        transport: str,
    ) -> EmailRecord:
        """Record the email as being sent under `key`, or return the existing row."""
        ...

    async def mark(self, email_id: uuid.UUID, status: str, error: str | None = None) -> None:
        """Record how delivery went."""
        ...


@dataclass(frozen=True, slots=True)
class Delivery:
    """An email ready for a transport."""

    message_id: str
    sender: str
    to: str
    content: EmailContent


class EmailTransport(Protocol):
    """Hands emails to the outside world."""

    name: str

    async def deliver(self, delivery: Delivery) -> str:
        """Send the email; return the status to record ('sent' or 'logged')."""
        ...


@dataclass(frozen=True, slots=True)
class WebhookCall:
    """One attempt of an outbound HTTP call, for the log."""

    key: str
    node: str
    attempt: int
    method: str
    url: str
    body: JSONValue
    status_code: int | None
    response_body: str | None
    error: str | None
    duration_ms: float


class WebhookRecorder(Protocol):
    """The webhook log."""

    async def record(self, execution_id: uuid.UUID, call: WebhookCall) -> None:
        """Store one call attempt."""
        ...


@dataclass(frozen=True, slots=True)
class FlowRef:
    """The current version of a workflow a shared-flow node runs."""

    workflow_id: uuid.UUID
    version: int
    start_node: str


@dataclass(frozen=True, slots=True)
class ChildStatus:
    """Where a child execution stands."""

    id: uuid.UUID
    state: str
    output: JSONValue
    error: JSONValue


class FlowDirectory(Protocol):
    """Workflows and child executions, for shared flows."""

    async def resolve(self, ref: str) -> FlowRef:
        """Find a workflow by name or id."""
        ...

    async def child(self, parent_id: uuid.UUID, dedupe_key: str) -> ChildStatus | None:
        """The child this execution started under `dedupe_key`, if any."""
        ...


@dataclass(frozen=True, slots=True)
class Services:
    """Everything the outside world offers one step."""

    emails: EmailStore
    email_transport: EmailTransport
    email_sender: str
    webhooks: WebhookRecorder
    http: aiohttp.ClientSession
    flows: FlowDirectory
