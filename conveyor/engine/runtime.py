"""Assemble a worker from settings: the email transport and the services its steps use."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from conveyor.config import Settings
from conveyor.engine.worker import Worker
from conveyor.nodes.email_transports import EmailTransport, LogTransport, SmtpTransport
from conveyor.nodes.services import Services
from conveyor.nodes.webhook_guard import webhook_session
from conveyor.store import Pool
from conveyor.store.wait_reads import WaitReads
from conveyor.vault import Vault


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
            pool=pool,
            email_transport=email_transport(settings),
            email_sender=settings.email_from,
            http=http,
            webhook_allow_hosts=settings.webhook_allow_hosts,
            vault=Vault(pool, settings),
            wait_reads=WaitReads(pool),
            email_rate=settings.email_rate,
        )
        await services.vault.learn_all()
        yield Worker(pool, dsn, settings, services)
