"""A worker whose clock runs 5 minutes ahead claims nothing early, steals no lease and runs no step twice.

What this proves: leases and due times are decided by the database's now() alone. The worker below reads
`time.time()` and `datetime.now()` 5 minutes in the future, so an engine that compared either against
`wake_at` would find a delay due in a minute already due, and a lease with a minute to run already lapsed.
(tests/unit/test_clocks.py says the same of the source; this says it of the running worker.)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, tzinfo

import pytest

from conveyor.config import Settings
from conveyor.engine.claim import claim_due
from conveyor.store import Pool
from conveyor.store.workers import register_worker
from testkit.peers import WebhookPeer
from tests.integration.conftest import (
    database_now,
    flow,
    history_events,
    run_flow,
    running_worker,
    wait_until_ended,
)

SKEW = timedelta(minutes=5)


class _Ahead(datetime):
    """`datetime` whose clocks read 5 minutes ahead."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> _Ahead:
        real = datetime.now(tz) + SKEW
        return cls.combine(real.date(), real.timetz())

    @classmethod
    def utcnow(cls) -> _Ahead:
        return cls.now()


@pytest.fixture
def clock_ahead(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process's wall clocks, as conveyor reads them, 5 minutes fast."""
    real_time, real_time_ns = time.time, time.time_ns
    monkeypatch.setattr(time, "time", lambda: real_time() + SKEW.total_seconds())
    monkeypatch.setattr(time, "time_ns", lambda: real_time_ns() + int(SKEW.total_seconds() * 1e9))
    for name, module in list(sys.modules.items()):
        if name.startswith("conveyor") and getattr(module, "datetime", None) is datetime:
            monkeypatch.setattr(module, "datetime", _Ahead)
    yield


@pytest.mark.usefixtures("clock_ahead")
async def test_a_worker_five_minutes_fast_claims_nothing_early_and_steals_no_lease(
    db: Pool, database_url: str, settings: Settings, webhook_peer: WebhookPeer
) -> None:
    assert time.time() - (await database_now(db)).timestamp() > 299  # the skew is in force

    # A lease another (live) worker holds for another minute.
    async with db.acquire() as conn:
        await register_worker(conn, "holder", "elsewhere", 1)
    held = await run_flow(db, flow({"id": "a", "type": "action", "action": "noop"}))
    [claimed] = await claim_due(db, "holder", 1, 60.0)
    assert claimed.id == held.id
    # A delay due in a minute, and one due in a second, whose step then calls the peer once.
    far = await run_flow(
        db, flow({"id": "wait", "type": "delay", "duration": "60s"}, {"id": "b", "type": "action", "action": "noop"})
    )
    near = await run_flow(
        db,
        flow(
            {"id": "wait", "type": "delay", "duration": "1s"},
            {"id": "call", "type": "webhook", "url": webhook_peer.url},
        ),
    )

    async with running_worker(db, database_url, settings):
        # The near delay fell due by the database's clock and ran: the worker has looked at every row since.
        assert (await wait_until_ended(db, near.id)).state == "completed"
        async with db.acquire() as conn:
            far_row = await conn.fetchrow(
                "SELECT state, wake_at - now() AS due_in, lease_owner FROM executions WHERE id = $1", far.id
            )
            held_row = await conn.fetchrow(
                "SELECT state, lease_owner, version, wake_at > now() AS leased FROM executions WHERE id = $1", held.id
            )

    assert far_row is not None
    assert held_row is not None
    assert (far_row["state"], far_row["lease_owner"]) == ("delayed", None)
    assert far_row["due_in"] > timedelta(seconds=50), "the delay's due time moved"
    assert await history_events(db, far.id) == ["start", "step_ok", "sleep"]
    assert (held_row["state"], held_row["lease_owner"], held_row["version"]) == ("running", "holder", claimed.version)
    assert held_row["leased"]
    assert await history_events(db, held.id) == ["start"]

    near_events = await history_events(db, near.id)
    assert len(webhook_peer.received) == 1
    assert webhook_peer.keys() == [f"{near.id}:call:2"]
    assert near_events.count("step_ok") == 2  # the delay and the call, each once
