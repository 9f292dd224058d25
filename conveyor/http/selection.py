"""Which executions a request means, from its declared query or a bulk body, with 422 naming the field."""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from conveyor.errors import NotFoundError, ValidationError
from conveyor.http.instant import Instant, query_instant
from conveyor.http.operation import QueryModel
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.statemachines import STATES
from conveyor.store import Conn
from conveyor.store.selection import Selection
from conveyor.store.workflows import get_workflow

_KNOWN_STATES = ", ".join(STATES)
_MAX_STATES = len(STATES)


def _unknown_states(states: list[str]) -> list[str]:
    return [s for s in states if s not in STATES]


async def _workflow_id(conn: Conn, ref: str | None, field: str, namespace: str) -> uuid.UUID | None:
    if ref is None:
        return None
    try:
        return (await get_workflow(conn, ref, namespace)).id
    except NotFoundError as exc:
        raise ValidationError(f"{field!r} names no workflow", field=field, value=ref[:200]) from exc


_HEX = frozenset("0123456789abcdef")
_MAX_INPUT_DEPTH = 8
# A field name: any text without a dot (the path's separator), an `=`, white space or a control character.
_FIELD_NAME = re.compile(r"^[^.=\s\x00-\x1f\x7f]{1,100}$")


def id_range(prefix: str) -> tuple[uuid.UUID, uuid.UUID]:
    """The ids that start with these hex digits (dashes ignored): the lowest and the highest."""
    digits = prefix.replace("-", "").lower()
    if not digits or len(digits) > 32 or not set(digits) <= _HEX:
        raise ValueError("must be the start of an execution id: 1 to 32 hex digits, dashes allowed")
    return uuid.UUID(digits.ljust(32, "0")), uuid.UUID(digits.ljust(32, "f"))


def input_docs(condition: str) -> tuple[JSONObject, ...]:
    """`path=value` (`email=ada@example.com`, `user.plan=pro`; a leading `input.` is allowed) as the documents an
    input contains when that field holds the value: as text, and as the number, true, false or null it spells."""
    path, equals, value = condition.partition("=")
    names = [n.strip() for n in path.strip().removeprefix("input.").split(".")]
    if not equals or not all(_FIELD_NAME.match(n) for n in names) or len(names) > _MAX_INPUT_DEPTH:
        raise ValueError(
            "must be field=value, such as email=ada@example.com or user.plan=pro "
            f"(field names without '.', '=' or spaces, at most {_MAX_INPUT_DEPTH} deep)"
        )
    value = value.strip()
    docs: list[JSONValue] = [value]
    with contextlib.suppress(ValueError):
        typed = json.loads(value)
        if typed is None or isinstance(typed, bool | int | float):
            docs.append(typed)
    for name in reversed(names):
        docs = [{name: doc} for doc in docs]
    return tuple(doc for doc in docs if isinstance(doc, dict))


class SelectionQuery(QueryModel):
    """The filters of GET /executions: each given one narrows the list."""

    workflow: str | None = Field(default=None, description="a workflow's id or name")
    state: str | None = Field(default=None, description="one state or several separated by commas")
    created_after: datetime | None = Field(default=None, description="an ISO 8601 time")
    created_before: datetime | None = Field(default=None, description="an ISO 8601 time")
    parent: uuid.UUID | None = Field(default=None, description="the parent execution of a shared flow")
    id: str | None = Field(
        default=None, max_length=36, description="an execution's id, or its first hex digits (dashes optional)"
    )
    input: str | None = Field(
        default=None,
        max_length=1000,
        description="a field of the input equal to a value: email=ada@example.com, user.plan=pro (by index)",
    )
    error: str | None = Field(
        default=None, min_length=1, max_length=200, description="text the error contains, in any case"
    )

    @field_validator("id")
    @classmethod
    def _prefix(cls, value: str | None) -> str | None:
        if value is not None:
            id_range(value)
        return value

    @field_validator("input")
    @classmethod
    def _field_equals(cls, value: str | None) -> str | None:
        if value is not None:
            input_docs(value)
        return value

    @field_validator("state")
    @classmethod
    def _known(cls, value: str | None) -> str | None:
        if value is None:
            return None
        states = [s.strip() for s in value.split(",") if s.strip()]
        if not states or _unknown_states(states):
            raise ValueError(f"takes states separated by commas, of: {_KNOWN_STATES}")
        return ",".join(dict.fromkeys(states))

    @field_validator("created_after", "created_before", mode="before")
    @classmethod
    def _instant(cls, value: object) -> object:
        return query_instant(value)

    async def selection(self, conn: Conn, namespace: str) -> Selection:
        """The selection these filters name, in the namespace."""
        return Selection(
            namespace=namespace,
            workflow_id=await _workflow_id(conn, self.workflow, "workflow", namespace),
            states=tuple(self.state.split(",")) if self.state else (),
            created_after=self.created_after,
            created_before=self.created_before,
            parent_id=self.parent,
            id_range=id_range(self.id) if self.id else None,
            input_docs=input_docs(self.input) if self.input else (),
            error_text=self.error,
        )


class SelectionBody(BaseModel):
    """Executions by id, or by the filters of GET /executions; at least one of them."""

    model_config = ConfigDict(extra="forbid")

    ids: list[uuid.UUID] | None = Field(default=None, min_length=1, max_length=100_000)
    workflow: str | None = Field(default=None, min_length=1, max_length=500)
    state: list[str] | None = Field(default=None, min_length=1, max_length=_MAX_STATES)
    created_after: Instant | None = None
    created_before: Instant | None = None
    parent: uuid.UUID | None = None

    @field_validator("state", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("state")
    @classmethod
    def _known(cls, value: list[str] | None) -> list[str] | None:
        if value and _unknown_states(value):
            raise ValueError(f"unknown state {_unknown_states(value)[0]!r}; known: {_KNOWN_STATES}")
        return value

    async def selection(self, conn: Conn, namespace: str) -> Selection:
        """The selection this body names, in the namespace; 422 when it names none (acting on everything takes a
        filter)."""
        chosen = Selection(
            namespace=namespace,
            workflow_id=await _workflow_id(conn, self.workflow, "/workflow", namespace),
            states=tuple(dict.fromkeys(self.state or ())),
            created_after=self.created_after,
            created_before=self.created_before,
            parent_id=self.parent,
            ids=tuple(dict.fromkeys(self.ids or ())),
        )
        if chosen == Selection(namespace=namespace):
            raise ValidationError("name the executions: give 'ids' or at least one filter", field="/ids")
        return chosen
