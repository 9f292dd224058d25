"""Claiming due executions under a lease, keeping leases alive, and handing them back."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from conveyor.jsonvalue import JSONValue
from conveyor.statemachines import CLAIM_EVENTS, PAUSED, Transition, moves
from conveyor.store import Conn
from conveyor.store.channels import WAKE_CHANNEL
from conveyor.store.executions import COLUMNS, Execution, execution
from conveyor.store.history import INSERT_HISTORY
from conveyor.store.statement import Statement

# The due index (schema.sql) leaves paused executions out; the planner uses it only for a query whose
# predicate says the same in the same literal words, hence a literal rather than a parameter here.
DUE = f"wake_at IS NOT NULL AND state <> '{PAUSED}'"

# A row whose next step runs one of the team's actions is for the workers that provide that action.
ROUTED = "(e.action IS NULL OR e.action = ANY({provides}::text[]))"

# A slot is taken by a leased execution whose lease has not lapsed: a dead worker's rows stop counting when
# their leases run out (and are then due themselves). Counted from rows through the partial slot indexes.
_LEASED = "h.lease_owner IS NOT NULL AND h.wake_at > now()"
_KEY_HOLDERS = f"SELECT count(*) FROM executions h WHERE h.slot_key = e.slot_key AND {_LEASED}"
_TOTAL_HOLDERS = (
    f"SELECT count(*) FROM executions h WHERE h.workflow_id = e.workflow_id AND h.total_limit IS NOT NULL AND {_LEASED}"
)
# Whether a due execution waits for a slot. Executions without caps never reach the counts.
HELD_BACK = f"""(
    (e.slot_key IS NOT NULL AND ({_KEY_HOLDERS}) >= e.slot_limit)
    OR (e.total_limit IS NOT NULL AND ({_TOTAL_HOLDERS}) >= e.total_limit))"""

# The move a claim makes from each resting state, as the machine declares them.
_CLAIM_MOVES: tuple[Transition, ...] = tuple(move for event in CLAIM_EVENTS for move in moves(event))
_E_COLUMNS = ", ".join("e." + c for c in COLUMNS.split(", "))


def claim_set(target: str) -> str:
    """SQL: what a claim writes to the execution `e` it takes (`target`: the state its move leads to), for `:owner`
    under a lease of `:lease_seconds`; one declaration for every statement that claims."""
    return (
        f"state = {target}, lease_owner = :owner, wake_at = now() + make_interval(secs => :lease_seconds), "
        "version = e.version + 1, started_at = coalesce(e.started_at, now()), step_started_at = now(), "
        "updated_at = now()"
    )


# SQL: the detail of a claim's history row, from the claimed row `c` (its `previous_owner`).
CLAIM_DETAIL = "jsonb_build_object('worker', :owner::text, 'previous_owner', c.previous_owner)"

# Priorities: a start's `priority` (-10 to 10) orders what is due, and waiting raises it: every AGING_SECONDS a row
# has been due counts as one level more, so a steady stream of priority 10 cannot starve a priority 0 row for more
# than 10 such spans (5 minutes), nor a priority -10 one for more than 20.
AGING_SECONDS = 30.0
_CANDIDATE = (
    "e.id, e.state, e.lease_owner, e.slot_key IS NULL AND e.total_limit IS NULL AS uncapped, e.priority, e.wake_at"
)
_TAKEABLE = f"id <> ALL(:in_flight::uuid[]) AND {ROUTED.format(provides=':provides')} AND NOT {HELD_BACK}"

# A claim in one statement: lock the due rows others do not hold, take the ones without caps and record each take
# in history. The candidates are the earliest due rows (the due index) and the most urgent ones above priority 0
# (their own partial index, empty while nothing is urgent); of those, the highest priority once aged goes first.
# A row with caps is locked and named but not taken: its cap is counted only after the caps' advisory locks are
# held, which takes a transaction (`admit`).
_CLAIM = Statement(f"""
WITH urgent AS (
    SELECT {_CANDIDATE}
    FROM executions e
    WHERE {DUE} AND priority > 0 AND wake_at <= now() AND {_TAKEABLE}
    ORDER BY priority DESC, wake_at
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
), earliest AS (
    SELECT {_CANDIDATE}
    FROM executions e
    WHERE {DUE} AND wake_at <= now() AND {_TAKEABLE}
    ORDER BY wake_at
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
), locked AS (
    SELECT * FROM (SELECT * FROM urgent UNION SELECT * FROM earliest) c
    ORDER BY c.priority + floor(extract(epoch FROM now() - c.wake_at) / :aging_seconds) DESC, c.wake_at
    LIMIT :limit
), move AS (
    SELECT * FROM unnest(:sources::text[], :events::text[], :targets::text[]) AS m(source, event, target)
), claimed AS (
    UPDATE executions e
    SET {claim_set("m.target")}
    FROM locked l JOIN move m ON m.source = l.state
    WHERE e.id = l.id AND l.uncapped
    RETURNING {_E_COLUMNS}, m.source AS claimed_from, m.event AS claimed_by, l.lease_owner AS previous_owner
), history AS (
    {INSERT_HISTORY}
    SELECT c.id, c.claimed_from, c.state, c.claimed_by, c.current_node, c.attempt, {CLAIM_DETAIL}
    FROM claimed c
)
SELECT l.id AS locked_id, l.uncapped, c.* FROM locked l LEFT JOIN claimed c ON c.id = l.id
""")


def claim_move_args() -> dict[str, JSONValue]:
    """The claim moves as three parallel arrays (`sources`, `events`, `targets`) for a statement's `move` table."""
    return {
        "sources": [m.source for m in _CLAIM_MOVES],
        "events": [m.event for m in _CLAIM_MOVES],
        "targets": [m.target for m in _CLAIM_MOVES],
    }


@dataclass(frozen=True, slots=True)
class ClaimFor:
    """Who claims what another statement makes due, and how much of it: `room` executions at most, each
    leased for `lease_seconds`, none of an action `owner` does not provide."""

    owner: str
    room: int
    lease_seconds: float
    provides: Sequence[str]


# Claim nothing: what the statement makes due is left to the claim loops.
NO_CLAIM = ClaimFor(owner="", room=0, lease_seconds=0.0, provides=())

# Columns of a claimed execution, for a statement that claims rows as a claim does (its RETURNING).
CLAIMED_COLUMNS = _E_COLUMNS


def claim_args(
    owner: str, limit: int, lease_seconds: float, in_flight: Sequence[uuid.UUID], provides: Sequence[str]
) -> list[JSONValue]:
    """The claim statement's arguments."""
    return _CLAIM.args(
        in_flight=list(in_flight),
        provides=list(provides),
        limit=limit,
        owner=owner,
        lease_seconds=lease_seconds,
        **claim_move_args(),
        aging_seconds=AGING_SECONDS,
    )


@dataclass(frozen=True, slots=True)
class FirstPass:
    """What a claim's one statement did: the executions it took, and the due ones with caps it left to `admit`."""

    claimed: list[Execution]
    capped: list[uuid.UUID]


async def claim_uncapped(
    conn: Conn,
    owner: str,
    limit: int,
    lease_seconds: float,
    in_flight: Sequence[uuid.UUID],
    provides: Sequence[str],
) -> FirstPass:
    """Take up to `limit` due executions without caps for `owner` (none it runs already, none of an action it
    does not provide), in one statement."""
    rows = await conn.fetch(_CLAIM.sql, *claim_args(owner, limit, lease_seconds, in_flight, provides))
    claimed = [execution(r) for r in rows if r["id"] is not None]
    return FirstPass(claimed, [r["locked_id"] for r in rows if not r["uncapped"]])


_LOCK_CAPPED = Statement(f"""
SELECT {COLUMNS} FROM executions e
WHERE id = ANY(:ids::uuid[]) AND {DUE} AND wake_at <= now() AND {ROUTED.format(provides=":provides")}
  AND NOT {HELD_BACK}
ORDER BY wake_at
FOR UPDATE SKIP LOCKED
""")


async def lock_capped(conn: Conn, ids: Sequence[uuid.UUID], provides: Sequence[str]) -> list[Execution]:
    """Lock again, in the claim's transaction, those of `ids` still due and not held by another worker."""
    return [
        execution(r)
        for r in await conn.fetch(_LOCK_CAPPED.sql, *_LOCK_CAPPED.args(ids=list(ids), provides=list(provides)))
    ]


_LOCK_SLOTS = Statement("""
SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT unnest(:locks::bigint[]) AS k ORDER BY k) keys
""")
# Run after `_LOCK_SLOTS`, so its snapshot holds every claim committed by a worker that held the same slots.
_ADMIT = Statement(f"""
WITH candidate AS (
    SELECT e.id, e.wake_at, e.slot_key, e.slot_limit, e.total_limit, e.workflow_id,
           CASE WHEN e.slot_key IS NULL THEN 0 ELSE ({_KEY_HOLDERS}) END AS key_held,
           CASE WHEN e.total_limit IS NULL THEN 0 ELSE ({_TOTAL_HOLDERS}) END AS total_held
    FROM executions e WHERE e.id = ANY(:ids::uuid[])
), ranked AS (
    SELECT c.*,
           row_number() OVER (PARTITION BY c.slot_key ORDER BY c.wake_at, c.id) AS key_rank,
           row_number() OVER (PARTITION BY c.workflow_id, c.total_limit IS NOT NULL ORDER BY c.wake_at, c.id)
               AS total_rank
    FROM candidate c
)
SELECT id FROM ranked
WHERE (slot_key IS NULL OR key_held + key_rank <= slot_limit)
  AND (total_limit IS NULL OR total_held + total_rank <= total_limit)
""")


def _slot_locks(ex: Execution) -> list[int]:
    # Advisory lock ids in their own space: a key's, and a capped workflow's.
    locks = []
    if ex.slot_key is not None:
        locks.append(_lock_id("slot:" + ex.slot_key))
    if ex.total_limit is not None:
        locks.append(_lock_id(f"workflow:{ex.workflow_id}"))
    return locks


def _lock_id(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


async def admit(conn: Conn, locked: Sequence[Execution]) -> list[Execution]:
    """Of executions locked for a claim, those their caps let run now, in due order.

    Two workers may each lock a due execution of one key under a snapshot that sees the slot free; the
    slots' advisory locks, held to the end of the transaction, make the second count after the first commits.
    """
    locks = [lock for ex in locked for lock in _slot_locks(ex)]
    if not locks:
        return list(locked)
    await conn.execute(_LOCK_SLOTS.sql, *_LOCK_SLOTS.args(locks=locks))
    admitted = {r["id"] for r in await conn.fetch(_ADMIT.sql, *_ADMIT.args(ids=[ex.id for ex in locked]))}
    return [ex for ex in locked if ex.id in admitted]


@dataclass(frozen=True, slots=True)
class Claim:
    """An execution a worker takes, with the transition the take makes."""

    execution: Execution
    transition: Transition


_MARK_CLAIMED = Statement(f"""
WITH claimed AS (
    UPDATE executions e
    SET {claim_set("c.target")}
    FROM unnest(:ids::uuid[], :targets::text[]) AS c(id, target)
    WHERE e.id = c.id
    RETURNING {_E_COLUMNS}
), history AS (
    {INSERT_HISTORY}
    SELECT h.id, h.source, h.target, h.event, e.current_node, e.attempt, h.detail
    FROM unnest(:ids::uuid[], :targets::text[], :sources::text[], :events::text[], :details::jsonb[])
         AS h(id, target, source, event, detail)
    JOIN claimed e ON e.id = h.id
)
SELECT * FROM claimed
""")


async def mark_claimed(conn: Conn, owner: str, lease_seconds: float, claims: Sequence[Claim]) -> list[Execution]:
    """Give the locked executions to `owner` and record the transition that took each one."""
    rows = await conn.fetch(
        _MARK_CLAIMED.sql,
        *_MARK_CLAIMED.args(
            ids=[c.execution.id for c in claims],
            owner=owner,
            lease_seconds=lease_seconds,
            targets=[c.transition.target for c in claims],
            sources=[c.transition.source for c in claims],
            events=[c.transition.event for c in claims],
            details=[{"worker": owner, "previous_owner": c.execution.lease_owner} for c in claims],
        ),
    )
    return [execution(r) for r in rows]


_RENEW = Statement("""
UPDATE executions SET wake_at = now() + make_interval(secs => :lease_seconds)
WHERE id = ANY(:ids::uuid[]) AND lease_owner = :owner
RETURNING id
""")


async def renew_leases(conn: Conn, owner: str, ids: Sequence[uuid.UUID], lease_seconds: float) -> set[uuid.UUID]:
    """Extend the leases `owner` still holds; return the ids it still holds."""
    return {
        r["id"]
        for r in await conn.fetch(_RENEW.sql, *_RENEW.args(lease_seconds=lease_seconds, ids=list(ids), owner=owner))
    }


_RELEASE = Statement(f"""
WITH released AS (
    UPDATE executions
    SET lease_owner = NULL, wake_at = now() + make_interval(secs => :after_seconds), version = version + 1
    WHERE id = ANY(:ids::uuid[]) AND lease_owner = :owner
    RETURNING id
)
SELECT count(*) AS n, pg_notify('{WAKE_CHANNEL}', '') FROM released
""")


async def release_leases(conn: Conn, owner: str, ids: Sequence[uuid.UUID], after_seconds: float = 0.0) -> int:
    """Hand executions back so another worker takes them (after `after_seconds`) without waiting out the lease."""
    row = await conn.fetchrow(_RELEASE.sql, *_RELEASE.args(after_seconds=after_seconds, ids=list(ids), owner=owner))
    return int(row["n"]) if row else 0


# An execution waiting for a slot is not due: the slot's holder ends its step or lets its lease lapse (a due
# time of its own) first.
_NEXT_DUE = Statement(f"""
SELECT extract(epoch FROM min(wake_at) - now())::float8
FROM executions e WHERE {DUE} AND id <> ALL(:in_flight::uuid[]) AND {ROUTED.format(provides=":provides")}
  AND NOT (wake_at <= now() AND {HELD_BACK})
""")


async def seconds_until_next_due(
    conn: Conn, in_flight: Sequence[uuid.UUID] = (), provides: Sequence[str] = ()
) -> float | None:
    """How long until the next execution (not one we run, nor one of an action we do not provide) needs a
    worker, by the database's clock."""
    value: float | None = await conn.fetchval(
        _NEXT_DUE.sql, *_NEXT_DUE.args(in_flight=list(in_flight), provides=list(provides))
    )
    return value


@dataclass(frozen=True, slots=True)
class SlotWait:
    """Why a due execution is not running: its key's slots (or, with no key, its workflow's) are all taken."""

    key: str | None
    limit: int


_SLOT_WAITS = Statement(f"""
SELECT e.id, e.slot_key, e.slot_limit, e.total_limit,
       e.slot_key IS NOT NULL AND ({_KEY_HOLDERS}) >= e.slot_limit AS key_full
FROM executions e
WHERE e.id = ANY(:ids::uuid[]) AND {DUE} AND wake_at <= now() AND {HELD_BACK}
""")


async def slot_waits(conn: Conn, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, SlotWait]:
    """Of these executions, the ones due but held back by a concurrency cap, with the cap that holds each."""
    waits = {}
    for r in await conn.fetch(_SLOT_WAITS.sql, *_SLOT_WAITS.args(ids=list(ids))):
        full_key = bool(r["key_full"])
        waits[r["id"]] = SlotWait(r["slot_key"] if full_key else None, r["slot_limit" if full_key else "total_limit"])
    return waits
