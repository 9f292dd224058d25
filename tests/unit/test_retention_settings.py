"""CONVEYOR_RETENTION and a workflow's own `retention`: what is accepted and what each means."""

from datetime import timedelta

import pytest

from conveyor.config import Settings
from conveyor.errors import DefinitionError
from conveyor.nodes.kinds import parse_definition

_FLOW = {"name": "kept", "start": "a", "nodes": [{"id": "a", "type": "action", "action": "noop"}]}


def test_retention_defaults_to_thirty_days(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONVEYOR_RETENTION", raising=False)
    assert Settings.from_env().retention == timedelta(days=30)


@pytest.mark.parametrize(("raw", "expected"), [("7d", timedelta(days=7)), ("0", None), ("off", None), ("OFF", None)])
def test_retention_reads_a_duration_and_zero_or_off_disables_it(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: timedelta | None
) -> None:
    monkeypatch.setenv("CONVEYOR_RETENTION", raw)
    assert Settings.from_env().retention == expected


def test_a_retention_that_is_not_a_duration_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEYOR_RETENTION", "forever")
    with pytest.raises(ValueError, match="forever"):
        Settings.from_env()


def test_a_workflow_retention_is_a_positive_duration() -> None:
    assert parse_definition({**_FLOW, "retention": "12h"}).retention == timedelta(hours=12)
    assert parse_definition(_FLOW).retention is None
    for bad in ("0s", "soon", -5):
        with pytest.raises(DefinitionError):
            parse_definition({**_FLOW, "retention": bad})
