"""The schedule trigger: a cron line in an IANA time zone; each tick is one inbox row, keyed by the tick.

A tick that comes due while the workers run fires once. After downtime, the ticks missed in between follow
`catch_up` (conveyor.schedule.missed_fires): `latest` fires the most recent, `all` the most recent
`max_catch_up`, `none` none of them, except ticks less than ON_TIME old, which are not missed but merely
being served. Whatever does not fire is added to the trigger's `skipped` count.

A schedule may end: at `end_at` (no tick after it fires) or after `max_executions` fires, counted in the
trigger's cursor (`{"fired": n}`, written with the ticks); then it is due no more (`next_run_at` null).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, Field, field_validator

from conveyor.jsonvalue import JSONObject
from conveyor.schedule import MAX_TICKS, CatchUp, missed_fires, next_fires, parse_cron, tick_key, zone
from conveyor.triggers.base import Firing, Tick, TriggerKind, TriggerModel

ON_TIME = timedelta(seconds=60)
"""A tick younger than this when the stage finds it is fired even under `catch_up: none`."""

# Ticks are whole seconds: one microsecond before the due time is "since the last tick considered".
_JUST_BEFORE = timedelta(microseconds=1)


class ScheduleTrigger(TriggerModel):
    """Fire on a cron line read on a time zone's wall clock."""

    type: Literal["schedule"]
    cron: str = Field(max_length=200)
    timezone: str = Field(default="UTC", max_length=64)
    input: JSONObject = {}
    catch_up: CatchUp = "latest"
    max_catch_up: int = Field(default=10, ge=1, le=MAX_TICKS)
    max_executions: int | None = Field(default=None, ge=1, le=2**62)
    end_at: AwareDatetime | None = None

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        return parse_cron(value)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone(value)
        return value

    def first_run(self, now: datetime) -> datetime | None:
        """The first tick after `now`; None past `end_at`."""
        [first] = next_fires(self.cron, self.timezone, now, 1)
        return None if self.end_at is not None and first > self.end_at else first

    def local(self, instant: datetime) -> datetime:
        """The instant on the schedule's wall clock, with its offset."""
        return instant.astimezone(zone(self.timezone))


def fire(trigger: ScheduleTrigger, trigger_id: str, due_at: datetime, now: datetime, fired: int = 0) -> Firing:
    """The ticks in [due_at, now] to fire under the catch-up policy and the end, the next tick, and the skipped.

    `fired` is how many ticks the schedule has fired before: with `max_executions`, only the rest may fire.
    """
    since = due_at - _JUST_BEFORE
    until = now if trigger.end_at is None else max(since, min(now, trigger.end_at))
    if trigger.catch_up == "none":
        fires, _ = missed_fires(trigger.cron, trigger.timezone, max(since, now - ON_TIME), until, "all", MAX_TICKS)
        _, missed = missed_fires(trigger.cron, trigger.timezone, since, until, "none", 0)
        skipped = missed - len(fires)
    else:
        fires, skipped = missed_fires(
            trigger.cron, trigger.timezone, since, until, trigger.catch_up, trigger.max_catch_up
        )
    left = None if trigger.max_executions is None else max(0, trigger.max_executions - fired)
    if left is not None and len(fires) > left:
        fires, skipped = fires[:left], skipped + len(fires) - left
    ticks = [Tick(f"schedule:{trigger_id}:{tick_key(at)}", dict(trigger.input)) for at in fires]
    ended = left is not None and left <= len(fires)
    return Firing(ticks, None if ended else trigger.first_run(now), skipped)


KIND = TriggerKind(ScheduleTrigger, fire)
