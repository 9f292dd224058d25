"""Prometheus metrics of the engine."""

import functools
from dataclasses import dataclass

from prometheus_client import Counter, Gauge, Histogram

from conveyor.store.history import StepStatus

STEPS = Counter("conveyor_steps_total", "Steps run, by node type and result", ["node_type", "result"])
STEP_SECONDS = Histogram("conveyor_step_seconds", "Time a node's executor took", ["node_type"])
CLAIMED = Counter("conveyor_executions_claimed_total", "Executions claimed by this process")
COMMIT_GROUP_SIZE = Histogram(
    "conveyor_commit_group_size",
    "Step commits written together in one transaction",
    buckets=(1, 2, 5, 10, 20, 35, 50),
)
IN_FLIGHT = Gauge("conveyor_executions_in_flight", "Executions this process is running now, held sleeps included")
SLEEPS_HELD = Gauge("conveyor_sleeps_held", "Short delays this process holds under their lease, to wake in memory")
LEASES_LOST = Counter("conveyor_leases_lost_total", "Leases this process lost before its step committed")
DATABASE_UNAVAILABLE = Counter(
    "conveyor_database_unavailable_total", "Loop passes that found the database unreachable", ["loop"]
)
LOOP_ERRORS = Counter("conveyor_loop_errors_total", "Unexpected errors caught at the top of a loop", ["loop"])
TRIGGER_ROWS = Counter("conveyor_trigger_rows", "Inbox rows consumed, by trigger and outcome", ["trigger", "outcome"])
COALESCED_GROUPS = Counter(
    "conveyor_coalesced_groups",
    "Coalescing groups that ripened, by trigger and what became of them",
    ["trigger", "outcome"],
)
TRIGGER_LAG = Gauge("conveyor_trigger_lag_seconds", "Age of the oldest unconsumed inbox row, per trigger", ["trigger"])
RETENTION_DELETED = Counter("conveyor_retention_deleted_total", "Rows the retention stage deleted, by table", ["table"])


@dataclass(frozen=True, slots=True)
class StepMetrics:
    """One node type's step series, looked up once (a labelled lookup takes a lock and checks the labels)."""

    completed: Counter
    failed: Counter
    seconds: Histogram


@functools.cache
def step_metrics(node_type: str) -> StepMetrics:
    """The step series of a node type."""
    return StepMetrics(
        STEPS.labels(node_type=node_type, result=StepStatus.COMPLETED),
        STEPS.labels(node_type=node_type, result=StepStatus.FAILED),
        STEP_SECONDS.labels(node_type=node_type),
    )


CONNECTIONS_SHED = Counter(
    "conveyor_http_connections_shed_total",
    "Connections closed at CONVEYOR_MAX_CONNECTIONS: evicted (still sending headers) or refused",
    ["outcome"],
)
