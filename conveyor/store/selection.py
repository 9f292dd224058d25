"""Which executions an operator means: filters and ids, turned into one WHERE clause and paged by keyset."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.store import Conn
from conveyor.store.executions import COLUMNS, Execution, execution, in_namespace
from conveyor.store.statement import Statement


@dataclass(frozen=True, slots=True)
class Selection:
    """Executions matching every given filter; an empty selection matches all."""

    workflow_id: uuid.UUID | None = None
    states: tuple[str, ...] = ()
    created_after: datetime | None = None
    created_before: datetime | None = None
    parent_id: uuid.UUID | None = None
    ids: tuple[uuid.UUID, ...] = ()
    namespace: str | None = None  # the API always names one; None matches every namespace
    # Ids between these two (an id prefix: the first with the rest of the digits 0, the last with them f).
    id_range: tuple[uuid.UUID, uuid.UUID] | None = None
    # An input containing any of these documents (a field equal to a value, as text or as the JSON it spells).
    input_docs: tuple[JSONObject, ...] = ()
    # Text found in the error, any case (a scan of the rows the other filters leave: combine them).
    error_text: str | None = None


# (created_at, id) of an item: lists run newest first on it, and a page continues strictly after it.
Key = tuple[datetime, uuid.UUID]

# Each filter's condition. Indexes (schema.sql): workflow → executions_workflow_idx, one state →
# executions_state_idx, parent → executions_parent_idx, another namespace than the default alone →
# executions_namespace_idx, none of these → executions_created_idx; each is on (…, created_at DESC, id DESC),
# so a page is an index range read in order, with no sort. An id prefix is a range of the primary key; a top-level
# `email` of the input is found through executions_input_email_idx (a B-tree on that one field): both few rows,
# sorted after. Other input fields are a scan of what the other filters leave. Not a GIN index over the whole
# input: a step's update that is not HOT writes every index again, and a GIN index's entries for every field of
# every input cost the wait bench two thirds of its resumes.
_WORKFLOW = "workflow_id = :workflow_id"
_ONE_STATE = "state = :state"
_STATES = "state = ANY(:states::text[])"
_AFTER = "created_at > :created_after"
_BEFORE = "created_at < :created_before"
_PARENT = "parent_id = :parent_id"
_IDS = "id = ANY(:ids::uuid[])"
_ID_RANGE = "id BETWEEN :id_low AND :id_high"
_INPUT = "input @> :input_doc::jsonb"
# The one input field with an index of its own (schema.sql): the address an onboarding flow is started for.
INDEXED_INPUT_FIELD = "email"
_INDEXED_INPUT = f"(input->>'{INDEXED_INPUT_FIELD}') = :input_text"
_INPUT_EITHER = "(input @> :input_doc::jsonb OR input @> :input_typed::jsonb)"
_ERROR = "error::text ILIKE :error_like"
_KEYSET = "(created_at, id) < (:after_at, :after_id)"


def where(selection: Selection, after: Key | None = None) -> tuple[str, dict[str, JSONValue]]:
    """The WHERE clause (named parameters) and its values: only the filters given, so each can use its index."""
    conditions: list[str] = []
    values: dict[str, JSONValue] = {}

    def add(condition: str, **named: JSONValue) -> None:
        conditions.append(condition)
        values.update(named)

    if selection.workflow_id is not None:
        add(_WORKFLOW, workflow_id=selection.workflow_id)
    if len(selection.states) == 1:
        add(_ONE_STATE, state=selection.states[0])
    elif selection.states:
        add(_STATES, states=list(selection.states))
    if selection.created_after is not None:
        add(_AFTER, created_after=selection.created_after)
    if selection.created_before is not None:
        add(_BEFORE, created_before=selection.created_before)
    if selection.parent_id is not None:
        add(_PARENT, parent_id=selection.parent_id)
    if selection.ids:
        add(_IDS, ids=list(selection.ids))
    if selection.namespace is not None:
        add(in_namespace(selection.namespace), namespace=selection.namespace)
    for condition, named in _searches(selection):
        add(condition, **named)
    if after is not None:
        add(_KEYSET, after_at=after[0], after_id=after[1])
    return " AND ".join(conditions) or "true", values


def _searches(selection: Selection) -> list[tuple[str, dict[str, JSONValue]]]:
    """The conditions of the searches given: an id prefix, an input field, error text."""
    found: list[tuple[str, dict[str, JSONValue]]] = []
    if selection.id_range is not None:
        found.append((_ID_RANGE, {"id_low": selection.id_range[0], "id_high": selection.id_range[1]}))
    docs = selection.input_docs
    if docs and isinstance(text := docs[0].get(INDEXED_INPUT_FIELD), str) and len(docs[0]) == 1:
        found.append((_INDEXED_INPUT, {"input_text": text}))  # narrows to the index; containment keeps the type
    if len(docs) == 1:
        found.append((_INPUT, {"input_doc": docs[0]}))
    elif docs:
        found.append((_INPUT_EITHER, {"input_doc": docs[0], "input_typed": docs[1]}))
    if selection.error_text is not None:
        found.append((_ERROR, {"error_like": f"%{_escaped(selection.error_text)}%"}))
    return found


def _escaped(text: str) -> str:
    """`text` for LIKE, its wildcards and escape character taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_LIST = "SELECT {columns} FROM executions WHERE {where} ORDER BY created_at DESC, id DESC LIMIT :limit"


def list_query(selection: Selection, after: Key | None, limit: int) -> tuple[str, list[JSONValue]]:
    """The statement `list_executions` runs and its arguments (a test EXPLAINs it to see the index used)."""
    clause, values = where(selection, after)
    statement = Statement(_LIST.format(columns=COLUMNS, where=clause))
    return statement.sql, statement.args(**values, limit=limit)


async def list_executions(conn: Conn, selection: Selection, after: Key | None, limit: int) -> list[Execution]:
    """Up to `limit` matching executions, newest first, after the key `after` when given."""
    sql, args = list_query(selection, after, limit)
    return [execution(r) for r in await conn.fetch(sql, *args)]


_PAGE_KEYS = "SELECT created_at, id FROM executions WHERE {where} ORDER BY created_at DESC, id DESC LIMIT :limit"


async def page_keys(conn: Conn, selection: Selection, after: Key | None, limit: int) -> list[Key]:
    """The keys of the next `limit` matching executions, newest first, without locking the rows."""
    clause, values = where(selection, after)
    statement = Statement(_PAGE_KEYS.format(where=clause))
    rows = await conn.fetch(statement.sql, *statement.args(**values, limit=limit))
    return [(r["created_at"], r["id"]) for r in rows]
