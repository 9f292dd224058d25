"""Per-namespace quotas on starting executions: past one, 429 with Retry-After, and nothing started."""

from __future__ import annotations

import math

from conveyor.config import Settings
from conveyor.errors import RateLimitedError
from conveyor.store import Pool, connection
from conveyor.store.quotas import namespace_usage

# How soon to ask a client to try again while its namespace has too many executions alive: they end on their own
# time, so this is a polite polling interval, not a promise.
_ALIVE_RETRY_SECONDS = 5


class QuotaExceededError(RateLimitedError):
    """The namespace is at one of its quotas; Retry-After says when to try again."""

    code = "quota_exceeded"


async def check_start_quota(pool: Pool, namespace: str, settings: Settings) -> None:
    """Refuse a start that would take the namespace past its starts per minute or its executions alive."""
    starts, alive = settings.quota_starts_per_minute, settings.quota_alive
    if starts is None and alive is None:
        return
    async with connection(pool) as conn:
        usage = await namespace_usage(conn, namespace, starts or 0, alive or 0)
    if starts is not None and usage.recent_starts >= starts:
        raise QuotaExceededError(
            f"namespace {namespace!r} started {starts} executions in the last minute, its quota",
            retry_after_seconds=max(1, math.ceil(usage.oldest_leaves_in_seconds)),
            quota="starts_per_minute",
            limit=starts,
        )
    if alive is not None and usage.alive >= alive:
        raise QuotaExceededError(
            f"namespace {namespace!r} has {alive} executions that have not ended, its quota",
            retry_after_seconds=_ALIVE_RETRY_SECONDS,
            quota="alive",
            limit=alive,
        )
