"""What each presented API key resolves to, re-read from the database at most a short while after the last read.

Every web process keeps its own cache; an entry older than REFRESH_SECONDS is read again, so a key revoked on
one process stops working on all of them within that time, at the cost of one indexed read per key per period.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from conveyor.store import Pool, connection
from conveyor.store.api_keys import ApiKey, find_live_key

# Revocation must take effect within a second everywhere; half of it leaves room for a slow read.
REFRESH_SECONDS = 0.5
# A flood of random keys must not grow the cache without bound: past this many entries it starts afresh.
_CAPACITY = 10_000


class KeyCache:
    """Presented key hashes → the live key (or None), each entry fresh for REFRESH_SECONDS."""

    def __init__(self) -> None:
        self._entries: dict[bytes, tuple[float, ApiKey | None]] = {}

    async def find(self, pool: Pool, digest: bytes) -> ApiKey | None:
        """The live key with this hash, or None when none is (unknown, revoked or expired)."""
        now = time.monotonic()
        cached = self._entries.get(digest)
        if cached is None or now - cached[0] > REFRESH_SECONDS:
            async with connection(pool) as conn:
                key = await find_live_key(conn, digest)
            if len(self._entries) >= _CAPACITY:
                self._entries.clear()
            cached = self._entries[digest] = (now, key)
        key = cached[1]
        if key is not None and key.expires_at is not None and key.expires_at <= datetime.now(UTC):
            return None
        return key
