"""`--compare BASELINE.json`: this run's figures beside a baseline run's, each drop past the noise marked.

A rate is compared as its ratio to the pgbench limit of its own run (`limit.tps`), so two runs on a machine
that was busier for one of them still compare; other figures are compared as they are. A figure worse than
the baseline's by more than `WORSE_BY` is marked `WORSE`; the comparison never fails a run (one run on a
shared machine is noise), it makes a drop visible.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.harness import Figure

WORSE_BY = 0.20
LIMIT = "limit.tps"
BASELINE = Path(__file__).resolve().parent / "baseline.json"
QUICK_BASELINE = Path(__file__).resolve().parent / "baseline-quick.json"
# Units of a rate: compared against the pgbench limit of the same run, and more is better.
_RATES = frozenset({"tx/s", "exec/s", "transitions/s", "steps/s", "rows/s", "events/s", "executions/s", "req/s"})
# Figures where less is better, by unit, and the few ratios where less is better too.
_LESS_IS_BETTER_UNITS = frozenset({"ms", "s", "B", "MiB", "rows", "statements", "round_trips"})
_LESS_IS_BETTER = frozenset({"scale.batch_large_vs_small"})
# What only describes the run, not the code (cores busy follow the rate): printed, never marked.
_UNJUDGED_UNITS = frozenset({"cores", "claims"})
_UNJUDGED = frozenset({LIMIT, "limit.latency_avg", "delay.wake_claims", "delay.spread.wake_claims"})


@dataclass(frozen=True, slots=True)
class Row:
    """One figure beside its baseline."""

    name: str
    unit: str
    value: float
    baseline: float | None
    # Both as compared (a rate over its run's limit), and how much worse this run is (negative: better).
    compared: float | None
    compared_baseline: float | None
    worse_by: float | None

    def line(self) -> str:
        """The printed form."""
        if self.baseline is None or self.compared is None or self.compared_baseline is None:
            return f"compare {self.name} {self.value:.4g} {self.unit} (no baseline)"
        per_limit = self.unit in _RATES and self.name != LIMIT
        shown = f"{self.compared:.4g} vs {self.compared_baseline:.4g}" + (" per limit tx/s" if per_limit else "")
        worse = self.worse_by
        verdict = ""
        if worse is not None:
            verdict = f" {'WORSE' if worse > WORSE_BY else 'ok'} {-worse:+.0%}"
        return f"compare {self.name} {self.value:.4g} {self.unit} (baseline {self.baseline:.4g}): {shown}{verdict}"


def load(path: Path) -> dict[str, Figure]:
    """A run's figures by name, from the JSON file `python -m bench` wrote."""
    document = json.loads(path.read_text())
    return {f["name"]: Figure(**f) for f in document["figures"]}


def compare(current: Mapping[str, Figure], baseline: Mapping[str, Figure]) -> list[Row]:
    """Each figure of this run beside the baseline's."""
    limit, base_limit = _value(current, LIMIT), _value(baseline, LIMIT)
    rows = []
    for name, figure in current.items():
        base = baseline.get(name)
        compared = _normalised(figure, limit)
        compared_base = _normalised(base, base_limit) if base is not None else None
        worse = None
        if (
            compared is not None
            and compared_base is not None
            and name not in _UNJUDGED
            and figure.unit not in _UNJUDGED_UNITS
        ):
            worse = _worse_by(name, figure.unit, compared, compared_base)
        rows.append(Row(name, figure.unit, figure.value, base.value if base else None, compared, compared_base, worse))
    return rows


def report(current: Mapping[str, Figure], baseline_path: Path) -> list[Row]:
    """Print the comparison with the baseline file, one line a figure and a summary; return the rows."""
    rows = compare(current, load(baseline_path))
    print(f"# compared with {baseline_path} (rates per pgbench tx/s of their own run)", flush=True)
    for row in rows:
        print(row.line(), flush=True)
    worse = [r.name for r in rows if r.worse_by is not None and r.worse_by > WORSE_BY]
    summary = ", ".join(worse) if worse else "none"
    print(f"# compare: {len(worse)} figure(s) worse than the baseline by more than {WORSE_BY:.0%}: {summary}")
    return rows


def _value(figures: Mapping[str, Figure], name: str) -> float | None:
    figure = figures.get(name)
    return figure.value if figure is not None else None


def _normalised(figure: Figure | None, limit: float | None) -> float | None:
    if figure is None:
        return None
    if figure.unit in _RATES and figure.name != LIMIT:
        return figure.value / limit if limit else None
    return figure.value


def _worse_by(name: str, unit: str, value: float, baseline: float) -> float | None:
    """How much worse `value` is than `baseline`, as a share of the baseline (negative when better)."""
    if not (math.isfinite(value) and math.isfinite(baseline)) or baseline == 0:
        return None
    less_is_better = unit in _LESS_IS_BETTER_UNITS or name in _LESS_IS_BETTER
    change = (value - baseline) / abs(baseline)
    return change if less_is_better else -change
