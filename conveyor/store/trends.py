"""Executions and steps per minute over a recent window, for charts: one bounded statement.

It reads the executions created in the window (newest first, at most `cap` of them, through
executions_created_idx or executions_workflow_idx) and their steps (execution_steps_execution_idx): what
was started, what of it completed or failed, and how long its steps took, by minute.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from conveyor.principal import DEFAULT_NAMESPACE
from conveyor.statemachines import COMPLETED, FAILED
from conveyor.store import Conn
from conveyor.store.executions import in_namespace
from conveyor.store.statement import Statement


@dataclass(frozen=True, slots=True)
class Minute:
    """One minute: executions started, completed and failed in it; steps ended in it and their latency."""

    minute: datetime
    started: int
    completed: int
    failed: int
    steps: int
    step_p50_ms: float | None
    step_p95_ms: float | None


@dataclass(frozen=True, slots=True)
class Trend:
    """The minutes of a window that had anything in them, how many executions were read, and the window's start."""

    since: datetime
    considered: int
    minutes: list[Minute]


_TREND = """
WITH span AS (
    SELECT date_trunc('minute', now()) - (:minutes - 1) * interval '1 minute' AS since
), recent AS MATERIALIZED (
    SELECT id, state, created_at, finished_at FROM executions
    WHERE {scope} created_at >= (SELECT since FROM span)
    ORDER BY created_at DESC LIMIT :cap
), marks AS (
    SELECT date_trunc('minute', created_at) AS minute, 1 AS started, 0 AS completed, 0 AS failed FROM recent
    UNION ALL
    SELECT date_trunc('minute', finished_at), 0, (state = :completed)::int, (state = :failed)::int
    FROM recent WHERE finished_at IS NOT NULL
), runs AS (
    SELECT minute, sum(started)::int AS started, sum(completed)::int AS completed, sum(failed)::int AS failed
    FROM marks GROUP BY minute
), steps AS (
    SELECT date_trunc('minute', s.finished_at) AS minute, count(*)::int AS steps,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM s.finished_at - s.started_at) * 1000)
               AS step_p50_ms,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM s.finished_at - s.started_at) * 1000)
               AS step_p95_ms
    FROM recent r JOIN execution_steps s ON s.execution_id = r.id
    WHERE s.finished_at IS NOT NULL AND s.status <> 'waiting'
    GROUP BY 1
)
SELECT span.since, (SELECT count(*) FROM recent)::int AS considered, busy.*
FROM span LEFT JOIN (
    SELECT coalesce(runs.minute, steps.minute) AS minute, coalesce(runs.started, 0) AS started,
           coalesce(runs.completed, 0) AS completed, coalesce(runs.failed, 0) AS failed,
           coalesce(steps.steps, 0) AS steps, steps.step_p50_ms, steps.step_p95_ms
    FROM runs FULL JOIN steps ON steps.minute = runs.minute
) busy ON true
ORDER BY busy.minute
"""


async def trend(
    conn: Conn, minutes: int, cap: int, workflow_id: uuid.UUID | None = None, namespace: str = DEFAULT_NAMESPACE
) -> Trend:
    """The busy minutes of the last `minutes` (now's included) of the newest `cap` executions of a namespace
    created in them (of one workflow, when given)."""
    named = {"minutes": minutes, "cap": cap, "completed": COMPLETED, "failed": FAILED, "namespace": namespace}
    scope = in_namespace(namespace) + " AND "
    if workflow_id is None:
        statement = Statement(_TREND.format(scope=scope))
        rows = await conn.fetch(statement.sql, *statement.args(**named))
    else:
        statement = Statement(_TREND.format(scope=scope + "workflow_id = :workflow_id AND"))
        rows = await conn.fetch(statement.sql, *statement.args(**named, workflow_id=workflow_id))
    busy = [
        Minute(**{k: v for k, v in dict(r).items() if k not in ("since", "considered")})
        for r in rows
        if r["minute"] is not None
    ]
    return Trend(rows[0]["since"], rows[0]["considered"], busy)
