"""`python -m bench --compare`: rates judged per pgbench tx/s of their own run, drops past 20 % marked."""

from __future__ import annotations

from bench.compare import compare
from bench.harness import Figure


def _run(limit: float, **figures: tuple[float, str]) -> dict[str, Figure]:
    named = {"limit.tps": (limit, "tx/s"), **{k.replace("__", "."): v for k, v in figures.items()}}
    return {name: Figure("", name, value, unit) for name, (value, unit) in named.items()}


def test_a_rate_that_kept_pace_with_a_slower_machine_is_not_worse() -> None:
    baseline = _run(4000, trigger__inbox__rows_per_s=(8000, "rows/s"))
    current = _run(2000, trigger__inbox__rows_per_s=(4000, "rows/s"))

    [_, inbox] = compare(current, baseline)

    assert inbox.compared == inbox.compared_baseline == 2.0
    assert inbox.worse_by == 0.0


def test_a_rate_that_fell_against_its_own_limit_is_marked_worse() -> None:
    baseline = _run(4000, trigger__inbox__rows_per_s=(8000, "rows/s"))
    current = _run(4000, trigger__inbox__rows_per_s=(2000, "rows/s"))

    [_, inbox] = compare(current, baseline)

    assert inbox.worse_by == 0.75
    assert "WORSE" in inbox.line()


def test_a_latency_is_worse_when_it_grows() -> None:
    baseline = _run(4000, delay__lateness_p99=(50, "ms"))
    current = _run(1000, delay__lateness_p99=(70, "ms"))

    [_, late] = compare(current, baseline)

    assert late.compared == 70  # not scaled by the limit
    assert late.worse_by is not None
    assert round(late.worse_by, 2) == 0.4


def test_a_figure_the_baseline_lacks_is_shown_without_a_verdict() -> None:
    [_, new] = compare(_run(4000, wait__resumed_vs_started=(1.1, "ratio")), _run(4000))

    assert new.worse_by is None
    assert new.line().endswith("(no baseline)")
