"""Named failpoints: crash or raise at chosen places in the engine, off unless CONVEYOR_FAILPOINTS names them.

`CONVEYOR_FAILPOINTS=after_claim:crash,in_commit:raise@0.05` arms two points: the process dies at the first
(like SIGKILL: no cleanup, no lease released) and, one time in twenty, the second raises a dropped
connection. `step_write:raise*2` fires the first two times only. With the variable unset `fail` tests one
empty frozenset and returns.
"""

from __future__ import annotations

import enum
import os
import random
import sys
from dataclasses import dataclass

import asyncpg
import structlog

log = structlog.get_logger(__name__)

ENV_VAR = "CONVEYOR_FAILPOINTS"
# A failpoint crash exits with this status, so a supervisor can tell it from a bug's exit or a signal.
CRASH_EXIT_STATUS = 86


class Point(enum.StrEnum):
    """Where the engine can be made to fail."""

    AFTER_CLAIM = "after_claim"  # the claim committed; the worker has not started the executions
    STEP_WRITE = "step_write"  # a step's own record of its side effect (email or webhook log), after the effect
    AFTER_SIDE_EFFECT = "after_side_effect"  # the node ran (an email sent, a webhook called); nothing committed
    IN_COMMIT = "in_commit"  # the step's statement ran inside its transaction; COMMIT not yet sent
    AFTER_COMMIT = "after_commit"  # committed; the worker has not learned it
    IN_COALESCE = "in_coalesce"  # ripe groups' executions inserted and rows folded; COMMIT not yet sent
    IN_POLL = "in_poll"  # a poll's inbox rows and cursor written inside its transaction; COMMIT not yet sent


class Action(enum.StrEnum):
    """What an armed failpoint does."""

    CRASH = "crash"  # os._exit: the process vanishes as under SIGKILL
    RAISE = "raise"  # a dropped connection, as asyncpg reports one


class FailpointSpecError(ValueError):
    """CONVEYOR_FAILPOINTS does not parse."""


@dataclass(frozen=True, slots=True)
class Failpoint:
    """One armed point: what it does, how often it fires when reached (1.0: every time), and at most how often."""

    point: Point
    action: Action
    probability: float = 1.0
    times: int | None = None


def parse(spec: str) -> dict[Point, Failpoint]:
    """Read `name:action[@probability][*times],…`; raise FailpointSpecError on anything else."""
    armed: dict[Point, Failpoint] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, rest = item.partition(":")
        rest, _, times = rest.partition("*")
        action, _, probability = rest.partition("@")
        try:
            failpoint = Failpoint(
                Point(name), Action(action), float(probability) if probability else 1.0, int(times) if times else None
            )
        except ValueError as exc:
            raise FailpointSpecError(f"{ENV_VAR}: cannot read {item!r}: {exc}") from None
        if not 0.0 < failpoint.probability <= 1.0:
            raise FailpointSpecError(f"{ENV_VAR}: probability of {name} must be in (0, 1]")
        armed[failpoint.point] = failpoint
    return armed


_ARMED: dict[Point, Failpoint] = {}
_NAMES: frozenset[Point] = frozenset()
_FIRED: dict[Point, int] = {}


def arm(spec: str) -> None:
    """Arm the failpoints `spec` names, disarming all others (tests arm in-process workers with this)."""
    global _ARMED, _NAMES  # process-wide on purpose: the engine reads them on its hot path
    _ARMED = parse(spec)
    _NAMES = frozenset(_ARMED)
    _FIRED.clear()


def armed(point: Point) -> bool:
    """Whether `point` is armed (the engine opens a transaction just to fail inside it only then)."""
    return point in _NAMES


def fail(point: Point) -> None:
    """Crash or raise here if `point` is armed and its dice say so; return at once otherwise."""
    if not _NAMES or point not in _NAMES:
        return
    failpoint = _ARMED[point]
    if failpoint.probability < 1.0 and random.random() >= failpoint.probability:  # noqa: S311 - not security
        return
    if failpoint.times is not None and _FIRED.get(point, 0) >= failpoint.times:
        return
    _FIRED[point] = _FIRED.get(point, 0) + 1
    log.warning("failpoint_fired", point=str(point), action=str(failpoint.action))
    if failpoint.action is Action.CRASH:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(CRASH_EXIT_STATUS)
    raise asyncpg.ConnectionDoesNotExistError(f"failpoint {point}: connection dropped")


arm(os.environ.get(ENV_VAR, ""))
