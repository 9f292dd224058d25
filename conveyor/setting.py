"""One setting's one declaration: its variable, default, parser and text, from which both the environment is
read and the configuration reference is generated, so that neither can say something the other does not."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from conveyor.durations import parse_duration

SETTING = "conveyor_setting"  # the key of a Settings field's metadata that holds its Setting

Parse = Callable[[str], Any]


@dataclass(frozen=True, slots=True)
class Setting:
    """Where a setting is read from, how, what it defaults to, and what it is for."""

    variable: str
    parse: Parse
    section: str
    doc: str
    default_text: str
    secret: bool = False
    # Reads the whole environment instead of one variable (a family of variables such as CONVEYOR_SECRET_<NAME>).
    gather: Callable[[Mapping[str, str]], Any] | None = None

    def read(self, env: Mapping[str, str], default: Any) -> Any:
        """The setting's value in `env`, or `default` when its variable is unset or blank."""
        if self.gather is not None:
            return self.gather(env)
        raw = env.get(self.variable)
        if raw is None or not raw.strip():
            return default
        try:
            return self.parse(raw.strip())
        except ValueError as exc:
            raise ValueError(f"{self.variable} {exc}, not {raw!r}") from None


def setting(
    variable: str,
    default: Any,
    parse: Parse,
    section: str,
    doc: str,
    *,
    secret: bool = False,
    gather: Callable[[Mapping[str, str]], Any] | None = None,
    shown: str | None = None,
) -> Any:
    """A Settings field declared with its variable: `default` may be a zero-argument callable (a factory)."""
    declared = Setting(variable, parse, section, doc, shown or _shown(default), secret, gather)
    metadata = {SETTING: declared}
    if callable(default) and not isinstance(default, type):
        return dataclasses.field(default_factory=default, metadata=metadata, repr=not secret)
    return dataclasses.field(default=default, metadata=metadata, repr=not secret)


def declared(cls: type[Any]) -> list[tuple[str, Setting, Any]]:
    """(field name, Setting, default) of every declared field of a settings dataclass, in declaration order."""
    found = []
    for f in dataclasses.fields(cls):
        if SETTING not in f.metadata:
            continue
        factory: Any = f.default_factory
        default = factory() if f.default is dataclasses.MISSING else f.default
        found.append((f.name, f.metadata[SETTING], default))
    return found


def _shown(default: Any) -> str:
    if default is None:
        return "unset"
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, timedelta):
        return _duration_text(default)
    if isinstance(default, frozenset | tuple) and not default:
        return "empty"
    return str(default)


def _duration_text(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def text(raw: str) -> str:
    """Any text."""
    return raw


def integer(raw: str) -> int:
    """A whole number."""
    try:
        return int(raw)
    except ValueError:
        raise ValueError("must be a whole number") from None


def whole_or_none(raw: str) -> int | None:
    """A whole number; `0` for none."""
    return integer(raw) or None


def number(raw: str) -> float:
    """A number, fractions allowed."""
    try:
        return float(raw)
    except ValueError:
        raise ValueError("must be a number") from None


def flag(raw: str) -> bool:
    """true/false, yes/no, on/off or 1/0."""
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false (also yes/no, on/off, 1/0)")


def choice(*allowed: str) -> Parse:
    """One of `allowed`."""

    def parse(raw: str) -> str:
        if raw not in allowed:
            raise ValueError("must be " + " or ".join(repr(a) for a in allowed))
        return raw

    parse.__doc__ = "One of " + ", ".join(f"`{a}`" for a in allowed) + "."
    return parse


def positive_duration(raw: str) -> timedelta:
    """A duration such as `30s`, `5m`, `12h` or `7d`, above zero."""
    duration = parse_duration(raw)
    if duration <= timedelta(0):
        raise ValueError("must be a positive duration")
    return duration


def duration_or_off(raw: str) -> timedelta | None:
    """A duration such as `30d`; `0` or `off` for none."""
    if raw.lower() in ("0", "off"):
        return None
    try:
        return positive_duration(raw)
    except ValueError:
        raise ValueError("must be a positive duration, '0' or 'off'") from None


def names(raw: str) -> tuple[str, ...]:
    """A comma-separated list."""
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def hosts(raw: str) -> frozenset[str]:
    """A comma-separated list of host names (with `:port` where it matters), any case."""
    return frozenset(h.lower() for h in names(raw))


def origins(raw: str) -> frozenset[str]:
    """A comma-separated list of origins such as `https://admin.example.com`, any case."""
    return frozenset(o.lower().rstrip("/") for o in names(raw))


def upper(raw: str) -> str:
    """A name, any case."""
    return raw.upper()


def path(raw: str) -> Path:
    """A directory."""
    return Path(raw)
