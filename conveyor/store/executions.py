"""Executions as stored: the record, creation under a dedupe key, and reads."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from conveyor.concurrency import NO_SLOTS, Slots
from conveyor.errors import NotFoundError
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.principal import DEFAULT_NAMESPACE
from conveyor.statemachines import DELAYED, INITIAL_STATE, PAUSED
from conveyor.store import Conn
from conveyor.store.channels import WAKE_CHANNEL
from conveyor.store.statement import Statement


@dataclass(frozen=True, slots=True)
class Execution:
    """One run of a workflow, as stored."""

    id: uuid.UUID
    workflow_id: uuid.UUID
    workflow_version: int
    state: str
    resume_state: str | None
    current_node: str | None
    visit: int
    attempt: int
    generation: int
    input: JSONObject
    context: JSONObject
    output: JSONValue
    error: JSONValue
    wake_at: datetime | None
    lease_owner: str | None
    version: int
    pause_requested: bool
    parent_id: uuid.UUID | None
    parent_node: str | None
    dedupe_key: str | None
    trigger_id: uuid.UUID | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    slot_key: str | None = None
    slot_limit: int | None = None
    total_limit: int | None = None
    # The team's action its current node runs, routing it to the workers that provide it (None: any worker).
    action: str | None = None
    # A parallel branch's join, where it ends; a foreach item's place (conveyor/store/children.py).
    stop_node: str | None = None
    item_index: int | None = None
    # Which due executions a claim takes first (-10 to 10): see conveyor/store/claims.py.
    priority: int = 0
    namespace: str = DEFAULT_NAMESPACE

    @property
    def waiting_for_worker(self) -> bool:
        """Parked: due, but its next step's action is provided by no live worker (conveyor/store/routing.py)."""
        return self.action is not None and self.wake_at is None and self.finished_at is None and self.state != PAUSED


def in_delay(alias: str) -> str:
    """SQL: the execution `alias` rests in a delay, or is paused from one (a resume goes back to it), so a wake
    (a child that ended, an event) may set its due time."""
    return f"({alias}.state = '{DELAYED}' OR ({alias}.state = '{PAUSED}' AND {alias}.resume_state = '{DELAYED}'))"


def in_namespace(namespace: str) -> str:
    """The condition on `namespace` that lets another namespace's read use the partial namespace indexes (their
    predicate proven by the literal, custom plan or generic); the default namespace's has no such index."""
    if namespace == DEFAULT_NAMESPACE:
        return "namespace = :namespace"
    return f"namespace = :namespace AND namespace <> '{DEFAULT_NAMESPACE}'"


FIELDS = tuple(f.name for f in dataclasses.fields(Execution))
COLUMNS = ", ".join(FIELDS)


def execution(row: asyncpg.Record) -> Execution:
    """An Execution from a row that holds its columns (and maybe more), by column name."""
    return Execution(**{name: row[name] for name in FIELDS})


# A new execution's columns, in the order every start gives them.
_NEW_COLUMNS = (
    "id, workflow_id, workflow_version, state, current_node, input, parent_id, parent_node, trigger_id, dedupe_key,"
    " slot_key, slot_limit, total_limit, namespace, priority"
)


def insert_executions(values: str, source: str | None = None) -> str:
    """SQL that starts executions at visit 1, attempt 1, due now: `values` gives the new columns in their order, for
    one row, or for each row of `source` (a FROM clause); the caller adds ON CONFLICT and RETURNING."""
    head = f"INSERT INTO executions ({_NEW_COLUMNS}, visit, attempt, wake_at)"
    if source is None:
        return f"{head}\n    VALUES ({values}, 1, 1, now())"
    return f"{head}\n    SELECT {values}, 1, 1, now()\n    FROM {source}"


_START_ONE = insert_executions(
    ":id, :workflow_id, :workflow_version, :state, :current_node, :input, :parent_id, :parent_node, NULL,"
    " :dedupe_key, :slot_key, :slot_limit, :total_limit, :namespace, :priority"
)
_INSERT = f"""
WITH inserted AS (
    {_START_ONE}
    ON CONFLICT {{target}} DO NOTHING
    RETURNING {{columns}}
), notified AS (
    SELECT pg_notify('{{channel}}', '') FROM inserted
)
SELECT {{columns}} FROM inserted, notified
"""
_INSERT_TOP = Statement(
    _INSERT.format(
        target="(workflow_id, dedupe_key) WHERE dedupe_key IS NOT NULL AND parent_id IS NULL AND trigger_id IS NULL",
        columns=COLUMNS,
        channel=WAKE_CHANNEL,
    )
)
_INSERT_CHILD = Statement(
    _INSERT.format(target="(parent_id, dedupe_key) WHERE parent_id IS NOT NULL", columns=COLUMNS, channel=WAKE_CHANNEL)
)
_BY_DEDUPE_KEY = Statement(f"""
SELECT {COLUMNS} FROM executions
WHERE workflow_id = :workflow_id AND dedupe_key = :dedupe_key AND parent_id IS NULL AND trigger_id IS NULL
""")
_CHILD_BY_KEY = Statement(f"SELECT {COLUMNS} FROM executions WHERE parent_id = :parent_id AND dedupe_key = :dedupe_key")


@dataclass(frozen=True, slots=True)
class NewExecution:
    """What it takes to start an execution."""

    workflow_id: uuid.UUID
    workflow_version: int
    start_node: str
    input: JSONObject
    dedupe_key: str | None = None
    parent_id: uuid.UUID | None = None
    parent_node: str | None = None
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    slots: Slots = NO_SLOTS
    namespace: str = DEFAULT_NAMESPACE
    priority: int = 0


async def insert_execution(conn: Conn, new: NewExecution) -> tuple[Execution, bool]:
    """Create an execution due now; with a known dedupe key, return the existing one instead. True when new."""
    insert = _INSERT_TOP if new.parent_id is None else _INSERT_CHILD
    row = await conn.fetchrow(
        insert.sql,
        *insert.args(
            id=new.id,
            workflow_id=new.workflow_id,
            workflow_version=new.workflow_version,
            namespace=new.namespace,
            state=INITIAL_STATE,
            current_node=new.start_node,
            input=new.input,
            parent_id=new.parent_id,
            parent_node=new.parent_node,
            dedupe_key=new.dedupe_key,
            slot_key=new.slots.key,
            slot_limit=new.slots.key_limit,
            total_limit=new.slots.total_limit,
            priority=new.priority,
        ),
    )
    if row is not None:
        return execution(row), True
    if new.parent_id is None:
        row = await conn.fetchrow(
            _BY_DEDUPE_KEY.sql, *_BY_DEDUPE_KEY.args(workflow_id=new.workflow_id, dedupe_key=new.dedupe_key)
        )
    else:
        row = await conn.fetchrow(
            _CHILD_BY_KEY.sql, *_CHILD_BY_KEY.args(parent_id=new.parent_id, dedupe_key=new.dedupe_key)
        )
    assert row is not None, "a conflicting dedupe key names an execution"
    return execution(row), False


_GET_SQL = f"SELECT {COLUMNS} FROM executions WHERE id = :id"
_GET = Statement(_GET_SQL)
_GET_FOR_UPDATE = Statement(_GET_SQL + " FOR UPDATE")


async def get_execution(conn: Conn, execution_id: uuid.UUID, *, for_update: bool = False) -> Execution:
    """Load an execution, optionally locking its row for the rest of the transaction."""
    get = _GET_FOR_UPDATE if for_update else _GET
    row = await conn.fetchrow(get.sql, *get.args(id=execution_id))
    if row is None:
        raise NotFoundError(f"execution {execution_id} not found", field="id", value=str(execution_id))
    return execution(row)


async def find_child(conn: Conn, parent_id: uuid.UUID, dedupe_key: str) -> Execution | None:
    """The child execution a parent started under this key, if any."""
    row = await conn.fetchrow(_CHILD_BY_KEY.sql, *_CHILD_BY_KEY.args(parent_id=parent_id, dedupe_key=dedupe_key))
    return execution(row) if row else None
