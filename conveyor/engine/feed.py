"""The worker's feed: its stages, declared once in the order they run, and the turn that runs them."""

from __future__ import annotations

import structlog

from conveyor.engine import clock_triggers, coalescing, event_matcher, inbox, poll_triggers
from conveyor.engine.metrics import LOOP_ERRORS
from conveyor.engine.stage import FeedContext, StageFactory
from conveyor.errors import DatabaseUnavailableError

log = structlog.get_logger(__name__)

STAGES: tuple[StageFactory, ...] = (
    clock_triggers.STAGE,  # due schedules: one inbox row per tick
    poll_triggers.STAGE,  # due poll triggers: each polls in a task of its own
    inbox.STAGE,  # inbox rows: executions, filtered, coalesced or routed
    coalescing.STAGE,  # ripe groups: one execution each
    event_matcher.STAGE,  # events: the waits they end, the executions they cancel
)


class Feed:
    """One worker's stages, run in turn."""

    def __init__(self, context: FeedContext) -> None:
        self._stages = [make(context) for make in STAGES]

    async def run(self, limit: int) -> bool:
        """Run each stage once, up to `limit` each; True when a full batch says more is waiting."""
        more = False
        try:
            for stage in self._stages:
                more = await stage.run(limit) or more
        except DatabaseUnavailableError:
            raise
        except Exception:
            # a broken stage must not stop the executions already due from running
            LOOP_ERRORS.labels(loop="triggers").inc()
            log.exception("trigger_stage_failed")
            return False
        return more

    async def close(self) -> None:
        """Stop what the stages run in the background."""
        for stage in self._stages:
            await stage.close()
