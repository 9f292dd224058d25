"""Send throttles: a rate holds across workers through the database, delaying sends without dropping or retrying."""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import datetime

from conveyor.commands.operations import create_workflow, start_execution
from conveyor.config import Settings
from conveyor.rates import Rate
from conveyor.statemachines import COMPLETED
from conveyor.store import Pool
from testkit.peers import WebhookPeer
from tests.integration.conftest import flow, history_events, running_worker, wait_until_ended

EMAILS = 40
PER_SECOND = 10


def busiest_second(times: list[datetime]) -> int:
    """The most sends in any one second (a window opening at a send)."""
    return max(sum(1 for t in times[i:] if (t - start).total_seconds() < 1.0) for i, start in enumerate(times))


async def test_an_email_rate_of_ten_a_second_holds_across_two_workers_and_drops_none(
    db: Pool, database_url: str, settings: Settings
) -> None:
    throttled = dataclasses.replace(settings, email_rate=Rate(PER_SECOND), concurrency=20)
    send = {"id": "send", "type": "action", "action": "send_email"}
    workflow = await create_workflow(
        db, flow({**send, "params": {"to": "{{ input.to }}", "template": "generic_welcome"}})
    )
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(2):
            await stack.enter_async_context(running_worker(db, database_url, throttled))
        started = [(await start_execution(db, str(workflow.id), {"to": f"u{n}@example.com"}))[0] for n in range(EMAILS)]
        ended = [await wait_until_ended(db, e.id, timeout=60) for e in started]

    assert {e.state for e in ended} == {COMPLETED}
    assert {e.attempt for e in ended} == {1}, "a throttled send uses up no attempt"
    async with db.acquire() as conn:
        sent = [r["sent_at"] for r in await conn.fetch("SELECT sent_at FROM email_logs ORDER BY sent_at")]
        workers = await conn.fetchval(
            "SELECT count(DISTINCT detail->>'worker') FROM execution_history WHERE event IN ('start', 'wake')"
        )
    assert len(sent) == EMAILS, "no email dropped"
    assert all(sent)
    seconds = (sent[-1] - sent[0]).total_seconds()
    measured = (EMAILS - 1) / seconds
    print(f"email_rate={measured:.2f}/s over {EMAILS} emails in {seconds:.2f}s; busiest second {busiest_second(sent)}")
    # `sent_at` is stamped when the transport has answered: tens of ms of jitter on a busy machine.
    assert measured <= PER_SECOND * 1.05
    assert measured >= PER_SECOND * 0.5, "throttled, not starved"
    # Slots are 100 ms apart and a send never starts before its slot, but one may end late (its worker was
    # busy) and the next ones close up behind it: a second may hold a send or two more than the rate.
    assert busiest_second(sent) <= PER_SECOND + 2
    assert workers == 2, "both workers sent"
    assert "sleep" in await history_events(db, started[-1].id)


async def test_a_webhook_rate_spaces_calls_to_one_host(
    db: Pool, database_url: str, settings: Settings, webhook_peer: WebhookPeer
) -> None:
    call = {"id": "call", "type": "webhook", "url": webhook_peer.url, "body": {"n": "{{ input.n }}"}, "rate": 20}
    workflow = await create_workflow(db, flow(call))
    async with running_worker(db, database_url, settings):
        started = [(await start_execution(db, str(workflow.id), {"n": n}))[0] for n in range(10)]
        ended = [await wait_until_ended(db, e.id) for e in started]

    assert {e.state for e in ended} == {COMPLETED}
    assert len(webhook_peer.received) == 10
    async with db.acquire() as conn:
        calls = [r["at"] for r in await conn.fetch("SELECT created_at AS at FROM webhook_logs ORDER BY created_at")]
        [key] = [r["key"] for r in await conn.fetch("SELECT key FROM throttles")]
    assert key == "webhook:127.0.0.1"
    # Ten calls at 20 a second start 0.45 s apart at least; each is logged when it ends.
    assert (calls[-1] - calls[0]).total_seconds() >= 0.4
