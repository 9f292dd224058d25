"""The issue's targets, judged against this run's figures."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass

from bench.harness import Bench

# "No slower" allows for timer noise; the batch is compared in units of a bare round trip (see scale.py).
POLLER_NOISE_ALLOWANCE = 1.10


@dataclass(frozen=True, slots=True)
class Target:
    """A figure compared with a bound."""

    description: str
    figure: str
    bound: float
    compare: Callable[[float, float], bool]
    symbol: str


TARGETS = (
    Target(
        "the team's own async action: steps/s >= 0.9x noop's in the same run (1 worker)",
        "actions.python_vs_noop",
        0.9,
        operator.ge,
        ">=",
    ),
    Target(
        "step transitions/s >= 50% of the pgbench limit (1 worker)",
        "throughput.1w.transitions_vs_limit",
        0.5,
        operator.ge,
        ">=",
    ),
    Target(
        "step transitions/s >= 50% of the pgbench limit (2 workers)",
        "throughput.2w.transitions_vs_limit",
        0.5,
        operator.ge,
        ">=",
    ),
    Target("steps/s >= the pgbench limit (1 worker)", "throughput.1w.steps_vs_limit", 1.0, operator.ge, ">="),
    Target("steps/s >= the pgbench limit (2 workers)", "throughput.2w.steps_vs_limit", 1.0, operator.ge, ">="),
    Target("delay lateness p99 <= 100 ms (the burst)", "delay.lateness_p99", 100.0, operator.le, "<="),
    Target(
        "delay lateness p99 <= 100 ms (1,000 due within 1 s)", "delay.spread.lateness_p99", 100.0, operator.le, "<="
    ),
    Target(
        "waits resume >= 0.9x as fast as the same worker starts executions",
        "wait.resumed_vs_started",
        0.9,
        operator.ge,
        ">=",
    ),
    Target("inbox rows/s >= 5,000", "trigger.inbox.rows_per_s", 5000.0, operator.ge, ">="),
    Target("polled table rows/s >= 5,000", "trigger.poll.rows_per_s", 5000.0, operator.ge, ">="),
    Target("inbox >= 5x the executions API", "trigger.inbox_vs_api", 5.0, operator.ge, ">="),
    Target("an idle inbox row's lateness p99 <= 100 ms", "trigger.idle_lateness_p99", 100.0, operator.le, "<="),
    Target("worker RSS <= 150 MB with the large delayed backlog", "scale.large.worker_rss", 150.0, operator.le, "<="),
    Target(
        f"poller batch no slower with the large backlog (x{POLLER_NOISE_ALLOWANCE} allowance)",
        "scale.batch_large_vs_small",
        POLLER_NOISE_ALLOWANCE,
        operator.le,
        "<=",
    ),
)


def evaluate(bench: Bench) -> list[dict[str, object]]:
    """Judge each target whose figure this run produced; print one `# target` line each."""
    verdicts: list[dict[str, object]] = []
    for target in TARGETS:
        value = bench.value(target.figure)
        if value is None:
            continue
        passed = target.compare(value, target.bound)
        verdicts.append(
            {
                "target": target.description,
                "figure": target.figure,
                "value": value,
                "bound": f"{target.symbol} {target.bound:g}",
                "pass": passed,
            }
        )
        print(
            f"# target {'PASS' if passed else 'FAIL'}: {target.description}: "
            f"{target.figure} = {value:.4g} (want {target.symbol} {target.bound:g})",
            flush=True,
        )
    return verdicts
