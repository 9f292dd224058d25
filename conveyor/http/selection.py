"""Reading which executions a request means, from query parameters or a bulk body, with 422 naming the field."""

from __future__ import annotations

import uuid
from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from conveyor.errors import NotFoundError, ValidationError
from conveyor.http.bodies import query_uuid
from conveyor.http.instant import Instant, parse_instant
from conveyor.statemachines import STATES
from conveyor.store import Conn
from conveyor.store.selection import Selection
from conveyor.store.workflows import get_workflow

_KNOWN_STATES = ", ".join(STATES)
_MAX_STATES = len(STATES)


def _unknown_states(states: list[str]) -> list[str]:
    return [s for s in states if s not in STATES]


async def _workflow_id(conn: Conn, ref: str | None, field: str) -> uuid.UUID | None:
    if ref is None:
        return None
    try:
        return (await get_workflow(conn, ref)).id
    except NotFoundError as exc:
        raise ValidationError(f"{field!r} names no workflow", field=field, value=ref[:200]) from exc


def _query_states(request: web.Request) -> tuple[str, ...]:
    raw = request.query.get("state")
    if raw is None:
        return ()
    states = [s.strip() for s in raw.split(",") if s.strip()]
    unknown = _unknown_states(states)
    if not states or unknown:
        raise ValidationError(
            f"query parameter 'state' takes states separated by commas, of: {_KNOWN_STATES}",
            field="state",
            value=raw[:200],
        )
    return tuple(dict.fromkeys(states))


def _query_time(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        # An unencoded "+" of a UTC offset arrives as a space.
        return parse_instant(raw.strip().replace(" ", "+") if "T" in raw else raw.strip())
    except ValueError as exc:
        raise ValidationError(
            f"query parameter {name!r} must be an ISO 8601 time between years 1 and 9999 in UTC, "
            "such as 2030-01-31T12:00:00Z",
            field=name,
            value=raw[:200],
        ) from exc


async def query_selection(request: web.Request, conn: Conn) -> Selection:
    """The selection ?workflow=&state=&created_after=&created_before=&parent= names."""
    return Selection(
        workflow_id=await _workflow_id(conn, request.query.get("workflow"), "workflow"),
        states=_query_states(request),
        created_after=_query_time(request, "created_after"),
        created_before=_query_time(request, "created_before"),
        parent_id=query_uuid(request, "parent"),
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

    async def selection(self, conn: Conn) -> Selection:
        """The selection this body names; 422 when it names none (acting on everything takes a filter)."""
        chosen = Selection(
            workflow_id=await _workflow_id(conn, self.workflow, "/workflow"),
            states=tuple(dict.fromkeys(self.state or ())),
            created_after=self.created_after,
            created_before=self.created_before,
            parent_id=self.parent,
            ids=tuple(dict.fromkeys(self.ids or ())),
        )
        if chosen == Selection():
            raise ValidationError("name the executions: give 'ids' or at least one filter", field="/ids")
        return chosen
