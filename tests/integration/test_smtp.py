"""The SMTP transport against a real aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, MutableMapping
from dataclasses import replace
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from bench.processes import free_port
from conveyor.config import Settings
from conveyor.store import Pool
from testkit.poll import poll_until
from tests.conftest import logged
from tests.integration.conftest import flow, run_flow, running_worker, wait_until_ended


class Inbox:
    """Collects every message the server accepts."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        assert isinstance(envelope.content, bytes)
        self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
async def smtp_worker(
    db: Pool, database_url: str, settings: Settings, smtp_server: tuple[Inbox, int]
) -> AsyncIterator[Inbox]:
    inbox, port = smtp_server
    smtp = replace(settings, email_transport="smtp", smtp_host="127.0.0.1", smtp_port=port)
    async with running_worker(db, database_url, smtp):
        yield inbox


async def test_smtp_transport_delivers_text_and_html_with_the_step_key(db: Pool, smtp_worker: Inbox) -> None:
    definition = flow(
        {
            "id": "welcome",
            "type": "action",
            "action": "send_email",
            "params": {"to": "{{ input.email }}", "template": "united_welcome"},
        }
    )
    ex = await wait_until_ended(
        db, (await run_flow(db, definition, {"email": "grace@example.com", "name": "Grace"})).id
    )
    assert ex.state == "completed"
    await poll_until(lambda: smtp_worker.messages, "the SMTP server to accept a message", timeout_seconds=5)
    [message] = smtp_worker.messages
    assert message["To"] == "grace@example.com"
    assert message["Subject"] == "Welcome to United"
    assert message["Message-ID"] == f"<{ex.id}.welcome.1@conveyor>"
    parts = {part.get_content_type(): part.get_payload(decode=True) for part in message.walk()}
    assert b"Hi Grace," in parts["text/plain"]
    assert b"<p>Hi Grace,</p>" in parts["text/html"]
    async with db.acquire() as conn:
        status = await conn.fetchval("SELECT status FROM email_logs WHERE execution_id = $1", ex.id)
    assert status == "sent"


async def test_a_step_already_sent_is_not_sent_again_on_rerun(
    db: Pool, smtp_worker: Inbox, logs: list[MutableMapping[str, Any]]
) -> None:
    definition = flow(
        {
            "id": "welcome",
            "type": "action",
            "action": "send_email",
            "params": {"to": "a@example.com", "template": "generic_welcome"},
        },
        {"id": "end", "type": "action", "action": "noop"},
    )
    ex = await wait_until_ended(db, (await run_flow(db, definition)).id)
    # Rewind the execution to the email step, as a crash after sending but before committing would leave it.
    async with db.acquire() as conn:
        await conn.execute(
            "UPDATE executions SET state = 'running', current_node = 'welcome', visit = 1, attempt = 1, "
            "wake_at = now(), lease_owner = NULL, finished_at = NULL WHERE id = $1",
            ex.id,
        )
        await conn.execute("SELECT pg_notify('conveyor_wake', '')")
    assert (await wait_until_ended(db, ex.id, timeout=10)).state == "completed"
    async with db.acquire() as conn:
        rows = await conn.fetchval("SELECT count(*) FROM email_logs WHERE execution_id = $1", ex.id)
    assert rows == 1
    assert len(smtp_worker.messages) == 1
    assert len(logged(logs, "email_already_sent", execution_id=str(ex.id))) == 1
