"""Time arithmetic for schedule triggers: a 5-field cron line read on the wall clock of an IANA time zone.

Cron fields are matched against naive local wall time, and each match is mapped to UTC here rather than by
croniter, so that daylight-saving transitions follow one stated policy:

- A wall time that does not exist (the spring-forward gap) fires once, at the first instant after the gap:
  "30 2 * * *" in Europe/Berlin on 2026-03-29 fires at 03:00 CEST (01:00 UTC). Every wall time a gap swallows
  maps to that same instant, so a gap yields at most one fire, merged with any fire due at the gap's end:
  "*/15 * * * *" goes 01:45 CET, 03:00 CEST, 03:15 CEST; "30 * * * *" goes 01:30 CET, 03:00 CEST, 03:30 CEST.
- A wall time that happens twice (fall back) fires once, at its first occurrence (fold=0): "30 * * * *" fires
  at 02:30 CEST on 2026-10-25 and not again at 02:30 CET, so the repeated hour is silent its second time round.

Fire instants are aware UTC datetimes, strictly increasing and unique.

Catch-up (`missed_fires`) considers the ticks in (last_tick, now]. "latest" fires the most recent one, "all" the
most recent `max_catch_up` of them, oldest first, "none" fires nothing; every other missed tick is skipped. The
work is bounded however long the outage: ticks to fire are found walking back from `now`, and skipped ticks are
counted walking forward from `last_tick` only up to SKIP_COUNT_LIMIT, so that count means "at least that many".
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice, takewhile
from typing import Literal
from zoneinfo import ZoneInfo, available_timezones

from croniter import CroniterBadDateError, CroniterError, croniter

CatchUp = Literal["latest", "all", "none"]

MAX_TICKS = 500
"""The most ticks one call lists or catches up."""

SKIP_COUNT_LIMIT = 1000
"""Skipped ticks are counted exactly up to this many; a count this high means at least this many."""

_FORMS = "5 fields 'minute hour day-of-month month day-of-week' (e.g. '30 2 * * *') or @hourly, @daily, @weekly, …"
_ALIASES = frozenset({"@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually"})
# croniter's H needs a per-job hash id and its R draws at random: neither gives one reproducible schedule
_UNREPEATABLE = re.compile(r"(?<![a-z])[hr](?![a-z])", re.IGNORECASE)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def parse_cron(expr: str) -> str:
    """Return the cron line with its spacing normalised, or raise ValueError saying what is wrong."""
    fields = expr.split()
    line = " ".join(fields)
    if len(fields) != 5 and line.lower() not in _ALIASES:
        raise ValueError(f"invalid cron {expr!r}: it has {len(fields)} field(s); use {_FORMS}")
    if _UNREPEATABLE.search(line):
        raise ValueError(f"invalid cron {expr!r}: hashed (H) and random (R) values are not supported; use {_FORMS}")
    try:
        croniter(line, _EPOCH).get_next(datetime)
    except CroniterBadDateError as exc:
        raise ValueError(f"invalid cron {expr!r}: it matches no date, so it would never fire") from exc
    except CroniterError as exc:
        raise ValueError(f"invalid cron {expr!r}: a field is malformed or out of range ({exc}); use {_FORMS}") from exc
    return line


@functools.cache
def _zone_names() -> frozenset[str]:
    # "localtime" names whatever zone the host runs in, not an IANA zone
    return frozenset(available_timezones() - {"localtime"})


def zone(name: str) -> ZoneInfo:
    """Return the IANA time zone of this name, or raise ValueError."""
    message = f"unknown time zone {name[:64]!r}: use an IANA name such as 'Europe/Berlin' or 'UTC'"
    if name not in _zone_names():
        raise ValueError(message)
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError) as exc:  # ZoneInfo's own errors differ by how the name is odd
        raise ValueError(message) from exc


def next_fires(cron: str, tz: str, after: datetime, count: int) -> list[datetime]:
    """List the next `count` (at most MAX_TICKS) fire instants strictly after `after`, in UTC."""
    return list(islice(_forward(parse_cron(cron), zone(tz), _utc(after)), _ticks(count)))


def preview(cron: str, tz: str, after: datetime, count: int) -> list[tuple[datetime, datetime]]:
    """List the next `count` (at most MAX_TICKS) fires as (UTC instant, local time carrying its offset)."""
    local = zone(tz)
    return [(instant, instant.astimezone(local)) for instant in next_fires(cron, tz, after, count)]


def missed_fires(
    cron: str, tz: str, last_tick: datetime, now: datetime, policy: CatchUp, max_catch_up: int
) -> tuple[list[datetime], int]:
    """Pick which ticks in (last_tick, now] to fire now, oldest first, and count the skipped ones."""
    line, local, since, until = parse_cron(cron), zone(tz), _utc(last_tick), _utc(now)
    keep = {"latest": 1, "all": _ticks(max_catch_up, "max_catch_up"), "none": 0}[policy]
    fire = list(islice(takewhile(lambda instant: instant > since, _backward(line, local, until)), keep))[::-1]
    in_window = takewhile(lambda instant: instant <= until, _forward(line, local, since))
    missed = sum(1 for _ in islice(in_window, SKIP_COUNT_LIMIT + len(fire)))
    return fire, missed - len(fire)


def tick_key(instant: datetime) -> str:
    """Name a tick for a dedupe key: ISO 8601 in UTC to the second, e.g. '2026-03-29T01:00:00Z'."""
    return _utc(instant).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utc(moment: datetime) -> datetime:
    if moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone: pass an aware datetime")
    return moment.astimezone(UTC)


def _ticks(count: int, name: str = "count") -> int:
    if not 0 <= count <= MAX_TICKS:
        raise ValueError(f"{name} must be between 0 and {MAX_TICKS}, got {count}")
    return count


def _forward(line: str, local: ZoneInfo, after: datetime) -> Iterator[datetime]:
    """Yield fire instants strictly after `after`, increasing."""
    last = after
    # during the second pass of a repeated hour, the next wall times map to their first pass, before `after`
    for wall in _walls(line, after.astimezone(local).replace(tzinfo=None), backwards=False):
        instant = _instant(wall, local)
        if instant > last:
            last = instant
            yield instant


def _backward(line: str, local: ZoneInfo, until: datetime) -> Iterator[datetime]:
    """Yield fire instants at or before `until`, decreasing."""
    reading = until.astimezone(local)
    # in the second pass of a repeated hour, wall times up to an offset change later already fired in the first
    ahead = until - reading.replace(fold=0).astimezone(UTC)
    last: datetime | None = None
    for wall in _walls(line, reading.replace(tzinfo=None) + ahead + timedelta(seconds=1), backwards=True):
        instant = _instant(wall, local)
        if instant <= until and (last is None or instant < last):
            last = instant
            yield instant


def _walls(line: str, start: datetime, *, backwards: bool) -> Iterator[datetime]:
    """Yield naive wall times matching the cron line, strictly after (or before) a naive start."""
    # croniter is handed UTC so that neither its DST handling nor the host's zone can shift a wall time;
    # fold is cleared because a local reading of the repeated hour carries fold=1 through every replace()
    times = croniter(line, start.replace(tzinfo=UTC, fold=0))
    step = times.get_prev if backwards else times.get_next
    while True:
        yield step(datetime).replace(tzinfo=None, fold=0)


def _instant(wall: datetime, local: ZoneInfo) -> datetime:
    """Map a wall time to UTC: its first occurrence if repeated, the end of the gap if skipped."""
    first = wall.replace(tzinfo=local, fold=0).astimezone(UTC)  # fold=0 is the earlier of two occurrences
    if first.astimezone(local).replace(tzinfo=None) == wall:
        return first
    return _gap_end(wall, local)


def _gap_end(wall: datetime, local: ZoneInfo) -> datetime:
    """Find, to the second, the transition whose gap swallowed this wall time."""
    # in a gap, fold=1 reads the wall time with the later offset and lands before the transition, fold=0 after it
    before = int(wall.replace(tzinfo=local, fold=1).timestamp())
    after = int(wall.replace(tzinfo=local, fold=0).timestamp())
    offset_after = datetime.fromtimestamp(after, local).utcoffset()
    while after - before > 1:
        middle = (before + after) // 2
        if datetime.fromtimestamp(middle, local).utcoffset() == offset_after:
            after = middle
        else:
            before = middle
    return datetime.fromtimestamp(after, UTC)
