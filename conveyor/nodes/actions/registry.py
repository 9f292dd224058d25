"""The action registry: `@action` declares an action once (its key, params model, secrets, category), and
everything else (the catalog, the schema check at save, the published rows) is derived from the declaration."""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from conveyor.definitions import RetryPolicy
from conveyor.jsonvalue import JSONObject
from conveyor.secret_references import SECRET_NAME
from conveyor.store.actions import Declared

KEY = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")
MAX_KEY_CHARS = 100
_KEY_RULE = "an action key is lower-case words of letters, digits and '_', joined by '.' (crm.create_task)"

F = TypeVar("F", bound=Callable[..., Any])
_BUILTIN_MODULES = "conveyor.nodes.actions."


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """One action as declared: what runs, what it takes and returns, and what the catalog shows of it."""

    key: str
    function: Callable[..., Any]
    params: type[BaseModel] | None
    output: type[BaseModel] | None
    secrets: tuple[str, ...]
    category: str
    description: str
    display_name: str
    builtin: bool = False
    # The param that names a stored email template (send_email's), checked to exist when a definition is saved.
    template_param: str | None = None
    # The retry policy of a node that runs this action and declares none.
    default_retry: RetryPolicy | None = None

    @property
    def is_async(self) -> bool:
        """Whether it runs on the event loop (async) or in the worker's action threads (plain)."""
        return inspect.iscoroutinefunction(self.function)

    def params_schema(self) -> JSONObject:
        """The JSON Schema its params must meet: the params model's, or any object."""
        return self.params.model_json_schema() if self.params else {"type": "object"}

    def output_schema(self) -> JSONObject | None:
        """The JSON Schema of what it returns, when it declares one."""
        return self.output.model_json_schema(mode="serialization") if self.output else None

    @property
    def version(self) -> str:
        """A hash of what a definition depends on (params, output, secrets): two workers that differ in it
        provide two versions of the action."""
        declared = {"params": self.params_schema(), "output": self.output_schema(), "secrets": list(self.secrets)}
        canonical = json.dumps(declared, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def declared(self) -> Declared:
        """What the registry's table records of this action."""
        return Declared(
            key=self.key,
            version=self.version,
            display_name=self.display_name,
            description=self.description,
            category=self.category,
            params_schema=self.params_schema(),
            output_schema=self.output_schema(),
            secrets=self.secrets,
            template_param=self.template_param,
            builtin=self.builtin,
        )


class Registry:
    """The actions this process can run, by key."""

    def __init__(self) -> None:
        self._specs: dict[str, ActionSpec] = {}

    def add(self, spec: ActionSpec) -> None:
        """Register an action; a second, different action under the same key is a mistake, not an override."""
        known = self._specs.get(spec.key)
        if known is not None and known.function is not spec.function:
            raise ValueError(
                f"action {spec.key!r} is declared twice: {_where(known.function)} and {_where(spec.function)}"
            )
        self._specs[spec.key] = spec

    def get(self, key: str) -> ActionSpec | None:
        """The action declared under `key`, if this process has it."""
        return self._specs.get(key)

    def __iter__(self) -> Iterator[ActionSpec]:
        return iter(sorted(self._specs.values(), key=lambda s: s.key))


REGISTRY = Registry()
"""The actions of this process: the built-ins, and those of the modules a worker loaded."""


def action(
    key: str,
    *,
    params: type[BaseModel] | None = None,
    output: type[BaseModel] | None = None,
    secrets: Sequence[str] = (),
    category: str = "custom",
    description: str | None = None,
    display_name: str | None = None,
    template_param: str | None = None,
    default_retry: RetryPolicy | None = None,
    registry: Registry = REGISTRY,
) -> Callable[[F], F]:
    """Declare `function(params, ctx)` as the action `key`; async functions run on the worker's event loop,
    plain ones in its bounded pool of action threads. `template_param` names a param that must name a stored
    email template, checked when a definition is saved. `default_retry` is the retry policy of a node that runs it
    and declares none."""
    spec_args = _checked(key, params, output, secrets, category)

    def declare(function: F) -> F:
        _check_signature(key, function)
        doc = inspect.getdoc(function) or ""
        registry.add(
            ActionSpec(
                key=key,
                function=function,
                description=description if description is not None else doc.split("\n\n")[0].strip(),
                display_name=display_name or key.rsplit(".", 1)[-1].replace("_", " ").capitalize(),
                builtin=getattr(function, "__module__", "").startswith(_BUILTIN_MODULES),
                template_param=template_param,
                default_retry=default_retry,
                **spec_args,
            )
        )
        return function

    return declare


def _checked(
    key: str, params: type[BaseModel] | None, output: type[BaseModel] | None, secrets: Sequence[str], category: str
) -> dict[str, Any]:
    if not isinstance(key, str) or len(key) > MAX_KEY_CHARS or not KEY.fullmatch(key):
        raise ValueError(f"{_KEY_RULE}, at most {MAX_KEY_CHARS} characters; not {key!r}")
    for name, model in (("params", params), ("output", output)):
        if model is not None and not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise TypeError(f"action {key!r}: {name}= takes a pydantic model class, not {model!r}")
    if isinstance(secrets, str):
        raise TypeError(f"action {key!r}: secrets= takes a list of names, not the string {secrets!r}")
    for name in secrets:
        if not isinstance(name, str) or not SECRET_NAME.fullmatch(name):
            raise ValueError(
                f"action {key!r}: {name!r} cannot name a secret (a letter or '_', then letters, digits, '_')"
            )
    if not isinstance(category, str) or not 1 <= len(category) <= 50:
        raise ValueError(f"action {key!r}: a category is 1 to 50 characters")
    return {"params": params, "output": output, "secrets": tuple(dict.fromkeys(secrets)), "category": category}


def _check_signature(key: str, function: Callable[..., Any]) -> None:
    try:
        inspect.signature(function).bind(None, None)
    except TypeError as exc:
        raise TypeError(f"action {key!r}: {_where(function)} must take (params, ctx)") from exc


def _where(function: Callable[..., Any]) -> str:
    return f"{getattr(function, '__module__', '?')}.{getattr(function, '__qualname__', repr(function))}"
