"""The worker's feed is one declaration: every stage an engine module declares runs, once, in the listed order."""

from __future__ import annotations

import importlib
import pkgutil

import conveyor.engine
from conveyor.engine.feed import STAGES


def _declared() -> dict[str, object]:
    modules = (
        importlib.import_module(m.name) for m in pkgutil.iter_modules(conveyor.engine.__path__, "conveyor.engine.")
    )
    return {module.__name__: module.STAGE for module in modules if hasattr(module, "STAGE")}


def test_every_declared_stage_is_in_the_feed_once() -> None:
    declared = _declared()
    assert declared, "no engine module declares a STAGE"
    missing = [name for name, stage in declared.items() if stage not in STAGES]
    assert not missing, f"stages missing from conveyor.engine.feed.STAGES: {missing}"
    assert len(STAGES) == len(set(STAGES)) == len(declared)


def test_ticks_and_rows_are_taken_in_the_turn_that_makes_them() -> None:
    # A tick the clock writes is consumed in the same turn, and a row the inbox coalesces is grouped before groups
    # are started.
    position = {name: STAGES.index(stage) for name, stage in _declared().items()}
    assert position["conveyor.engine.clock_triggers"] < position["conveyor.engine.inbox"]
    assert position["conveyor.engine.inbox"] < position["conveyor.engine.coalescing"]
