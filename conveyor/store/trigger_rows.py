"""A trigger's inbox rows as the API lists them: newest first, each with its outcome and reason."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from conveyor.jsonvalue import JSONValue
from conveyor.store import Conn
from conveyor.store.statement import Statement

# What consuming a row decided; the same list as the CHECK on trigger_events.outcome.
Outcome = Literal["started", "filtered", "error", "disabled", "duplicate", "routed", "coalesced"]
OUTCOMES: tuple[str, ...] = get_args(Outcome)
# Keyset pages run newest first: "no cursor" is a bound above every id, so the index range always applies.
NO_CURSOR = 2**63 - 1


@dataclass(frozen=True, slots=True)
class TriggerRow:
    """One inbox row of a trigger: pending (no outcome yet) or consumed."""

    id: int
    outcome: str | None
    reason: str | None
    execution_id: uuid.UUID | None
    dedupe_key: str | None
    payload: JSONValue  # an application may insert any JSON: a row that is not an object is an `error`
    created_at: datetime
    consumed_at: datetime | None


_LIST = Statement("""
SELECT id, outcome, reason, execution_id, dedupe_key, payload, created_at, consumed_at
FROM trigger_events
WHERE trigger_id = :trigger_id AND id < :before_id AND (:outcome::text IS NULL OR outcome = :outcome)
  AND (:reason::text IS NULL OR strpos(reason, :reason) > 0)
ORDER BY id DESC
LIMIT :limit
""")


async def list_trigger_rows(
    conn: Conn, trigger_id: uuid.UUID, outcome: str | None, reason: str | None, before_id: int, limit: int
) -> list[TriggerRow]:
    """Up to `limit` rows of the trigger with ids below `before_id`, newest first, of one outcome and with
    a reason containing `reason` if given."""
    args = _LIST.args(trigger_id=trigger_id, before_id=before_id, outcome=outcome, reason=reason, limit=limit)
    return [TriggerRow(**dict(r)) for r in await conn.fetch(_LIST.sql, *args)]


_GET = Statement("""
SELECT id, outcome, reason, execution_id, dedupe_key, payload, created_at, consumed_at
FROM trigger_events WHERE id = :id
""")


async def get_trigger_row(conn: Conn, row_id: int) -> TriggerRow | None:
    """One inbox row, or None when retention has deleted it."""
    row = await conn.fetchrow(_GET.sql, *_GET.args(id=row_id))
    return None if row is None else TriggerRow(**dict(row))
