"""Coalescing: a trigger's rows with one rendered key, arriving within a quiet period, start one execution.

A group is ripe when `quiet` has passed since its last row arrived, or `max_wait` since its first, whichever
comes sooner. The execution's input is the first row's payload, the last's, or with `all` an object holding
the payloads in arrival order (at most `MAX_PAYLOADS`, the rest counted).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from conveyor.definitions import Duration
from conveyor.errors import ValidationError
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.templating import TemplateRenderError, compiled_template, render_value

# How many payloads an `all` group hands its execution; a longer burst is counted, not listed.
MAX_PAYLOADS = 100
# A rendered key is stored and indexed with every row of the group.
MAX_KEY_CHARS = 200
# Neither period may be shorter (a group is a burst, not a single row) nor longer (its rows wait in the inbox).
_SHORTEST = timedelta(milliseconds=100)
_LONGEST = timedelta(days=7)


class Coalesce(BaseModel):
    """Rows whose `key` renders alike start one execution, `quiet` after the last or `max_wait` after the first."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # A template over `payload`, e.g. "{{ payload.user }}".
    key: str = Field(min_length=1, max_length=1000)
    quiet: Duration
    max_wait: Duration
    payload: Literal["first", "last", "all"] = "last"

    @field_validator("key")
    @classmethod
    def _compiles(cls, key: str) -> str:
        return compiled_template(key)

    @field_validator("quiet", "max_wait")
    @classmethod
    def _bounded(cls, value: timedelta) -> timedelta:
        if not _SHORTEST <= value <= _LONGEST:
            raise ValueError("must be between 100ms and 7d")
        return value

    @model_validator(mode="after")
    def _quiet_within_max_wait(self) -> Self:
        if self.quiet > self.max_wait:
            raise ValueError("quiet must not be longer than max_wait")
        return self


class CoalesceKeyError(ValidationError):
    """The coalescing key cannot be rendered from this payload."""

    code = "invalid_coalesce_key"


def group_key(coalesce: Coalesce, payload: JSONObject) -> str:
    """The group a row with this payload joins; CoalesceKeyError when the key renders to nothing usable."""
    try:
        value: JSONValue = render_value(coalesce.key, {"payload": payload})
    except TemplateRenderError as exc:
        raise CoalesceKeyError(f"coalesce key: {exc.message}", field="payload") from exc
    text = value if isinstance(value, str) else ("" if value is None else json.dumps(value, sort_keys=True))
    if not text or len(text) > MAX_KEY_CHARS:
        raise CoalesceKeyError(f"coalesce key must render to 1 to {MAX_KEY_CHARS} characters", field="payload")
    return text
