"""Send throttles as a step meets them: take the step's slot under a key's rate, or say when to come back."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime

from conveyor.errors import ConveyorError
from conveyor.rates import Rate
from conveyor.store import Pool, connection
from conveyor.store.throttles import release_slot, take_slot


class ThrottledError(ConveyorError):
    """The send rate is used up: the step runs again at its slot, as the same attempt."""

    code = "throttled"

    def __init__(self, key: str, slot_at: datetime) -> None:
        super().__init__(f"throttled by {key!r} until {slot_at.isoformat()}", key=key, until=slot_at.isoformat())
        self.key = key
        self.slot_at = slot_at


@contextlib.asynccontextmanager
async def throttled(pool: Pool, key: str, rate: Rate, step_key: str) -> AsyncIterator[None]:
    """Run the block in the step's slot of `key`'s rate; raise ThrottledError while that slot is still ahead."""
    async with connection(pool) as conn:
        slot = await take_slot(conn, key, rate.interval_seconds, step_key)
    if slot.wait_seconds > 0:
        raise ThrottledError(key, slot.at)
    try:
        yield
    finally:
        async with connection(pool) as conn:
            await release_slot(conn, step_key)


def email_key(rate: Rate, recipient: str) -> str:
    """The throttle an email to `recipient` counts against."""
    return "email:" + recipient.rpartition("@")[2].lower() if rate.per_domain else "email"


def host_key(host: str) -> str:
    """The throttle a webhook call to `host` counts against."""
    return "webhook:" + host.lower()
