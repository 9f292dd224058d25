"""A live-event subscription: a bounded queue that drops its subscriber rather than hold up the others."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from conveyor.http.hub import ShuttingDownError, SubscriberTooSlowError, Subscription
from conveyor.store.feed import HistoryEvent
from conveyor.store.history import HistoryEntry


def _event(n: int) -> HistoryEvent:
    entry = HistoryEntry("idle", "running", "start", "a", 1, None, datetime.now(UTC))
    return HistoryEvent(n, uuid.uuid4(), uuid.uuid4(), entry, "default")


async def test_a_subscriber_that_falls_behind_is_dropped_while_one_keeping_up_gets_everything() -> None:
    slow, keeping_up = Subscription(2), Subscription(2)
    taken = []
    for n in range(1, 4):
        slow.offer(_event(n))
        keeping_up.offer(_event(n))
        event = await keeping_up.next(0)
        assert event is not None
        taken.append(event.id)
    assert taken == [1, 2, 3]
    with pytest.raises(SubscriberTooSlowError):
        await slow.next(0)


async def test_a_quiet_subscription_answers_none_at_its_timeout() -> None:
    assert await Subscription(2).next(0.01) is None


async def test_an_ended_subscription_wakes_its_waiting_reader() -> None:
    subscription = Subscription(2)
    subscription.end(ShuttingDownError())
    with pytest.raises(ShuttingDownError):
        await subscription.next(10)
