"""The table poll trigger: new rows of an application's table, found by a cursor column that only grows.

The cursor (the last row's cursor and key values) is stored with the inbox rows it produced, in one
transaction, so after a crash or restart no row is polled twice and none is skipped. With `start: "new"`
(the default) the cursor starts at the table's last row when the trigger is saved; with `"all"`, before its first.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from conveyor.errors import TriggerDefinitionError
from conveyor.jsonvalue import JSONValue
from conveyor.nodes.services import Services
from conveyor.store import Conn, connection
from conveyor.store.polled_tables import TableNotPollableError, last_position, resolve_table, rows_after
from conveyor.triggers.base import Interval, Polled, PollFailedError, Tick, TriggerKind, TriggerModel

# Plain identifiers only (optionally schema-qualified); the catalog is asked for them, then they are quoted.
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")]
TableName = Annotated[str, Field(pattern=r"^(?:[A-Za-z_][A-Za-z0-9_]{0,62}\.)?[A-Za-z_][A-Za-z0-9_]{0,62}$")]


class TablePollTrigger(TriggerModel):
    """Turn new rows of a table into inbox rows, the row as payload."""

    type: Literal["poll"]
    table: TableName
    cursor: Identifier
    interval: Interval
    batch: int = Field(default=1000, ge=1, le=10_000)
    start: Literal["new", "all"] = "new"

    selector: ClassVar[str | None] = "table"

    def first_run(self, now: datetime) -> datetime:
        """At once: a poll with nothing new costs one indexed read."""
        return now

    def every(self) -> timedelta:
        """The interval."""
        return self.interval

    def source(self) -> str:
        """The table and its cursor column."""
        return f"{self.table}:{self.cursor}"


async def prepare(trigger: TablePollTrigger, conn: Conn) -> JSONValue:
    """Check the table and cursor in the catalog; start after the last row, or before the first."""
    try:
        table = await resolve_table(conn, trigger.table, trigger.cursor)
    except TableNotPollableError as exc:
        value = trigger.cursor if exc.field == "/cursor" else trigger.table
        raise TriggerDefinitionError(exc.message, field=exc.field, value=value) from exc
    return await last_position(conn, table) if trigger.start == "new" else None


async def poll(trigger: TablePollTrigger, cursor: JSONValue, services: Services) -> Polled:
    """Read up to `batch` rows after the cursor; a full batch says more may wait."""
    try:
        async with connection(services.pool) as conn:
            table = await resolve_table(conn, trigger.table, trigger.cursor)
            rows = await rows_after(conn, table, cursor, trigger.batch)
    except TableNotPollableError as exc:
        raise PollFailedError(exc.message, field=exc.field) from exc
    ticks = [Tick("row:" + ":".join(r.position[1:] or r.position), r.payload) for r in rows]
    return Polled(ticks, rows[-1].position if rows else cursor, more=len(rows) == trigger.batch)


KIND = TriggerKind(TablePollTrigger, poll=poll, prepare=prepare)
