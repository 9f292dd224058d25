"""The table poll trigger: new rows of an application's table, found by a cursor column, each taken exactly once.

Rows are taken even when they commit out of cursor order (conveyor.triggers.poll_window): what was taken is
stored as the trigger's cursor with the inbox rows it produced, in one statement, so after a crash or restart no
row is polled twice and none is skipped. The table is read as the `conveyor_poll` role, so only tables an
operator granted to it can be polled (conveyor.store.polled_tables). With `start: "new"` (the default) the
cursor starts at the table's last row when the trigger is saved; with `"all"`, before its first.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from conveyor.errors import TriggerDefinitionError
from conveyor.jsonvalue import JSONValue
from conveyor.services import Services
from conveyor.store import Conn, connection
from conveyor.store.polled_tables import (
    TableNotPollableError,
    last_position,
    open_transactions,
    read_batch,
    resolve_table,
)
from conveyor.triggers.base import Interval, Polled, PollFailedError, Tick, TriggerKind, TriggerModel
from conveyor.triggers.poll_window import Window

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


async def prepare(trigger: TablePollTrigger, conn: Conn, allow_hosts: frozenset[str]) -> JSONValue:
    """Check the table, the grant and the cursor in the catalog; start after the last row, or before the first."""
    try:
        table = await resolve_table(conn, trigger.table, trigger.cursor)
    except TableNotPollableError as exc:
        raise TriggerDefinitionError(exc.message, field=exc.field, value=exc.value) from exc
    if trigger.start == "all":
        return None
    return Window.starting_after(await last_position(conn, table)).dump()


async def poll(trigger: TablePollTrigger, cursor: JSONValue, services: Services) -> Polled:
    """Read up to `batch` rows not yet taken; a full batch says more may wait."""
    window = Window.load(cursor)
    try:
        async with connection(services.pool) as conn:
            table = await resolve_table(conn, trigger.table, trigger.cursor)
            open_before = await open_transactions(conn)
            batch = await read_batch(conn, table, window.taken(), trigger.batch)
    except TableNotPollableError as exc:
        raise PollFailedError(exc.message, field=exc.field) from exc
    ticks = [Tick("row:" + ":".join(r.position[1:] or r.position), r.payload) for r in batch.rows]
    return Polled(ticks, window.after(open_before, batch, trigger.batch).dump(), more=len(ticks) == trigger.batch)


KIND = TriggerKind(TablePollTrigger, poll=poll, prepare=prepare)
