"""The cap on requests waiting for an execution: a place is held while waiting and given back after."""

from __future__ import annotations

import pytest

from conveyor.http.waits import Waits


def test_a_wait_past_the_cap_gets_no_place_and_a_place_comes_back_after_a_wait() -> None:
    waits = Waits(1)
    with waits.slot() as first:
        with waits.slot() as second:
            assert (first, second) == (True, False)
        assert waits.waiting == 1
    assert waits.waiting == 0


def test_a_wait_that_fails_gives_its_place_back() -> None:
    waits = Waits(1)
    with pytest.raises(RuntimeError), waits.slot():
        raise RuntimeError("the database went away")
    assert waits.waiting == 0
