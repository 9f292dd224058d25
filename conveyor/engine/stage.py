"""What a stage of the worker's feed is: what the worker gives it, and how the feed runs and stops it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from conveyor.engine.claim_room import ClaimRoom
from conveyor.engine.definitions_cache import DefinitionCache
from conveyor.engine.trigger_cache import TriggerCache
from conveyor.services import Services
from conveyor.store import Pool


@dataclass(frozen=True, slots=True)
class FeedContext:
    """What the worker gives every stage of its feed."""

    pool: Pool
    triggers: TriggerCache
    definitions: DefinitionCache
    services: Services
    # Run the feed again soon: work a stage runs in the background (a poll) has ended.
    want_feed: Callable[[], None]
    # The worker's free slots, for the executions a stage claims itself (the match stage: those it wakes).
    room: ClaimRoom


class FeedStage(Protocol):
    """A stage the feed runs once a turn, in its place in the list."""

    async def run(self, limit: int) -> bool:
        """Take up to `limit` of this stage's work; True when more may be waiting."""
        ...

    async def close(self) -> None:
        """Stop what the stage runs in the background."""
        ...


StageFactory = Callable[[FeedContext], FeedStage]
BatchTake = Callable[[Pool, TriggerCache, int], Awaitable[int]]


def batch_stage(take: BatchTake) -> StageFactory:
    """A stage that takes one batch a turn, in one transaction: more may be waiting when the batch came full."""
    return lambda feed: _BatchStage(take, feed.pool, feed.triggers)


@dataclass(frozen=True, slots=True)
class _BatchStage:
    take: BatchTake
    pool: Pool
    triggers: TriggerCache

    async def run(self, limit: int) -> bool:
        return await self.take(self.pool, self.triggers, limit) >= limit

    async def close(self) -> None:
        """Nothing runs in the background."""
