"""A workflow's concurrency caps: at most `limit` executions per rendered key, and a total `limit`, running at once.

A slot is taken while a worker holds an execution's lease (a step runs); a delayed or waiting execution takes
none. The caps are stored on each execution when it is created (its key rendered from its input) and enforced by
the claim statement, which counts leased rows of the executions table: no counter exists that a killed worker
could leave taken, since its leases lapse and the rows are claimed again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

from conveyor.errors import ValidationError
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.templating import TemplateRenderError, compiled_template, render_value

# Longer keys are refused: the key is stored and indexed on every execution.
MAX_KEY_CHARS = 200


class Concurrency(BaseModel):
    """At most `limit` executions with one rendered `key` run at once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # A template over `input`, e.g. "{{ input.user }}".
    key: str = Field(min_length=1, max_length=1000)
    limit: int = Field(ge=1, le=100_000)

    @field_validator("key")
    @classmethod
    def _compiles(cls, key: str) -> str:
        return compiled_template(key)


class SlotKeyError(ValidationError):
    """The concurrency key cannot be rendered from this input."""

    code = "invalid_concurrency_key"


@dataclass(frozen=True, slots=True)
class Slots:
    """The caps one execution is held to: its rendered key with that key's limit, and the workflow's total."""

    key: str | None = None
    key_limit: int | None = None
    total_limit: int | None = None


NO_SLOTS = Slots()


def slots_for(definition: JSONObject, input_: JSONObject) -> Slots:
    """The caps a new execution of this (validated) definition takes, its key rendered from `input_`."""
    raw_total, raw_concurrency = definition.get("limit"), definition.get("concurrency")
    total = int(raw_total) if isinstance(raw_total, int) else None
    if not isinstance(raw_concurrency, dict):
        return Slots(total_limit=total)
    concurrency = Concurrency.model_validate(raw_concurrency)
    return Slots(render_key(concurrency.key, input_), concurrency.limit, total)


def slots_with(caps: JSONObject | None, override: Concurrency | None, input_: JSONObject) -> Slots:
    """The caps of an execution a trigger starts: the workflow's `caps`, with the trigger's key cap (if it
    declares one) in place of the workflow's; the workflow's total limit holds either way."""
    if override is None:
        return slots_for(caps, input_) if caps else NO_SLOTS
    total = caps.get("limit") if caps else None
    return Slots(render_key(override.key, input_), override.limit, total if isinstance(total, int) else None)


def describe(slots: Slots) -> str | None:
    """The caps an execution runs under, in words, for its inbox row's reason."""
    parts = [f"concurrency key {slots.key!r} (limit {slots.key_limit})"] if slots.key is not None else []
    if slots.total_limit is not None:
        parts.append(f"total limit {slots.total_limit}")
    return "runs under " + " and ".join(parts) if parts else None


def render_key(template: str, input_: JSONObject) -> str:
    """The key a template gives for this input; SlotKeyError when it renders to nothing usable."""
    try:
        value: JSONValue = render_value(template, {"input": input_})
    except TemplateRenderError as exc:
        raise SlotKeyError(f"concurrency key: {exc.message}", field="input") from exc
    text = value if isinstance(value, str) else _json_text(value)
    if not text or len(text) > MAX_KEY_CHARS:
        raise SlotKeyError(f"concurrency key must render to 1 to {MAX_KEY_CHARS} characters", field="input")
    return text


def _json_text(value: JSONValue) -> str:
    return "" if value is None else json.dumps(value, sort_keys=True)
