"""What the outside world offers a step: the database, the email transport, an HTTP client, the secrets."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from conveyor.nodes.email_transports import EmailTransport
from conveyor.rates import Rate
from conveyor.store import Pool
from conveyor.store.wait_reads import WaitReads
from conveyor.vault import Vault


@dataclass(frozen=True, slots=True)
class Services:
    """Shared by every step a worker runs."""

    pool: Pool
    email_transport: EmailTransport
    email_sender: str
    http: aiohttp.ClientSession
    webhook_allow_hosts: frozenset[str]
    vault: Vault
    # How a wait_for_event node reads its wait: the reads of one loop turn share one statement.
    wait_reads: WaitReads
    # CONVEYOR_EMAIL_RATE: sends a second across all workers; none: unthrottled.
    email_rate: Rate | None = None
