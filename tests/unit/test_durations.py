from datetime import timedelta

import pytest

from conveyor.durations import parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("200ms", timedelta(milliseconds=200)),
        ("2s", timedelta(seconds=2)),
        ("5m", timedelta(minutes=5)),
        ("2d", timedelta(days=2)),
        ("1.5h", timedelta(hours=1, minutes=30)),
        ("PT1H30M", timedelta(hours=1, minutes=30)),
        ("P1DT2S", timedelta(days=1, seconds=2)),
    ],
)
def test_durations_parse_short_and_iso_forms(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "2", "2 parsecs", "P", "PT", "-5s"])
def test_malformed_duration_is_rejected_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError, match=r"use e\.g\."):
        parse_duration(text)
