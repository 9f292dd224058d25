"""What the outside world offers a step: the database, the email transport, an HTTP client, the secrets."""

from __future__ import annotations

from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field

import aiohttp

from conveyor.answers import AnswerLimits
from conveyor.rates import Rate
from conveyor.services.email_transports import EmailTransport
from conveyor.services.sms_transports import LogSmsTransport, SmsTransport
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
    # CONVEYOR_MAX_ANSWER and CONVEYOR_ANSWER_SECONDS: how much of an HTTP answer's body is read, how long for.
    answers: AnswerLimits
    # CONVEYOR_MAX_FLOW_DEPTH: how deep shared flows may nest (a top-level execution is depth 0).
    max_flow_depth: int
    email_rate: Rate | None = None
    sms_transport: SmsTransport = field(default_factory=LogSmsTransport)
    sms_sender: str = "conveyor"
    # Where plain (non-async) actions run: a bounded pool, so that none runs on the event loop.
    action_threads: Executor = field(default_factory=lambda: action_thread_pool(DEFAULT_ACTION_THREADS))


DEFAULT_ACTION_THREADS = 8


def action_thread_pool(size: int) -> ThreadPoolExecutor:
    """The pool plain actions run in; a thread past its step's timeout is abandoned, so size it with room."""
    return ThreadPoolExecutor(max_workers=size, thread_name_prefix="conveyor-action")
