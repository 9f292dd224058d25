"""The onboarding demo: its set-up, and one short run in which every subscriber's path is taken."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest

from conveyor import demo
from conveyor.config import Settings
from conveyor.statemachines import CANCELLED, COMPLETED, TERMINAL_STATES
from conveyor.store import Pool
from testkit.poll import poll_until
from tests.integration.conftest import running_worker

# What each fate's user receives, and where their execution ends.
EXPECTED = {
    "engaged": (COMPLETED, ["value_highlight"]),
    "silent": (COMPLETED, ["engagement_nudge"]),
    "unsubscribed": (CANCELLED, []),
}


@pytest.fixture
async def demo_tables(db: Pool) -> AsyncIterator[None]:
    """The demo's application tables, dropped before and after: the truncation between tests leaves them."""
    drop = "DROP TABLE IF EXISTS subscriptions, newsletters"
    async with db.acquire() as conn:
        await conn.execute(drop)
    yield
    async with db.acquire() as conn:
        await conn.execute(drop)


async def test_set_up_creates_each_flow_and_trigger_once(db: Pool, demo_tables: None) -> None:
    await demo.set_up(db)
    await demo.set_up(db)
    async with db.acquire() as conn:
        workflows = await conn.fetch("SELECT name FROM workflows ORDER BY name")
        triggers = await conn.fetchval("SELECT count(*) FROM triggers")
        cancel_on = await conn.fetchval(
            "SELECT definition->'cancel_on'->0->>'event' FROM workflows WHERE name = 'onboarding-united'"
        )
    assert [w["name"] for w in workflows] == [
        "newsletter",
        "onboarding-other",
        "onboarding-podcast",
        "onboarding-united",
    ]
    assert triggers == 4
    assert cancel_on == "user.unsubscribed"


async def test_a_short_run_takes_the_engaged_the_timeout_and_the_unsubscribed_path(
    db: Pool, database_url: str, settings: Settings, demo_tables: None
) -> None:
    await demo.set_up(db, wait="6s", interval="1s")
    async with running_worker(db, database_url, settings):
        subscribers = await demo.insert_rows(db, 4, 0.0, random.Random(7), follow_up_seconds=2.5)

        async def all_ended() -> bool:
            async with db.acquire() as conn:
                ended: int = await conn.fetchval(
                    "SELECT count(*) FROM executions WHERE state = ANY($1::text[])", sorted(TERMINAL_STATES)
                )
            return ended == 4

        await poll_until(all_ended, "the demo's four executions to end", timeout_seconds=30)
    assert sorted(s.fate for s in subscribers) == sorted(demo.FATES)
    async with db.acquire() as conn:
        events = await conn.fetch("SELECT type, payload->>'email' AS email FROM event_log")
        for subscriber in subscribers:
            state = await conn.fetchval("SELECT state FROM executions WHERE input->>'email' = $1", subscriber.email)
            templates = await conn.fetch(
                "SELECT template FROM email_logs WHERE recipient = $1 ORDER BY created_at", subscriber.email
            )
            welcome, *after = [t["template"] for t in templates]
            assert welcome.endswith("_welcome")
            assert (state, after) == EXPECTED[subscriber.fate], subscriber
    by_fate = {s.fate: s.email for s in subscribers}
    assert sorted((e["type"], e["email"]) for e in events) == [
        ("user.engaged", by_fate["engaged"]),
        ("user.unsubscribed", by_fate["unsubscribed"]),
    ]
