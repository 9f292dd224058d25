"""Trigger kinds: one declaration each, the parser's pointers, and a schedule's firing policy."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta

import pytest

from conveyor.errors import SignatureError, TriggerDefinitionError
from conveyor.jsonvalue import JSONObject
from conveyor.triggers.hook_signature import verify
from conveyor.triggers.kinds import CLOCK_TYPES, KINDS, kind_of, parse_trigger
from conveyor.triggers.schedule import ScheduleTrigger, fire
from conveyor.triggers.webhook import WebhookTrigger

DESIGN_EXAMPLES: list[JSONObject] = [
    {"type": "manual"},
    {"type": "event", "event": "subscription.created"},
    {"type": "webhook", "path": "signup", "secret": "a-long-secret"},
    {"type": "schedule", "cron": "0 9 * * MON", "timezone": "Europe/Berlin", "input": {"a": 1}},
    {"type": "poll", "table": "subscriptions", "cursor": "id", "interval": "30s"},
    {"type": "poll", "url": "https://example.com/x", "items": "data", "key": "id", "interval": "5m"},
]


def test_every_kind_is_declared_once_and_every_design_example_parses_to_its_own_kind() -> None:
    assert len({k.tag for k in KINDS}) == len(KINDS)
    assert {kind_of(parse_trigger(raw)).tag for raw in DESIGN_EXAMPLES} == {k.tag for k in KINDS}


def test_only_kinds_that_fire_on_a_clock_are_taken_by_the_clock_stage() -> None:
    assert CLOCK_TYPES == ("schedule",)


def test_a_filter_is_checked_at_parse_time_with_its_pointer() -> None:
    with pytest.raises(TriggerDefinitionError) as caught:
        parse_trigger({"type": "manual", "filter": {"nosuchop": []}})
    assert caught.value.details["field"].startswith("/filter")


def test_a_webhook_signature_covers_the_timestamp_the_delivery_id_and_the_body() -> None:
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    t = str(int(now.timestamp()))
    good = f"t={t},v1=" + hmac.new(b"0123456789", f"{t}\nd-1\n{{}}".encode(), "sha256").hexdigest()
    proof = verify("0123456789", good, "d-1", b"{}", now, timedelta(minutes=5))
    assert (proof.key, proof.until) == ("d-1", now + timedelta(minutes=5))
    for header, delivery, body in (
        (good, "d-1", b"{} "),
        (good, "d-2", b"{}"),
        (good, "", b"{}"),
        (None, "d-1", b"{}"),
    ):
        with pytest.raises(SignatureError):
            verify("0123456789", header, delivery, body, now, timedelta(minutes=5))
    with pytest.raises(SignatureError):
        verify("0123456789", good, "d-1", b"{}", now + timedelta(minutes=6), timedelta(minutes=5))


def test_a_webhook_with_a_secret_signs_v1_unless_saved_as_legacy() -> None:
    hook = parse_trigger({"type": "webhook", "path": "p", "secret": "0123456789"})
    assert isinstance(hook, WebhookTrigger)
    assert (hook.signature, hook.tolerance, hook.methods) == ("v1", timedelta(minutes=5), ["POST"])


def _schedule(**fields: object) -> ScheduleTrigger:
    trigger = parse_trigger({"type": "schedule", "cron": "0 * * * *", **fields})
    assert isinstance(trigger, ScheduleTrigger)
    return trigger


def test_catch_up_none_still_fires_the_tick_that_is_merely_being_served() -> None:
    tick = datetime(2026, 6, 1, 12, tzinfo=UTC)
    on_time = fire(_schedule(catch_up="none"), "t", tick, tick + timedelta(seconds=2))
    assert [t.dedupe_key for t in on_time.ticks] == ["schedule:t:2026-06-01T12:00:00Z"]
    late = fire(_schedule(catch_up="none"), "t", tick - timedelta(hours=5), tick + timedelta(minutes=5))
    assert (late.ticks, late.skipped) == ([], 6)
    assert late.next_run_at == tick + timedelta(hours=1)


def test_catch_up_all_fires_at_most_max_catch_up_oldest_first() -> None:
    tick = datetime(2026, 6, 1, 12, tzinfo=UTC)
    firing = fire(_schedule(catch_up="all", max_catch_up=2), "t", tick - timedelta(hours=3), tick)
    assert [t.dedupe_key[-9:] for t in firing.ticks] == ["11:00:00Z", "12:00:00Z"]
    assert firing.skipped == 2


def test_every_table_the_schema_creates_is_one_table_polls_refuse() -> None:
    import re

    from conveyor.store.maintenance import CONVEYOR_TABLES
    from conveyor.store.migrations import head_schema

    created = set(re.findall(r"CREATE TABLE (\w+)", head_schema()))
    assert created
    assert created <= CONVEYOR_TABLES


def test_a_schedule_with_max_executions_fires_only_the_rest_then_is_due_no_more() -> None:
    tick = datetime(2026, 6, 1, 12, tzinfo=UTC)
    schedule = _schedule(catch_up="all", max_catch_up=5, max_executions=4)
    firing = fire(schedule, "t", tick - timedelta(hours=3), tick, 1)
    assert [t.dedupe_key[-9:] for t in firing.ticks] == ["09:00:00Z", "10:00:00Z", "11:00:00Z"]
    assert (firing.next_run_at, firing.skipped) == (None, 1)
    assert fire(schedule, "t", tick, tick, 2).next_run_at == tick + timedelta(hours=1)


def test_a_schedule_fires_no_tick_after_end_at_and_is_due_no_more() -> None:
    tick = datetime(2026, 6, 1, 12, tzinfo=UTC)
    schedule = _schedule(catch_up="all", max_catch_up=5, end_at="2026-06-01T10:30:00Z")
    firing = fire(schedule, "t", tick - timedelta(hours=3), tick)
    assert [t.dedupe_key[-9:] for t in firing.ticks] == ["09:00:00Z", "10:00:00Z"]
    assert firing.next_run_at is None
    assert schedule.first_run(tick - timedelta(hours=3)) == tick - timedelta(hours=2)
    assert schedule.first_run(tick - timedelta(hours=2)) is None
