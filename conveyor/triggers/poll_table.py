"""The table poll trigger: new rows of a table, found by a cursor column that only grows.

Declared and validated here; the stage that polls is not built yet, so these triggers are stored with their
state columns but never scheduled (their `next_run_at` stays empty).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from conveyor.triggers.base import Interval, TriggerKind, TriggerModel

# Plain identifiers only (optionally schema-qualified); the polling stage also checks them against the catalog.
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")]
TableName = Annotated[str, Field(pattern=r"^(?:[A-Za-z_][A-Za-z0-9_]{0,62}\.)?[A-Za-z_][A-Za-z0-9_]{0,62}$")]


class TablePollTrigger(TriggerModel):
    """Turn new rows of a table into inbox rows, the row as payload."""

    type: Literal["poll"]
    table: TableName
    cursor: Identifier
    interval: Interval
    batch: int = Field(default=1000, ge=1, le=10_000)

    selector: ClassVar[str | None] = "table"


KIND = TriggerKind(TablePollTrigger)
