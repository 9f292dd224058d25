"""Every trigger kind conveyor knows; the union, the parser and the dispatch derive from this list."""

from __future__ import annotations

import typing
from typing import Annotated, Any

from pydantic import Discriminator, Tag, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from conveyor.errors import TriggerDefinitionError
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.secret_references import secret_uses
from conveyor.triggers import event, manual, poll_table, poll_url, schedule, webhook
from conveyor.triggers.base import TriggerKind, TriggerModel
from conveyor.validation_messages import problems

KINDS: tuple[TriggerKind[Any], ...] = (
    manual.KIND,
    event.KIND,
    webhook.KIND,
    schedule.KIND,
    poll_table.KIND,
    poll_url.KIND,
)

_BY_TAG: dict[str, TriggerKind[Any]] = {kind.tag: kind for kind in KINDS}
_TYPES: dict[str, list[type[TriggerModel]]] = {}
for _kind in KINDS:
    _TYPES.setdefault(_kind.model.type_name(), []).append(_kind.model)

CLOCK_TYPES: tuple[str, ...] = tuple(dict.fromkeys(k.model.type_name() for k in KINDS if k.fire is not None))
"""The `type`s whose triggers fire on a clock: the schedule stage takes only these."""

POLL_TYPES: tuple[str, ...] = tuple(dict.fromkeys(k.model.type_name() for k in KINDS if k.poll is not None))
"""The `type`s whose triggers poll a source: the poll stage takes only these."""

_UNKNOWN = "unknown_trigger_type"
# Write-only fields of every kind: an error never echoes their values.
_HIDDEN = frozenset(name for kind in KINDS for name in kind.model.secret_fields)
_HELP = "use one of " + ", ".join(
    f"{name!r}" + (" (with " + " or ".join(repr(m.selector) for m in models) + ")" if len(models) > 1 else "")
    for name, models in _TYPES.items()
)


def _tag(raw: object) -> str | None:
    if isinstance(raw, TriggerModel):
        return raw.tag()
    if not isinstance(raw, dict):
        return None
    type_ = raw.get("type")
    models = _TYPES.get(type_) if isinstance(type_, str) else None
    if not models:
        return None
    if len(models) == 1:
        return models[0].tag()
    return next((m.tag() for m in models if m.selector in raw), None)


# A union built at run time from the kinds' declarations, which no static checker can follow.
_UNION: object = Annotated[
    typing.Union[tuple(Annotated[k.model, Tag(k.tag)] for k in KINDS)],  # noqa: UP007
    Discriminator(_tag, custom_error_type=_UNKNOWN, custom_error_message=f"unknown trigger type: {_HELP}"),
]
_ADAPTER: TypeAdapter[TriggerModel] = TypeAdapter(_UNION)  # type: ignore[arg-type]
TRIGGER_DEFINITION: TypeAdapter[TriggerModel] = _ADAPTER
"""The union of trigger kinds: its JSON Schema is the API's."""


def parse_trigger(raw: JSONValue) -> TriggerModel:
    """Validate a trigger definition, raising TriggerDefinitionError naming each problem by JSON pointer."""
    try:
        trigger = _ADAPTER.validate_python(raw)
    except PydanticValidationError as exc:
        raise _error([_named_type(p, raw) for p in problems(exc, _pointer, _UNION, hidden=_HIDDEN)]) from exc
    errors = trigger.content_errors() + _secret_errors(raw)
    if errors:
        raise _error(errors)
    return trigger


def _secret_errors(raw: JSONValue) -> list[JSONObject]:
    """A trigger renders nothing with secrets, and sends nothing: `secrets` named anywhere in it is refused."""
    message = "invalid template: a secret may be used only where a workflow's node sends it as a credential"
    return [{"pointer": use.pointer, "message": message, "value": None} for use in secret_uses(raw)]


def _named_type(problem: JSONObject, raw: JSONValue) -> JSONObject:
    """An unknown `type` named with its value, and what to write instead."""
    if problem["pointer"] != "/type" or not isinstance(raw, dict):
        return problem if isinstance(raw, dict) else {**problem, "pointer": "", "message": "must be an object"}
    type_ = raw.get("type")
    if type_ is None:
        return {**problem, "message": f"is required: {_HELP}", "value": None}
    if isinstance(type_, str) and type_ in _TYPES:
        fields = " or ".join(repr(m.selector) for m in _TYPES[type_])
        return {**problem, "message": f"a {type_!r} trigger needs {fields}", "value": type_}
    shown = type_[:100] if isinstance(type_, str) else None
    return {**problem, "message": f"{type_!r:.100} is not a trigger type: {_HELP}", "value": shown}


def kind_of(trigger: TriggerModel) -> TriggerKind[Any]:
    """The declaration of this trigger's kind."""
    return _BY_TAG[trigger.tag()]


def _pointer(loc: tuple[int | str, ...]) -> str:
    # pydantic puts the union tag first in the location ("webhook", "path"); a pointer must not.
    # An unknown `type` is reported at the root, where the discriminator looked.
    parts = [str(p) for p in (loc[1:] if loc and loc[0] in _BY_TAG else loc)]
    return "/" + "/".join(parts) if parts else "/type"


def _error(errors: list[JSONObject]) -> TriggerDefinitionError:
    first = errors[0]
    return TriggerDefinitionError(
        f"invalid trigger at {first['pointer'] or '/'}: {first['message']}", field=first["pointer"], errors=errors
    )
