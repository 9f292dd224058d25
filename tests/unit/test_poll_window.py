"""A table poll's window: what it has taken, and when its low mark may move past rows still to commit."""

from __future__ import annotations

from datetime import UTC, datetime

from conveyor.store.polled_tables import PolledBatch, PolledRow
from conveyor.triggers.poll_window import Pending, Window

AT = datetime(2026, 12, 7, 12, tzinfo=UTC)


def row(n: int, xid: int) -> PolledRow:
    return PolledRow({"id": n}, [str(n)], "{" + str(n) + "}", xid)


def batch(
    *rows: PolledRow,
    floor: int = 100,
    open_: tuple[str, ...] = (),
    below_high: bool = False,
    below_pending: bool = False,
) -> PolledBatch:
    return PolledBatch(list(rows), floor, list(open_), AT, below_high, below_pending)


def test_a_complete_read_moves_high_and_floor_and_keeps_only_rows_the_floor_does_not_cover() -> None:
    after = Window().after([], batch(row(1, 90), row(2, 105), floor=100, open_=("3/7",)), limit=10)
    assert (after.high, after.floor, after.recent) == (["2"], 100, {"{2}": 105})
    assert after.low is None  # nothing may move low before the transactions open at this read have ended
    assert after.pending == Pending(["2"], ["3/7"], AT.isoformat())


def test_low_moves_to_the_pending_high_only_once_its_open_transactions_have_ended() -> None:
    window = Window(low=None, high=["2"], floor=100, recent={}, pending=Pending(["2"], ["3/7"], "t"))
    held = window.after(["3/7", "4/1"], batch(row(3, 120), floor=110, open_=("4/1",)), limit=10)
    assert held.low is None
    assert held.pending == window.pending  # still waiting since "t"
    moved = held.after(["4/1"], batch(floor=130, open_=("4/1",)), limit=10)
    assert moved.low == ["2"]
    assert moved.pending == Pending(["3"], ["4/1"], AT.isoformat())


def test_a_full_batch_inside_the_window_keeps_high_and_remembers_what_it_took() -> None:
    window = Window(low=["1"], high=["9"], floor=100, recent={"{8}": 150}, pending=Pending(["9"], ["3/7"], "t"))
    after = window.after(["3/7"], batch(row(2, 140), row(3, 141), below_high=True), limit=2)
    assert (after.high, after.floor) == (["9"], 100)
    assert after.recent == {"{8}": 150, "{2}": 140, "{3}": 141}


def test_a_full_batch_cleared_below_the_pending_high_moves_low_to_its_last_row() -> None:
    window = Window(low=["1"], high=["9"], floor=100, recent={}, pending=Pending(["9"], ["3/7"], "t"))
    after = window.after([], batch(row(2, 140), row(3, 141), below_high=True, below_pending=True), limit=2)
    assert after.low == ["3"]
    assert after.pending == window.pending


def test_a_position_stored_before_windows_is_both_low_and_high() -> None:
    assert Window.load(["5", "7"]) == Window(low=["5", "7"], high=["5", "7"])
    assert Window.load(Window.load(["5"]).dump()) == Window(low=["5"], high=["5"], recent={})
