"""Opaque keyset cursors: the sort key of a page's last item, as base64url JSON; 422 when tampered with."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

from aiohttp import web
from pydantic import Field

from conveyor.errors import ValidationError
from conveyor.http.bodies import decimal, storable_text
from conveyor.http.instant import parse_instant
from conveyor.http.operation import Count, QueryModel
from conveyor.http.resources import Page, T

R = TypeVar("R")

# A cursor longer than this was not made by us.
_MAX_CURSOR_LENGTH = 512
# PostgreSQL's bigint, the widest id a list is ordered by.
_MAX_ROW_ID = 2**63 - 1


def encode_cursor(*key: str) -> str:
    """The cursor that continues after an item with this sort key."""
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def _key(request: web.Request, size: int) -> list[str] | None:
    raw = request.query.get("cursor")
    if raw is None:
        return None
    try:
        if len(raw) > _MAX_CURSOR_LENGTH:
            raise ValueError("too long")
        key = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise _malformed(raw) from exc
    # A cursor is decoded from what the client sent: its text must be storable before it reaches a query.
    if not isinstance(key, list) or len(key) != size or not all(isinstance(k, str) and storable_text(k) for k in key):
        raise _malformed(raw)
    return key


def _malformed(raw: str) -> ValidationError:
    return ValidationError(
        "query parameter 'cursor' is not a cursor this list gave out", field="cursor", value=raw[:_MAX_CURSOR_LENGTH]
    )


def name_cursor(request: web.Request) -> str | None:
    """The name to continue after, from ?cursor= of a list ordered by name."""
    key = _key(request, 1)
    return key[0] if key else None


def id_cursor(request: web.Request) -> int:
    """The row id to continue after, from ?cursor= of a list ordered by id (0 without one)."""
    key = _key(request, 1)
    if key is None:
        return 0
    row_id = decimal(key[0], _MAX_ROW_ID)
    if row_id is None:
        raise _malformed(request.query["cursor"])
    return row_id


def created_cursor(request: web.Request) -> tuple[datetime, uuid.UUID] | None:
    """The (created_at, id) to continue after, from ?cursor= of a list ordered by creation."""
    key = _key(request, 2)
    if key is None:
        return None
    try:
        if datetime.fromisoformat(key[0]).tzinfo is None:
            raise ValueError("a cursor this API gave out carries its offset")
        return parse_instant(key[0]), uuid.UUID(key[1])
    except ValueError as exc:
        raise _malformed(request.query["cursor"]) from exc


class PageQuery(QueryModel):
    """A page of a list: how many items, and the cursor to continue after; the one declaration of page bounds."""

    limit: Count = Field(default=100, ge=1, le=1000)
    cursor: str | None = Field(default=None, description="next_cursor of the page before")


def page(items: list[T], next_key: tuple[str, ...] | None) -> Page[T]:
    """A list answer: the items, and a cursor after `next_key` (the last item's key) when more follow."""
    return Page(items=items, next_cursor=encode_cursor(*next_key) if next_key else None)


def page_of(found: Sequence[R], limit: int, shape: Callable[[R], T], key: Callable[[R], tuple[str, ...]]) -> Page[T]:
    """A list answer from `limit + 1` records read: the first `limit` shaped, a cursor after the last when more."""
    shown = found[:limit]
    return page([shape(r) for r in shown], key(shown[-1]) if len(found) > limit else None)
