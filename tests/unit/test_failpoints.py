"""Failpoints: parsed from one variable, silent unless armed, crashing like SIGKILL or raising a dropped connection."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import asyncpg
import pytest

from conveyor import failpoints
from conveyor.failpoints import Action, Failpoint, FailpointSpecError, Point, parse


@pytest.fixture(autouse=True)
def _disarmed() -> Iterator[None]:
    yield
    failpoints.arm("")


def test_a_spec_names_points_actions_and_probabilities() -> None:
    assert parse(" after_claim:crash, in_commit:raise@0.05 ,step_write:raise@0.5*3") == {
        Point.AFTER_CLAIM: Failpoint(Point.AFTER_CLAIM, Action.CRASH, 1.0),
        Point.IN_COMMIT: Failpoint(Point.IN_COMMIT, Action.RAISE, 0.05),
        Point.STEP_WRITE: Failpoint(Point.STEP_WRITE, Action.RAISE, 0.5, 3),
    }
    assert parse("") == {}


@pytest.mark.parametrize(
    "spec",
    [
        "nowhere:crash",
        "after_claim",
        "after_claim:explode",
        "after_claim:crash@0",
        "in_commit:raise@x",
        "in_commit:raise*y",
    ],
)
def test_a_spec_that_does_not_parse_is_refused(spec: str) -> None:
    with pytest.raises(FailpointSpecError, match="CONVEYOR_FAILPOINTS"):
        parse(spec)


def test_an_unarmed_point_does_nothing() -> None:
    failpoints.arm("after_claim:raise")
    for point in Point:
        if point is not Point.AFTER_CLAIM:
            failpoints.fail(point)
    assert not failpoints.armed(Point.IN_COMMIT)


def test_an_armed_raise_is_a_dropped_connection() -> None:
    failpoints.arm("in_commit:raise")
    assert failpoints.armed(Point.IN_COMMIT)
    with pytest.raises(asyncpg.PostgresConnectionError, match="failpoint in_commit"):
        failpoints.fail(Point.IN_COMMIT)


def test_a_probability_fires_some_of_the_time() -> None:
    failpoints.arm("after_commit:raise@0.5")
    fired = 0
    for _ in range(400):
        try:
            failpoints.fail(Point.AFTER_COMMIT)
        except asyncpg.PostgresConnectionError:
            fired += 1
    assert 100 < fired < 300


def test_a_point_armed_a_number_of_times_fires_that_often() -> None:
    failpoints.arm("after_commit:raise*2")
    for _ in range(2):
        with pytest.raises(asyncpg.PostgresConnectionError):
            failpoints.fail(Point.AFTER_COMMIT)
    failpoints.fail(Point.AFTER_COMMIT)


def test_an_armed_crash_ends_the_process_at_once_with_its_own_status() -> None:
    script = "from conveyor.failpoints import Point, fail; fail(Point.AFTER_CLAIM); print('survived')"
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={"CONVEYOR_FAILPOINTS": "after_claim:crash", "PATH": ""},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == failpoints.CRASH_EXIT_STATUS
    assert b"survived" not in done.stdout
