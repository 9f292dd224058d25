"""Parse durations written as "200ms", "2s", "5m", "2d" or ISO 8601 ("PT1H30M")."""

from __future__ import annotations

import re
from datetime import timedelta

_SHORT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_ISO = re.compile(
    r"^P(?!$)(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
_UNITS = {"ms": "milliseconds", "s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """Turn a duration string into a timedelta, or raise ValueError saying what is accepted."""
    short = _SHORT.match(text)
    if short:
        return timedelta(**{_UNITS[short.group(2)]: float(short.group(1))})
    iso = _ISO.match(text.strip().upper())
    if iso:
        return timedelta(**{unit: float(v) for unit, v in iso.groupdict().items() if v is not None})
    raise ValueError(f"invalid duration {text!r}: use e.g. '200ms', '2s', '5m', '1h', '2d' or ISO 8601 'PT5M'")
