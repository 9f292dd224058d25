"""Whole-database chores: emptying conveyor's tables for tests and benchmarks."""

from __future__ import annotations

from conveyor.store import Conn

# Every table conveyor writes at run time; email_templates is left alone (its seeds are configuration).
RUNTIME_TABLES = (
    "webhook_logs",
    "email_logs",
    "sms_logs",
    "actions",
    "worker_actions",
    "execution_steps",
    "execution_history",
    "parked_executions",
    "executions",
    "workflow_versions",
    "workflows",
    "trigger_events",
    "event_log",
    "event_waits",
    "event_match_paths",
    "triggers",
    "workers",
    "secrets",
    "throttles",
    "throttle_grants",
    "coalesce_groups",
    "hook_deliveries",
    "api_keys",
    "audit_log",
)
CONVEYOR_TABLES = frozenset({*RUNTIME_TABLES, "email_templates"})
_TRUNCATE = f"TRUNCATE {', '.join(RUNTIME_TABLES)} RESTART IDENTITY CASCADE"


async def truncate_runtime_tables(conn: Conn) -> None:
    """Delete every workflow, execution and log row."""
    await conn.execute(_TRUNCATE)
