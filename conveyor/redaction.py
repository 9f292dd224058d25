"""Redaction: every known secret value, in any form it is written in, becomes `«secret:NAME»`.

One function for every place data leaves conveyor (a step's commit, a webhook log row, an error answer,
a log line). A value is matched as written, percent-encoded (a URL query), JSON-escaped (a body) and
HTML-escaped (an email), so a secret is caught whichever of these ways it was carried. This is the second
line: what conveyor itself renders with a secret is recorded with the secret's marker in its place (see
conveyor/sendable.py); matching is for what comes back from outside (an answer that echoes a secret).
"""

from __future__ import annotations

import contextlib
import html
import json
import logging
import re
import threading
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any
from urllib.parse import quote, quote_plus

from markupsafe import escape
from yarl import URL

from conveyor.jsonvalue import JSONValue


def marker(name: str) -> str:
    """What a secret's value is replaced with."""
    return f"«secret:{name}»"


def _forms(value: str) -> set[str]:
    forms = {value, quote(value, safe=""), quote(value), quote_plus(value), json.dumps(value)[1:-1]}
    forms.add(json.dumps(value, ensure_ascii=False)[1:-1])
    forms |= {str(escape(value)), html.escape(value), html.escape(value, quote=False)}  # an HTML email's body
    forms |= _url_forms(value)
    return {f for f in forms if f}


def _url_forms(value: str) -> set[str]:
    """How yarl writes the value into a URL (it keeps some characters `quote` escapes, and the reverse)."""
    forms = set()
    with contextlib.suppress(ValueError, TypeError):
        forms.add(URL.build(scheme="http", host="h", query={"q": value}).raw_query_string[2:])
        forms.add(URL.build(scheme="http", host="h", path="/" + value).raw_path[1:])
        forms.add(URL("http://h/?q=" + value).raw_query_string[2:])
        forms.add(URL("http://h/" + value).raw_path[1:])
    return forms


class Redactor:
    """Replaces the given secrets' values wherever they occur in text or JSON."""

    def __init__(self, values: Mapping[str, str]) -> None:
        names: dict[str, str] = {}
        # Longest first, so a secret that contains another is replaced whole.
        for name, value in sorted(values.items(), key=lambda item: -len(item[1])):
            for form in _forms(value):
                names.setdefault(form, name)
        self._names = names
        ordered = sorted(names, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def text(self, text: str) -> str:
        """The text with every secret value replaced by its marker."""
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda m: marker(self._names[m.group(0)]), text)

    def value(self, value: JSONValue) -> JSONValue:
        """A JSON value with every secret in its strings (keys too) replaced by its marker."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value

    def anything(self, value: Any) -> Any:
        """Like `value`, for a log event's fields: what is not JSON is redacted as its text."""
        if self._pattern is None or value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, str | dict | list | tuple):
            return self.value(value)
        text = str(value)
        redacted = self.text(text)
        return value if redacted == text else redacted


NO_SECRETS = Redactor({})


class KnownSecrets:
    """Every secret value this process knows (named secrets, tokens, passwords): what logs are redacted by."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}
        self._redactor = NO_SECRETS
        self._lock = threading.Lock()  # logging may run on other threads (asyncpg's, aiohttp's)

    def add(self, values: Mapping[str, str | None]) -> None:
        """Learn (or update) secret values by name; None and empty values are skipped."""
        fresh = {name: v for name, v in values.items() if v and self._values.get(name) != v}
        if fresh:
            with self._lock:
                self._values = {**self._values, **fresh}
                self._redactor = Redactor(self._values)

    def forget(self, names: Iterable[str]) -> None:
        """Stop redacting these names (a deleted secret)."""
        gone = set(names)
        with self._lock:
            self._values = {k: v for k, v in self._values.items() if k not in gone}
            self._redactor = Redactor(self._values)

    @property
    def redactor(self) -> Redactor:
        """A redactor of every value known now."""
        return self._redactor


KNOWN = KnownSecrets()


def redact_event(_logger: object, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A structlog processor: no known secret value reaches a rendered log line."""
    redactor = KNOWN.redactor
    if redactor:
        for key, value in event.items():
            event[key] = redactor.anything(value)
    return event


class RedactingFilter(logging.Filter):
    """The same for the standard library's log records (aiohttp's, asyncpg's)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record's message in place; never drop it."""
        redactor = KNOWN.redactor
        if redactor:
            message = record.getMessage()
            redacted = redactor.text(message)
            if redacted != message:
                record.msg, record.args = redacted, None
        return True
