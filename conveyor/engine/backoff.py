"""How long a failed step waits before its next attempt."""

from __future__ import annotations

import random

from conveyor.definitions import RetryPolicy


def retry_delay_seconds(policy: RetryPolicy, failed_attempt: int, rng: random.Random | None = None) -> float:
    """The wait after attempt `failed_attempt` (1-based): fixed or doubling, capped, with full jitter."""
    base = policy.delay.total_seconds()
    if policy.backoff == "exponential":
        base *= 2 ** (failed_attempt - 1)
    capped = min(base, policy.max_delay.total_seconds())
    if not policy.jitter:
        return capped
    # "Equal jitter": at least half the delay, so retries never bunch up at zero.
    return capped / 2 + (rng or random).uniform(0, capped / 2)
