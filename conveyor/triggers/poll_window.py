"""What a table poll has taken, so that rows committed out of cursor order are taken too, each exactly once.

A sequence value or a `now()` timestamp is taken when a row is written, not when it commits: a transaction that
took id 1 may commit after another's id 2 was polled. So the cursor is not one position but a window, stored as
the trigger's cursor with the inbox rows of each poll (one statement), and read back at the next:

- `low`: every row at or below it is taken, and no transaction still open can commit another there. The read
  scans only above it.
- `high` and `floor`: every row at or below `high` written by a transaction older than `floor` (the oldest one
  running when the snapshot of the last complete read was taken) is taken. Rows between `low` and `high` from
  younger transactions are read again at each poll, and taken if not yet taken:
- `recent`: the identities of rows taken that the two rules above do not cover (written by a transaction not
  older than `floor`): usually a handful, those that committed while an older transaction was running.
- `pending`: a candidate `low` (the `high` of some read) with the transactions that were open in the database
  just after that read's snapshot (`pg_locks`), and since when. Once none of them is open any more (checked
  before the next read's snapshot), nothing can commit a row at or below it: `low` moves up to it. A
  transaction open for minutes holds `low`, never the rows after it: they are taken as they commit, and
  `held_since` in the cursor (and `held_seconds` in the trigger's health) shows how long `low` has waited.

The window rules are checked against the row's inserting transaction id (`xmin`), the table's own; nothing is
added to the table. A row updated after it was taken gets a new `xmin` and may be read again while it is in the
window; its dedupe key (`row:<key>`) is already in the inbox, so it starts nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.store.polled_tables import PolledBatch, Taken


@dataclass(frozen=True, slots=True)
class Pending:
    """A candidate low, and the transactions that must end before it is one."""

    high: list[str] | None
    open: list[str]
    since: str


@dataclass(frozen=True, slots=True)
class Window:
    """The trigger's cursor: what has been taken (see the module docstring)."""

    low: list[str] | None = None
    high: list[str] | None = None
    floor: int | None = None
    recent: dict[str, int] | None = None
    pending: Pending | None = None

    @classmethod
    def load(cls, cursor: JSONValue) -> Window:
        """Read a stored cursor; a plain position (before windows) is both low and high."""
        if isinstance(cursor, list):
            position = [str(v) for v in cursor]
            return cls(low=position, high=position)
        if not isinstance(cursor, dict):
            return cls()
        pending = cursor.get("pending")
        return cls(
            low=cursor.get("low"),
            high=cursor.get("high"),
            floor=cursor.get("floor"),
            recent=dict(cursor.get("recent") or {}),
            pending=Pending(pending["high"], list(pending["open"]), pending["since"])
            if isinstance(pending, dict)
            else None,
        )

    @classmethod
    def starting_after(cls, position: list[str] | None) -> Window:
        """A window that starts after this position (the table's last row when the trigger is saved)."""
        return cls(low=position, high=position)

    def dump(self) -> JSONObject:
        """The cursor to store."""
        pending: JSONValue = (
            None
            if self.pending is None
            else {"high": self.pending.high, "open": self.pending.open, "since": self.pending.since}
        )
        return {
            "low": self.low,
            "high": self.high,
            "floor": self.floor,
            "recent": dict(self.recent or {}),
            "pending": pending,
            "held_since": self.pending.since if self.pending else None,
        }

    def taken(self) -> Taken:
        """What the read must skip."""
        pending = self.pending.high if self.pending else None
        return Taken(self.low, self.high, self.floor, list(self.recent or {}), pending)

    def after(self, open_before: list[str], batch: PolledBatch, limit: int) -> Window:
        """The window once the batch is taken; `open_before` was read before the batch's snapshot."""
        rows, last = batch.rows, batch.rows[-1] if batch.rows else None
        complete = len(rows) < limit
        recent = {**(self.recent or {}), **{r.ident: r.xid for r in rows}}
        window = replace(self, recent=recent)
        if complete or (last is not None and not batch.last_below_high):
            high = last.position if last is not None and not batch.last_below_high else self.high
            kept = {ident: xid for ident, xid in recent.items() if xid >= batch.floor}
            window = replace(window, high=high, floor=batch.floor, recent=kept)
        at = batch.at.isoformat()
        if self.pending is None:
            return replace(window, pending=Pending(window.high, batch.open, at))
        if set(self.pending.open) & set(open_before):
            return window
        if complete or (last is not None and not batch.last_below_pending):
            low = self.pending.high if self.pending.high is not None else self.low
            return replace(window, low=low, pending=Pending(window.high, batch.open, at))
        assert last is not None
        return replace(window, low=last.position)
