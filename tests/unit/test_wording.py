"""Every event of the execution machine reads in words; a wait says what for, until when, and where it goes."""

from __future__ import annotations

from datetime import UTC, datetime

from conveyor.statemachines.chart import transitions
from conveyor.wording import WORDED_EVENTS, event_wait, history_words, resting, retry_wait, slot_wait, worker_wait


def test_every_event_of_the_machine_has_words() -> None:
    events = {t.event for t in transitions()}
    assert events <= WORDED_EVENTS, f"events without words: {sorted(events - WORDED_EVENTS)}"


def test_history_rows_read_as_a_person_would_say_them() -> None:
    assert history_words("start", "welcome", None) == "started at welcome"
    assert history_words("step_ok", "welcome", {"x": 1}) == "step welcome done"
    assert history_words("wake", "wait", None) == "woke"
    error = {"error": {"code": "http_error", "message": "POST answered 500"}, "retry_in_seconds": 2}
    assert history_words("schedule_retry", "notify", error) == "retrying in 2 s after POST answered 500"
    slept = history_words("sleep", "wait", {"next": "b", "until": "2026-12-08T00:46:18+00:00"})
    assert slept == "slept until 2026-12-08 00:46:18 UTC"
    waited = history_words("sleep", "wait", {"events": ["user.engaged"], "timeout_in_seconds": 3600, "until": None})
    assert waited == "waiting for user.engaged for 60 min"


def test_an_event_wait_names_its_event_match_deadline_and_timeout_edge() -> None:
    until = datetime(2026, 12, 8, 19, 50, 4, tzinfo=UTC)
    match = {"==": [{"var": "event.payload.user"}, {"var": "input.user"}]}
    text = event_wait("wait", ["user.engaged"], match, until, "welcome", "nudge").text
    assert text == (
        'waiting for user.engaged matching {"==":[{"var":"event.payload.user"},{"var":"input.user"}]} until '
        "2026-12-08 19:50:04 UTC (on event → welcome; on timeout → nudge)"
    )
    assert (
        event_wait("w", ["a", "b"], None, None, None, None).text
        == "waiting for a or b with no timeout (on event → end)"
    )


def test_a_held_back_execution_names_its_cap() -> None:
    assert slot_wait("acct-1", 2).text == "held back: 2 running at once already under its concurrency key 'acct-1'"
    assert slot_wait(None, 5).text == "held back: 5 running at once already under its workflow's limit"


def test_a_throttled_child_waiting_worker_waiting_or_retrying_execution_says_so() -> None:
    until = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
    throttled = resting("send", {"throttled": "smtp:example.com", "until": until.isoformat()}, until)
    assert throttled is not None
    assert (throttled.kind, throttled.key) == ("throttle", "smtp:example.com")
    assert throttled.text == "held back by send rate 'smtp:example.com' until 2026-12-08 09:00:00 UTC"
    child = resting("sub", {"child_id": "c0ffee"}, None)
    assert child is not None
    assert child.text == "waiting for child execution c0ffee"
    assert worker_wait("crm.create_task").text == "waiting for a worker that provides action 'crm.create_task'"
    error = {"error": {"message": "POST answered 503"}}
    assert (
        retry_wait("notify", error, until).text == "retrying notify at 2026-12-08 09:00:00 UTC after POST answered 503"
    )
