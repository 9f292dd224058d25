"""The engine's side of the node ports: email, webhook log and shared flows over the store."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from conveyor.db import Pool
from conveyor.engine.store.emails import OutgoingEmail, mark_email, reserve_email
from conveyor.engine.store.executions import find_child
from conveyor.engine.store.templates import get_template
from conveyor.engine.store.webhooks import WebhookAttempt, insert_webhook_attempt
from conveyor.engine.store.workflows import get_workflow
from conveyor.nodes.ports import ChildStatus, EmailContent, EmailRecord, FlowRef, WebhookCall


@dataclass(frozen=True, slots=True)
class PoolEmailStore:
    """Templates and the email log in PostgreSQL."""

    pool: Pool

    async def template(self, name: str) -> EmailContent:
        """Load a template."""
        async with self.pool.acquire() as conn:
            t = await get_template(conn, name)
        return EmailContent(t.subject, t.text_body, t.html_body)

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
        """Insert the log row for this key, or return the existing one."""
        email = OutgoingEmail(
            execution_id, node, key, to, content.subject, template, content.text_body, content.html_body, transport
        )
        async with self.pool.acquire() as conn:
            row = await reserve_email(conn, email)
        return EmailRecord(row.id, row.status)

    async def mark(self, email_id: uuid.UUID, status: str, error: str | None = None) -> None:
        """Record the delivery's result."""
        async with self.pool.acquire() as conn:
            await mark_email(conn, email_id, status, error)


@dataclass(frozen=True, slots=True)
class PoolWebhookRecorder:
    """The webhook log in PostgreSQL."""

    pool: Pool

    async def record(self, execution_id: uuid.UUID, call: WebhookCall) -> None:
        """Insert one attempt."""
        async with self.pool.acquire() as conn:
            await insert_webhook_attempt(
                conn,
                WebhookAttempt(
                    execution_id,
                    call.node,
                    call.key,
                    call.attempt,
                    call.method,
                    call.url,
                    call.body,
                    call.status_code,
                    call.response_body,
                    call.error,
                    call.duration_ms,
                ),
            )


@dataclass(frozen=True, slots=True)
class PoolFlowDirectory:
    """Workflows and children in PostgreSQL."""

    pool: Pool

    async def resolve(self, ref: str) -> FlowRef:
        """Find the current version of a workflow by name or id."""
        async with self.pool.acquire() as conn:
            workflow = await get_workflow(conn, ref)
        return FlowRef(workflow.id, workflow.version, workflow.start_node)

    async def child(self, parent_id: uuid.UUID, dedupe_key: str) -> ChildStatus | None:
        """The child started under this key."""
        async with self.pool.acquire() as conn:
            child = await find_child(conn, parent_id, dedupe_key)
        return ChildStatus(child.id, child.state, child.output, child.error) if child else None
