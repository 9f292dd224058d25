"""Points in time a client sends (filters, cursors, bodies): one parser, refusing what cannot be stored as UTC.

`0001-01-01T00:00:00+14:00` is a valid ISO 8601 time that falls before year 1 in UTC; the database driver
converts to UTC and overflows, so each such time is refused where it is read, naming its field.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

_RANGE = "between years 1 and 9999 in UTC"


def in_utc_range(value: datetime) -> datetime:
    """The same time, if it can be written in UTC; ValueError otherwise."""
    try:
        value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(f"the time must be {_RANGE}") from exc
    return value


def parse_instant(raw: str) -> datetime:
    """An ISO 8601 time (UTC when it names no offset) that can be written in UTC; ValueError otherwise."""
    value = datetime.fromisoformat(raw)
    return in_utc_range(value if value.tzinfo is not None else value.replace(tzinfo=UTC))


_QUERY_TIME = f"must be an ISO 8601 time {_RANGE}, such as 2030-01-31T12:00:00Z"


def query_instant(value: object) -> object:
    """A query string's time as `parse_instant` reads it, for a query model's before-validator; others as they are."""
    if not isinstance(value, str):
        return value
    try:
        # An unencoded "+" of a UTC offset arrives as a space.
        return parse_instant(value.strip().replace(" ", "+") if "T" in value else value.strip())
    except ValueError as exc:
        raise ValueError(_QUERY_TIME) from exc


Instant = Annotated[AwareDatetime, AfterValidator(in_utc_range)]
"""A time with an offset in a request body, refused by pydantic (so a 422 naming it) when UTC cannot hold it."""
