"""Group commit: the step outcomes of many executions written in one transaction, each caller waiting for its own.

A caller queues its commit and waits. The queue is flushed on the event loop's next turn, so a lone commit goes
out at once; while flushes are in flight the commits that arrive meanwhile queue up and leave together in the
next. No timer: a group is whatever finished while the database was busy, so an idle worker is not slowed down and
a busy one writes many steps per transaction. A group is bounded and several flushes may be in flight, so the
steps in flight split into groups and the worker runs the next steps of one group while the database writes the
others. Fencing stays per row: a commit whose lease was lost is refused (its caller gets None) and the others in
its group land.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import asyncpg
import structlog

from conveyor.engine.metrics import COMMIT_GROUP_SIZE
from conveyor.failpoints import Point, armed, fail
from conveyor.store import Conn, Pool, connection
from conveyor.store.steps import CommitRefusedError, Committed, StepCommit, commit_steps

log = structlog.get_logger(__name__)

# Steps answered together end together: were a group all the steps queued, the worker would idle while the
# database wrote it, and the database while the worker ran their next steps. Bounded groups keep both busy: 200
# steps in flight as 4 groups of 50 ran 1.10-1.21x the pgbench limit on one worker, as 1 group of 200 0.80-0.88x.
MAX_GROUP = 50
MAX_FLUSHES = 4
# A group locks many rows, so it can deadlock with another statement that does (the lease keeper's renewal, an
# operator's bulk action). PostgreSQL rolls one back whole; a rolled-back group is simply written again.
DEADLOCK_RETRIES = 3


@dataclass(frozen=True, slots=True)
class _Queued:
    commit: StepCommit
    answer: asyncio.Future[Committed | None]


class CommitGroup:
    """Queues step commits and writes them in groups, one statement per group."""

    def __init__(self, pool: Pool, max_group: int = MAX_GROUP, max_flushes: int = MAX_FLUSHES) -> None:
        self._pool = pool
        self._max_group = max_group
        self._max_flushes = max_flushes
        self._queue: list[_Queued] = []
        self._flushes: set[asyncio.Task[None]] = set()
        self._kick_pending = False

    async def commit(self, commit: StepCommit) -> Committed | None:
        """Write `commit` with whatever else is queued; return once it is durable (None: the lease was lost).

        Raises what the write raised: DatabaseUnavailableError for the whole group (whether it committed is
        then unknown, as for any commit whose answer was lost), CommitRefusedError for this commit alone.
        """
        loop = asyncio.get_running_loop()
        queued = _Queued(commit, loop.create_future())
        self._queue.append(queued)
        if not self._kick_pending:
            # On the next turn: the steps ending on this turn join the group.
            self._kick_pending = True
            loop.call_soon(self._kick)
        return await queued.answer

    def _kick(self) -> None:
        self._kick_pending = False
        while self._queue and len(self._flushes) < self._max_flushes:
            group, self._queue = self._queue[: self._max_group], self._queue[self._max_group :]
            # A caller cancelled before its turn (its execution was cancelled, or the worker stops) commits
            # nothing: its step runs again under the same key, as after a crash.
            group = [q for q in group if not q.answer.done()]
            if group:
                task = asyncio.create_task(self._flush(group), name="group-commit")
                self._flushes.add(task)
                task.add_done_callback(self._flushed)

    def _flushed(self, task: asyncio.Task[None]) -> None:
        self._flushes.discard(task)
        self._kick()

    async def _flush(self, group: list[_Queued]) -> None:
        COMMIT_GROUP_SIZE.observe(len(group))
        try:
            async with connection(self._pool) as conn:
                try:
                    results = await _write(conn, [q.commit for q in group])
                except CommitRefusedError:
                    if len(group) == 1:
                        raise
                    # One commit was refused and failed the statement: find it by writing one by one.
                    for queued in group:
                        await _answer_alone(conn, queued)
                    return
                fail(Point.AFTER_COMMIT)  # committed; were the answer lost, no worker could know
        except Exception as exc:  # noqa: BLE001 - every caller of the group gets the group's failure
            for queued in group:
                if not queued.answer.done():
                    queued.answer.set_exception(exc)
            return
        for queued, result in zip(group, results, strict=True):
            if not queued.answer.done():
                queued.answer.set_result(result)


async def _write(conn: Conn, commits: list[StepCommit]) -> list[Committed | None]:
    retries = 0
    while True:
        try:
            # One statement commits by itself; a transaction is opened only to fail inside it.
            async with conn.transaction() if armed(Point.IN_COMMIT) else contextlib.nullcontext():
                results = await commit_steps(conn, commits)
                fail(Point.IN_COMMIT)
                return results
        except asyncpg.DeadlockDetectedError:
            if retries == DEADLOCK_RETRIES:
                raise
            retries += 1
            log.warning("commit_group_deadlock", size=len(commits), retry=retries)


async def _answer_alone(conn: Conn, queued: _Queued) -> None:
    if queued.answer.done():
        return
    try:
        result = (await _write(conn, [queued.commit]))[0]
    except CommitRefusedError as exc:
        queued.answer.set_exception(exc)
    else:
        queued.answer.set_result(result)
