"""Assemble a worker from settings: the email transport and the services its steps use."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import AsyncIterator

import aiohttp

from conveyor.config import Settings
from conveyor.engine.worker import Worker
from conveyor.nodes.actions import REGISTRY
from conveyor.services import Services, action_thread_pool
from conveyor.services.email_transports import EmailTransport, LogTransport, SmtpTransport
from conveyor.services.sms_transports import HttpSmsTransport, LogSmsTransport, SmsTransport
from conveyor.services.webhook_guard import webhook_session
from conveyor.store import Pool, connection
from conveyor.store.actions import publish_actions
from conveyor.store.routing import wake_provided
from conveyor.store.wait_reads import WaitReads
from conveyor.store.workers import register_worker
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


def sms_transport(settings: Settings, http: aiohttp.ClientSession) -> SmsTransport:
    """The transport CONVEYOR_SMS_TRANSPORT names; the provider is reached through the webhooks' guarded session."""
    if settings.sms_transport == "http" and settings.sms_url:
        return HttpSmsTransport(settings.sms_url, http, settings.sms_username, settings.sms_password)
    return LogSmsTransport()


@contextlib.asynccontextmanager
async def worker(pool: Pool, dsn: str, settings: Settings) -> AsyncIterator[Worker]:
    """A worker with its HTTP session; closed when the block ends."""
    threads = action_thread_pool(settings.action_threads)
    async with webhook_session(settings.webhook_allow_hosts) as http:
        services = Services(
            pool=pool,
            email_transport=email_transport(settings),
            email_sender=settings.email_from,
            http=http,
            webhook_allow_hosts=settings.webhook_allow_hosts,
            vault=Vault(pool, settings),
            answers=settings.answers,
            max_flow_depth=settings.max_flow_depth,
            wait_reads=WaitReads(pool),
            email_rate=settings.email_rate,
            sms_transport=sms_transport(settings, http),
            sms_sender=settings.sms_from,
            action_threads=threads,
        )
        await services.vault.learn_all()
        worker = Worker(pool, dsn, settings, services)
        # Before it claims anything, so that a definition naming its actions can be saved once it is up.
        async with connection(pool) as conn:
            await publish_actions(conn, [spec.declared() for spec in REGISTRY], worker=worker.id)
            await register_worker(conn, worker.id, socket.gethostname(), os.getpid())
            await wake_provided(conn, [spec.key for spec in REGISTRY])
        try:
            yield worker
        finally:
            # Threads of abandoned plain actions are not waited for: a thread cannot be stopped from outside.
            threads.shutdown(wait=False, cancel_futures=True)
