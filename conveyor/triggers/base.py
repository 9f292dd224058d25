"""What a trigger kind declares: its model (its fields and its payload filter) and how it fires on a clock."""

from __future__ import annotations

import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, ClassVar, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, PrivateAttr

from conveyor.concurrency import Concurrency
from conveyor.condition_groups import as_rule, group_errors, is_group
from conveyor.definitions import Duration
from conveyor.errors import ConveyorError
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.rules import Rule, compile_rule, is_truthy, rule_errors
from conveyor.services import Services
from conveyor.store import Conn
from conveyor.triggers.coalesce import Coalesce


def _at_least_a_second(value: timedelta) -> timedelta:
    if value < timedelta(seconds=1):
        raise ValueError("an interval must be at least 1s")
    return value


Interval = Annotated[Duration, AfterValidator(_at_least_a_second)]
"""A period of at least one second: how often a trigger polls, how long a rate limit counts."""


class TriggerModel(BaseModel):
    """What every trigger has; each kind adds its `type` literal and its own fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    # JSON Logic over the payload, or a group of conditions (condition_groups.py): a row whose payload it does
    # not accept starts nothing.
    filter: JSONValue = None
    # Rows with one rendered key start one execution (see coalesce.py).
    coalesce: Coalesce | None = None
    # A cap per rendered key on the executions this trigger starts; it replaces the workflow's key cap for them.
    concurrency: Concurrency | None = None

    # Kinds that share a `type` (the two polls) are told apart by which of these fields a definition has.
    selector: ClassVar[str | None] = None
    # Write-only fields: stored, never shown back.
    secret_fields: ClassVar[tuple[str, ...]] = ()

    # Compiled on first use; parsed triggers are cached per (id, version), so a filter compiles once per version.
    _compiled: Rule | None = PrivateAttr(default=None)

    @classmethod
    def type_name(cls) -> str:
        """The `type` this kind is written as, read off its literal."""
        [name] = typing.get_args(cls.model_fields["type"].annotation)
        return str(name)

    @classmethod
    def tag(cls) -> str:
        """The name that tells this kind apart from every other, even one of the same `type`."""
        return f"{cls.type_name()}.{cls.selector}" if cls.selector else cls.type_name()

    def content_errors(self) -> list[JSONObject]:
        """Problems the model alone cannot see: a filter the rule compiler refuses."""
        if self.filter is None:
            return []
        return group_errors(self.filter, "/filter") if is_group(self.filter) else rule_errors(self.filter, "/filter")

    def accepts(self, payload: JSONObject) -> bool:
        """Whether the filter lets this payload start an execution; a rule that breaks raises RuleError."""
        if self.filter is None:
            return True
        if self._compiled is None:
            self._compiled = compile_rule(as_rule(self.filter))
        return is_truthy(self._compiled.evaluate(payload))

    def hook_path(self) -> str | None:
        """The path this trigger answers under /hooks/, if it is a webhook."""
        return None

    def event_type(self) -> str | None:
        """The event type this trigger receives, if it is an event trigger."""
        return None

    def first_run(self, now: datetime) -> datetime | None:
        """When a clock-driven trigger is first due after `now`; None for kinds fed from outside."""
        return None

    def every(self) -> timedelta | None:
        """How often a polling kind polls."""
        return None

    def source(self) -> str | None:
        """What a polling kind reads; a change of source starts its cursor afresh."""
        return None

    def local(self, instant: datetime) -> datetime | None:
        """An instant on this trigger's own wall clock, for kinds that have one."""
        return None

    def stored(self, definition: JSONObject) -> JSONObject:
        """The definition as it is stored: with any default that must not change under it written out."""
        return definition

    def public(self, definition: JSONObject) -> JSONObject:
        """The stored definition without its write-only fields."""
        return {k: v for k, v in definition.items() if k not in self.secret_fields}


@dataclass(frozen=True, slots=True)
class Tick:
    """One inbox row a clock-driven trigger writes: its dedupe key and payload."""

    dedupe_key: str
    payload: JSONObject


@dataclass(frozen=True, slots=True)
class Polled:
    """What one poll found: new items as inbox rows, the state to store with them, and whether more wait now."""

    ticks: list[Tick]
    cursor: JSONValue
    more: bool = False


class PollFailedError(ConveyorError):
    """A poll could not read its source; the trigger shows the error and tries again later."""

    code = "poll_failed"


@dataclass(frozen=True, slots=True)
class Firing:
    """What a due clock-driven trigger does now: rows to write, when it is next due, ticks it skipped."""

    ticks: list[Tick]
    next_run_at: datetime | None
    skipped: int = 0


T = TypeVar("T", bound=TriggerModel)


@dataclass(frozen=True, slots=True)
class TriggerKind(Generic[T]):
    """One kind of trigger, declared once: its model, and for clock-driven kinds how it fires when due.

    `fire(trigger, trigger_id, due_at, now, fired)` is given the time the trigger was due, the database's now, and
    how many ticks it fired before.
    `poll(trigger, cursor, services)` reads the trigger's source past its cursor, and `prepare(trigger, conn,
    allow_hosts)` checks that source when the trigger is saved (a refusal is a TriggerDefinitionError naming the
    field), returning the cursor it starts from; `allow_hosts` are the hosts the outbound guard lets through.
    Kinds with neither are fed from outside (the API, /hooks/, an application's INSERT).
    """

    model: type[T]
    fire: Callable[[T, str, datetime, datetime, int], Firing] | None = None
    poll: Callable[[T, JSONValue, Services], Awaitable[Polled]] | None = None
    prepare: Callable[[T, Conn, frozenset[str]], Awaitable[JSONValue]] | None = None

    @property
    def tag(self) -> str:
        """The name this kind is told apart by."""
        return self.model.tag()
