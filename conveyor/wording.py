"""An execution in the words a person uses: what its history rows mean, and what it is waiting for now.

The machine's event names stay in the API beside these words; the words are derived from them here, once, for
the dashboard and the CLI alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from conveyor.jsonvalue import JSONObject, JSONValue

Detail = JSONObject


def moment(value: datetime | str | None) -> str:
    """A time as people read it: `2026-12-08 00:46:18 UTC`."""
    if value is None:
        return "no time set"
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if at.tzinfo else at.strftime("%Y-%m-%d %H:%M:%S")


def _seconds(value: JSONValue) -> str:
    if not isinstance(value, int | float):
        return "a while"
    return f"{value:g} s" if value < 120 else f"{value / 60:.0f} min"


def _error(detail: Detail | None) -> str:
    error = (detail or {}).get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or json.dumps(error))
    return str(error) if error else "an error"


def _sleep(node: str, detail: Detail | None) -> str:
    """A `sleep` row: a delay's sleep, a wait for an event or a child, or a step held back by a send rate."""
    d = detail or {}
    if "events" in d:
        events = ", ".join(str(e) for e in d["events"]) if isinstance(d["events"], list) else str(d["events"])
        limit = f" until {moment(str(d['until']))}" if d.get("until") else ""
        limit = limit or (f" for {_seconds(d['timeout_in_seconds'])}" if d.get("timeout_in_seconds") else "")
        return f"waiting for {events}{limit}"
    if "child_id" in d:
        return f"waiting for child execution {d['child_id']}"
    if "group" in d:
        ended = f", {d['ended']} ended" if "ended" in d else ""
        return f"waiting for its branches or items{ended}"
    if "throttled" in d:
        return f"held back by send rate {d['throttled']!r} until {moment(str(d.get('until')))}"
    if d.get("until"):
        return f"slept until {moment(str(d['until']))}"
    return f"slept for {_seconds(d.get('wake_in_seconds'))}"


_WORDS: dict[str, Callable[[str, Detail | None], str]] = {
    "start": lambda node, d: f"started at {node}",
    "wake": lambda node, d: "woke",
    "retry_due": lambda node, d: f"retry of {node} due",
    "reclaim": lambda node, d: f"taken again after its worker stopped answering, at {node}",
    "step_ok": lambda node, d: f"step {node} done",
    "step_error": lambda node, d: f"step {node} failed: {_error(d)}",
    "advance": lambda node, d: f"on to {(d or {}).get('next') or 'the next node'}",
    "sleep": lambda node, d: _sleep(node, d),
    "finish": lambda node, d: "finished",
    "schedule_retry": lambda node, d: f"retrying in {_seconds((d or {}).get('retry_in_seconds'))} after {_error(d)}",
    "give_up": lambda node, d: f"gave up after {_error(d)}",
    "divert": lambda node, d: f"on to the error path {(d or {}).get('next') or 'the end'} after {_error(d)}",
    "retry": lambda node, d: "retried by an operator",
    "rerun": lambda node, d: f"run again from {node} by an operator",
    "pause": lambda node, d: "paused by an operator",
    "resume": lambda node, d: "resumed by an operator",
    "cancel": lambda node, d: "cancelled" + (f" ({d['reason']})" if d and d.get("reason") else ""),
}
"""Each event of the execution machine in words; a test checks that every event of the machine has them."""

WORDED_EVENTS = frozenset(_WORDS)


def history_words(event: str, node: str | None, detail: Detail | None) -> str:
    """One history row in words; an event without words (none should lack them) is shown by its name."""
    words = _WORDS.get(event)
    return words(node or "the start", detail) if words else event


@dataclass(frozen=True, slots=True)
class Waiting:
    """What a resting execution waits for, as data and in words (`text`)."""

    kind: str  # event, sleep, child, throttle, slot, worker, retry
    text: str
    node: str | None = None
    events: list[str] = field(default_factory=list)
    match: JSONValue = None
    until: datetime | None = None
    on_event: str | None = None
    on_timeout: str | None = None
    key: str | None = None
    limit: int | None = None
    action: str | None = None


def event_wait(
    node: str, events: list[str], match: JSONValue, until: datetime | None, on_event: str | None, on_timeout: str | None
) -> Waiting:
    """Waiting in a wait_for_event node: for which events, matching what, until when, and where each way goes."""
    text = f"waiting for {' or '.join(events)}"
    if match is not None:
        text += f" matching {json.dumps(match, separators=(',', ':'))[:300]}"
    text += f" until {moment(until)}" if until else " with no timeout"
    ways = [f"on event → {on_event}" if on_event else "on event → end", f"on timeout → {on_timeout or 'end'}"]
    text += f" ({'; '.join(ways if until else ways[:1])})"
    return Waiting("event", text, node, events, match, until, on_event, on_timeout)


def slot_wait(key: str | None, limit: int) -> Waiting:
    """Due, but held back by a concurrency cap."""
    cap = f"its concurrency key {key!r}" if key is not None else "its workflow's limit"
    return Waiting("slot", f"held back: {limit} running at once already under {cap}", key=key, limit=limit)


def worker_wait(action: str) -> Waiting:
    """Due, but no live worker provides the action its next step runs."""
    return Waiting("worker", f"waiting for a worker that provides action {action!r}", action=action)


def resting(node: str | None, detail: Detail | None, wake_at: datetime | None) -> Waiting | None:
    """A delayed execution's wait other than for an event, read off the row that put it to sleep."""
    d = detail or {}
    if "child_id" in d:
        return Waiting("child", _sleep(node or "", d), node)
    if "throttled" in d:
        return Waiting("throttle", _sleep(node or "", d), node, until=wake_at, key=str(d["throttled"]))
    if "events" in d:
        return None
    return Waiting("sleep", f"sleeping until {moment(wake_at)}", node, until=wake_at)


def retry_wait(node: str | None, detail: Detail | None, wake_at: datetime | None) -> Waiting:
    """Retrying a failed step at `wake_at`."""
    return Waiting("retry", f"retrying {node} at {moment(wake_at)} after {_error(detail)}", node, until=wake_at)
