"""Assemble a worker from settings: transports, services, the node registry."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from conveyor.config import Settings
from conveyor.db import Pool
from conveyor.engine.services import PoolEmailStore, PoolFlowDirectory, PoolWebhookRecorder
from conveyor.engine.worker import Worker
from conveyor.nodes.email_transports import LogTransport, SmtpTransport
from conveyor.nodes.ports import EmailTransport, Services
from conveyor.nodes.registry import default_registry
from conveyor.nodes.webhook_guard import webhook_session


def email_transport(settings: Settings) -> EmailTransport:
    """The transport CONVEYOR_EMAIL_TRANSPORT names."""
    if settings.email_transport == "smtp":
        return SmtpTransport(
            settings.smtp_host,
            settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
        )
    return LogTransport()


@contextlib.asynccontextmanager
async def worker(pool: Pool, dsn: str, settings: Settings) -> AsyncIterator[Worker]:
    """A worker with its HTTP session; closed when the block ends."""
    async with webhook_session(settings.webhook_allow_hosts) as http:
        services = Services(
            emails=PoolEmailStore(pool),
            email_transport=email_transport(settings),
            email_sender=settings.email_from,
            webhooks=PoolWebhookRecorder(pool),
            http=http,
            flows=PoolFlowDirectory(pool),
        )
        yield Worker(pool, dsn, settings, default_registry(settings.webhook_allow_hosts), services)
