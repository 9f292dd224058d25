import time
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from conveyor.schedule import (
    MAX_TICKS,
    SKIP_COUNT_LIMIT,
    CatchUp,
    missed_fires,
    next_fires,
    parse_cron,
    preview,
    tick_key,
    zone,
)

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
# 2026 transitions: EU on the last Sundays of March and October at 01:00 UTC; US on March 8 and November 1
TRANSITIONS = [
    pytest.param(BERLIN, datetime(2026, 3, 29, 1, tzinfo=UTC), id="berlin-spring"),
    pytest.param(BERLIN, datetime(2026, 10, 25, 1, tzinfo=UTC), id="berlin-fall"),
    pytest.param(NEW_YORK, datetime(2026, 3, 8, 7, tzinfo=UTC), id="new-york-spring"),
    pytest.param(NEW_YORK, datetime(2026, 11, 1, 6, tzinfo=UTC), id="new-york-fall"),
]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def local_walls(instants: list[datetime], tz: str) -> list[str]:
    return [instant.astimezone(ZoneInfo(tz)).strftime("%m-%d %H:%M%z") for instant in instants]


def expected_fires(cron: str, tz: str, start: datetime, end: datetime) -> list[datetime]:
    """Apply the DST policy minute by minute in UTC, independently of the module's wall-clock walk."""
    fires, local = [], ZoneInfo(tz)
    previous = (start - timedelta(minutes=1)).astimezone(local).replace(tzinfo=None)
    instant = start
    while instant <= end:
        reading = instant.astimezone(local)
        wall = reading.replace(tzinfo=None, fold=0)
        swallowed = [previous + timedelta(minutes=m) for m in range(1, int((wall - previous) / timedelta(minutes=1)))]
        if any(croniter.match(cron, w) for w in swallowed) or (reading.fold == 0 and croniter.match(cron, wall)):
            fires.append(instant)
        previous, instant = max(previous, wall), instant + timedelta(minutes=1)
    return fires


def test_spring_forward_gap_fires_once_after_gap_in_berlin() -> None:
    fires = next_fires("30 2 * * *", BERLIN, utc(2026, 3, 28), 3)
    assert fires == [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1), utc(2026, 3, 30, 0, 30)]
    assert local_walls(fires, BERLIN) == ["03-28 02:30+0100", "03-29 03:00+0200", "03-30 02:30+0200"]


def test_spring_forward_gap_fires_once_after_gap_in_new_york() -> None:
    fires = next_fires("30 2 * * *", NEW_YORK, utc(2026, 3, 7), 3)
    assert local_walls(fires, NEW_YORK) == ["03-07 02:30-0500", "03-08 03:00-0400", "03-09 02:30-0400"]
    assert fires[1] == utc(2026, 3, 8, 7)


def test_fall_back_repeated_time_fires_once_at_first_occurrence_in_berlin() -> None:
    fires = next_fires("30 2 * * *", BERLIN, utc(2026, 10, 24), 3)
    assert local_walls(fires, BERLIN) == ["10-24 02:30+0200", "10-25 02:30+0200", "10-26 02:30+0100"]
    assert fires[1] == utc(2026, 10, 25, 0, 30)


def test_fall_back_repeated_time_fires_once_at_first_occurrence_in_new_york() -> None:
    fires = next_fires("30 1 * * *", NEW_YORK, utc(2026, 10, 31), 3)
    assert local_walls(fires, NEW_YORK) == ["10-31 01:30-0400", "11-01 01:30-0400", "11-02 01:30-0500"]
    assert fires[1] == utc(2026, 11, 1, 5, 30)


def test_daily_0230_is_untouched_by_the_new_york_fall_back_at_0200() -> None:
    fires = next_fires("30 2 * * *", NEW_YORK, utc(2026, 10, 31), 3)
    assert local_walls(fires, NEW_YORK) == ["10-31 02:30-0400", "11-01 02:30-0500", "11-02 02:30-0500"]


def test_hourly_cron_fires_at_gap_end_for_the_skipped_half_hour_in_berlin() -> None:
    fires = next_fires("30 * * * *", BERLIN, utc(2026, 3, 28, 23), 4)
    assert local_walls(fires, BERLIN) == [
        "03-29 00:30+0100",
        "03-29 01:30+0100",
        "03-29 03:00+0200",
        "03-29 03:30+0200",
    ]


def test_quarter_hour_cron_has_no_fire_inside_the_gap_and_one_at_its_end_in_new_york() -> None:
    fires = next_fires("*/15 * * * *", NEW_YORK, utc(2026, 3, 8, 6, 30), 4)
    assert local_walls(fires, NEW_YORK) == [
        "03-08 01:45-0500",
        "03-08 03:00-0400",
        "03-08 03:15-0400",
        "03-08 03:30-0400",
    ]


def test_hourly_cron_does_not_fire_again_in_the_repeated_hour_in_berlin() -> None:
    fires = next_fires("30 * * * *", BERLIN, utc(2026, 10, 24, 23), 3)
    assert local_walls(fires, BERLIN) == ["10-25 01:30+0200", "10-25 02:30+0200", "10-25 03:30+0100"]


def test_quarter_hour_cron_is_silent_through_the_repeated_hour_in_new_york() -> None:
    fires = next_fires("*/15 * * * *", NEW_YORK, utc(2026, 11, 1, 5, 30), 4)
    assert local_walls(fires, NEW_YORK) == [
        "11-01 01:45-0400",
        "11-01 02:00-0500",
        "11-01 02:15-0500",
        "11-01 02:30-0500",
    ]


def test_next_fire_from_inside_the_repeated_hour_skips_wall_times_that_already_fired() -> None:
    after = utc(2026, 10, 25, 1, 10)  # 02:10 CET, the second pass
    assert local_walls(next_fires("30 * * * *", BERLIN, after, 1), BERLIN) == ["10-25 03:30+0100"]


@pytest.mark.parametrize("cron", ["30 2 * * *", "30 1 * * *", "30 * * * *", "*/15 * * * *", "*/7 1-3 * * *"])
@pytest.mark.parametrize(("tz", "transition"), TRANSITIONS)
def test_fires_across_each_transition_match_a_minute_by_minute_reading_of_the_policy(
    cron: str, tz: str, transition: datetime
) -> None:
    start, end = transition - timedelta(hours=4), transition + timedelta(hours=4)
    fires = [instant for instant in next_fires(cron, tz, start - timedelta(minutes=1), MAX_TICKS) if instant <= end]
    assert fires == expected_fires(cron, tz, start, end)
    assert all(a < b for a, b in pairwise(fires))
    assert len({instant.astimezone(ZoneInfo(tz)).replace(tzinfo=None) for instant in fires}) == len(fires)


def test_fires_are_strictly_after_the_given_instant() -> None:
    assert next_fires("0 * * * *", "UTC", utc(2026, 1, 1, 10), 2) == [utc(2026, 1, 1, 11), utc(2026, 1, 1, 12)]


def test_catch_up_latest_fires_the_most_recent_tick_and_skips_the_rest() -> None:
    assert missed_fires("0 * * * *", "UTC", utc(2026, 1, 1, 10), utc(2026, 1, 1, 13, 30), "latest", 5) == (
        [utc(2026, 1, 1, 13)],
        2,
    )


def test_catch_up_all_fires_the_most_recent_ticks_up_to_the_cap_oldest_first() -> None:
    fire, skipped = missed_fires("0 * * * *", "UTC", utc(2026, 1, 1, 10), utc(2026, 1, 1, 13, 30), "all", 2)
    assert (fire, skipped) == ([utc(2026, 1, 1, 12), utc(2026, 1, 1, 13)], 1)


def test_catch_up_all_below_the_cap_fires_every_missed_tick() -> None:
    fire, skipped = missed_fires("0 * * * *", "UTC", utc(2026, 1, 1, 10), utc(2026, 1, 1, 13), "all", 10)
    assert (fire, skipped) == ([utc(2026, 1, 1, 11), utc(2026, 1, 1, 12), utc(2026, 1, 1, 13)], 0)


def test_catch_up_none_fires_nothing_and_counts_every_missed_tick() -> None:
    assert missed_fires("0 * * * *", "UTC", utc(2026, 1, 1, 10), utc(2026, 1, 1, 13, 30), "none", 5) == ([], 3)


def test_catch_up_with_nothing_missed_fires_nothing() -> None:
    assert missed_fires("0 * * * *", "UTC", utc(2026, 1, 1, 10), utc(2026, 1, 1, 10, 59), "all", 5) == ([], 0)


def test_catch_up_from_inside_the_repeated_hour_finds_the_first_pass_tick() -> None:
    now = utc(2026, 10, 25, 1, 45)  # 02:45 CET: 02:30 already happened, in CEST
    assert missed_fires("30 * * * *", BERLIN, utc(2026, 10, 24, 23), now, "all", 10) == (
        [utc(2026, 10, 24, 23, 30), utc(2026, 10, 25, 0, 30)],
        0,
    )


def test_catch_up_across_the_gap_fires_the_gap_end_once() -> None:
    fire, skipped = missed_fires("*/15 * * * *", NEW_YORK, utc(2026, 3, 8, 6, 30), utc(2026, 3, 8, 7, 5), "all", 10)
    assert (local_walls(fire, NEW_YORK), skipped) == (["03-08 01:45-0500", "03-08 03:00-0400"], 0)


@pytest.mark.parametrize(("policy", "fired"), [("latest", 1), ("all", MAX_TICKS), ("none", 0)])
def test_catch_up_after_five_years_of_per_minute_ticks_is_bounded(policy: CatchUp, fired: int) -> None:
    began = time.perf_counter()
    fire, skipped = missed_fires("* * * * *", BERLIN, utc(2021, 1, 1), utc(2026, 1, 1, 0, 0, 30), policy, MAX_TICKS)
    assert time.perf_counter() - began < 0.5
    assert len(fire) == fired
    assert fire[-1:] == ([utc(2026, 1, 1)] if fired else [])
    assert skipped == SKIP_COUNT_LIMIT


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        ("61 * * * *", "out of range"),
        ("0 0 * 13 *", "out of range"),
        ("*/0 * * * *", "malformed"),
        ("a b c d e", "malformed"),
        ("* * *", "it has 3 field"),
        ("0 0 * * * *", "it has 6 field"),
        ("", "it has 0 field"),
        ("@reboot", "it has 1 field"),
        ("0 0 30 2 *", "never fire"),
        ("H * * * *", "not supported"),
        ("R 0 * * *", "not supported"),
    ],
)
def test_malformed_cron_is_rejected_with_the_reason_and_the_accepted_form(expr: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as caught:
        parse_cron(expr)
    assert f"invalid cron {expr!r}" in str(caught.value)


@pytest.mark.parametrize(
    ("expr", "line"),
    [("  30   2 * *  * ", "30 2 * * *"), ("0 9 * MAR-OCT THU", "0 9 * MAR-OCT THU"), ("@hourly", "@hourly")],
)
def test_cron_lines_are_accepted_with_spacing_normalised(expr: str, line: str) -> None:
    assert parse_cron(expr) == line


@pytest.mark.parametrize(
    "name", ["../etc", "", "x" * 5000, "Europe", "Mars/Olympus", "europe/berlin", "/etc/passwd", "a\0b", "localtime"]
)
def test_unknown_time_zone_is_a_value_error_whatever_is_odd_about_the_name(name: str) -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        zone(name)


def test_known_time_zone_is_returned() -> None:
    assert zone(NEW_YORK) == ZoneInfo(NEW_YORK)


def test_preview_pairs_each_utc_fire_with_its_local_time_and_offset() -> None:
    pairs = preview("30 * * * *", BERLIN, utc(2026, 3, 29, 0), 3)
    assert [local.isoformat() for _, local in pairs] == [
        "2026-03-29T01:30:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-29T03:30:00+02:00",
    ]
    assert all(local == instant and instant.tzinfo is UTC for instant, local in pairs)


def test_preview_lists_up_to_the_limit_and_no_more() -> None:
    assert len(preview("* * * * *", "UTC", utc(2026, 1, 1), MAX_TICKS)) == MAX_TICKS
    with pytest.raises(ValueError, match="between 0 and 500"):
        preview("* * * * *", "UTC", utc(2026, 1, 1), MAX_TICKS + 1)


def test_tick_key_is_utc_iso_8601_to_the_second() -> None:
    moment = datetime(2026, 3, 29, 3, 0, 0, 999_999, tzinfo=timezone(timedelta(hours=2)))
    assert tick_key(moment) == "2026-03-29T01:00:00Z"


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        next_fires("* * * * *", "UTC", datetime(2026, 1, 1), 1)  # noqa: DTZ001


def test_catch_up_cap_beyond_the_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="max_catch_up must be between 0 and 500"):
        missed_fires("* * * * *", "UTC", utc(2026, 1, 1), utc(2026, 1, 2), "all", MAX_TICKS + 1)
