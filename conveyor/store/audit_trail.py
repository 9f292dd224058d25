"""The audit_log table: who changed what, when and from where; rows are only ever added."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from conveyor.jsonvalue import JSONObject
from conveyor.principal import Principal
from conveyor.store import Conn
from conveyor.store.statement import Statement


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a change came from: the request's id and the client's address (None for a change no request made)."""

    request_id: str | None = None
    remote: str | None = None


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change, and from where: what the audit trail and an execution's history record."""

    principal: Principal
    origin: Origin = Origin()

    def detail(self) -> JSONObject:
        """What an execution's history row says about who moved it."""
        return {"by": "operator", "actor": self.principal.actor}


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of the trail."""

    id: int
    namespace: str
    at: datetime
    actor: str
    action: str
    target: JSONObject | None
    execution_id: uuid.UUID | None
    status: int | None
    remote: str | None
    request_id: str | None


_RECORD = Statement("""
INSERT INTO audit_log (namespace, actor, action, target, status, remote, request_id)
VALUES (:namespace, :actor, :action, :target::jsonb, :status, :remote, :request_id)
""")


async def record_change(conn: Conn, actor: Actor, action: str, target: JSONObject, status: int) -> None:
    """Record one request that changed something."""
    await conn.execute(
        _RECORD.sql,
        *_RECORD.args(
            namespace=actor.principal.namespace,
            actor=actor.principal.actor,
            action=action,
            target=target,
            status=status,
            remote=actor.origin.remote,
            request_id=actor.origin.request_id,
        ),
    )


_RECORD_EXECUTIONS = Statement("""
INSERT INTO audit_log (namespace, actor, action, execution_id, remote, request_id)
SELECT :namespace, :actor, :action, id, :remote, :request_id FROM unnest(:ids::uuid[]) AS id
""")


async def record_executions(conn: Conn, actor: Actor, action: str, execution_ids: Sequence[uuid.UUID]) -> None:
    """Record each execution an operator action changed, in the transaction that changed them."""
    if not execution_ids:
        return
    await conn.execute(
        _RECORD_EXECUTIONS.sql,
        *_RECORD_EXECUTIONS.args(
            namespace=actor.principal.namespace,
            actor=actor.principal.actor,
            action=action,
            ids=list(execution_ids),
            remote=actor.origin.remote,
            request_id=actor.origin.request_id,
        ),
    )


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which entries GET /audit lists: of one namespace, optionally by actor, action, execution and time."""

    namespace: str
    actor: str | None = None
    action: str | None = None
    execution_id: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None


_LIST = Statement("""
SELECT id, namespace, at, actor, action, target, execution_id, status, remote, request_id
FROM audit_log
WHERE namespace = :namespace
  AND (:actor::text IS NULL OR actor = :actor)
  AND (:action::text IS NULL OR action = :action)
  AND (:execution_id::uuid IS NULL OR execution_id = :execution_id)
  AND (:since::timestamptz IS NULL OR at >= :since)
  AND (:until::timestamptz IS NULL OR at < :until)
  AND (:before::bigint IS NULL OR id < :before)
ORDER BY id DESC
LIMIT :limit
""")


async def list_audit(conn: Conn, where: AuditFilter, before: int | None, limit: int) -> list[AuditEntry]:
    """Entries newest first, those with ids below `before` when given."""
    rows = await conn.fetch(
        _LIST.sql,
        *_LIST.args(
            namespace=where.namespace,
            actor=where.actor,
            action=where.action,
            execution_id=where.execution_id,
            since=where.since,
            until=where.until,
            before=before,
            limit=limit,
        ),
    )
    return [AuditEntry(**dict(r)) for r in rows]
