"""What the outside world offers a step: the database, the email transport, an HTTP client, the secrets."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from conveyor.answers import AnswerLimits
from conveyor.nodes.email_transports import EmailTransport
from conveyor.rates import Rate
from conveyor.store import Pool
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
    # CONVEYOR_EMAIL_RATE: sends a second across all workers; none: unthrottled.
    # CONVEYOR_MAX_ANSWER and CONVEYOR_ANSWER_SECONDS: how much of an HTTP answer's body is read, how long for.
    answers: AnswerLimits
    # CONVEYOR_MAX_FLOW_DEPTH: how deep shared flows may nest (a top-level execution is depth 0).
    max_flow_depth: int
    email_rate: Rate | None = None
