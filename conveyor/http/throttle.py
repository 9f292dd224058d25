"""Per-trigger rate limits for /hooks/: a token bucket per trigger, in this API process."""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass

from conveyor.errors import RateLimitedError
from conveyor.triggers.webhook import RateLimit


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class Throttle:
    """Admit at most `requests` per `per` for each trigger; beyond that, RateLimitedError with a wait."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[uuid.UUID, int], _Bucket] = {}

    def admit(self, trigger_id: uuid.UUID, version: int, limit: RateLimit) -> None:
        """Take one token for this trigger version, or raise RateLimitedError saying how long to wait."""
        now = time.monotonic()
        rate = limit.requests / limit.per.total_seconds()
        bucket = self._buckets.setdefault((trigger_id, version), _Bucket(float(limit.requests), now))
        bucket.tokens = min(float(limit.requests), bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens < 1:
            wait = max(1, math.ceil((1 - bucket.tokens) / rate))
            raise RateLimitedError(
                f"more than {limit.requests} requests in {limit.per}; retry after {wait}s", retry_after_seconds=wait
            )
        bucket.tokens -= 1
