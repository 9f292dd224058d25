"""Where a node sends credentials: the only fields a secret may be written in, and how their records hide them.

A node kind declares its sendable fields (a webhook's URL and headers, an action's credential params), each by
a JSON pointer under the node (`*` standing for any one key) and a shape. A `{{ secrets.NAME }}` anywhere else
in a definition is refused at save; in a sendable field it is sent as it is, and every record of the field (a
step's input, a webhook log row, an error) is rendered with `«secret:NAME»` in its place, never matched out
of the rendered text. A credential written literally in a sendable field is allowed but warned about at save,
and its records hold `«redacted»` in its place.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from jinja2 import TemplateError
from jinja2.filters import do_urlencode

from conveyor.jsonvalue import JSONObject, JSONValue, pointer_key, pointer_segment
from conveyor.sandbox import BoundedSandbox

REDACTED = "«redacted»"
_HOLE = "\ufffc"  # stands for a template part in a template's literal text
# A header or query parameter by this name carries a credential.
_CREDENTIAL_NAME = re.compile(r"auth|token|secret|passw|api[-_]?key|access[-_]?key|signature|session|cookie", re.I)
# An authorization scheme: the word before the credential, not the credential.
_SCHEME = re.compile(r"^\s*(?:bearer|basic|token|digest|apikey|key)\b", re.I)
_MARKER = re.compile(r"«secret:[A-Za-z0-9_]+»")
_LEXER = BoundedSandbox()


@dataclass(frozen=True, slots=True)
class Sendable:
    """A field a node sends as a credential: a URL, a map of headers, or one value (an action's param)."""

    pointer: str
    shape: Literal["url", "headers", "value"]

    def matches(self, pointer: str) -> bool:
        """Whether a pointer (relative to the node) is this field, or a header of this map of headers."""
        want, got = self.pointer.split("/"), pointer.split("/")
        if self.shape == "headers":
            want.append("*")
        return len(want) == len(got) and all(w in ("*", g) for w, g in zip(want, got, strict=True))


@dataclass(frozen=True, slots=True)
class LiteralCredential:
    """A credential written into a definition instead of named as a secret."""

    pointer: str
    what: str

    @property
    def message(self) -> str:
        """What the warning at save says."""
        return (
            f"{self.what} is written literally, so it is stored in the definition and shown to every reader; "
            "store it as a secret (PUT /secrets/NAME) and write {{ secrets.NAME }} in its place"
        )


def allowed(sendables: tuple[Sendable, ...], pointer: str) -> bool:
    """Whether a secret may be written at this pointer of a node."""
    return any(s.matches(pointer) for s in sendables)


def literal_credentials(sendables: tuple[Sendable, ...], node: JSONObject) -> Iterator[LiteralCredential]:
    """The credentials written literally in a node's sendable fields (pointers relative to the node)."""
    for sendable in sendables:
        value = _at(node, sendable.pointer)
        if sendable.shape == "url" and isinstance(value, str):
            yield from _in_url(sendable.pointer, value)
        elif sendable.shape == "headers" and isinstance(value, dict):
            for name, header in value.items():
                if _CREDENTIAL_NAME.search(name) and isinstance(header, str) and _literal(_SCHEME.sub("", header)):
                    yield LiteralCredential(f"{sendable.pointer}/{pointer_segment(name)}", f"the {name} header")
        elif sendable.shape == "value" and isinstance(value, str) and _literal(value):
            yield LiteralCredential(sendable.pointer, f"the credential {sendable.pointer[1:]!r}")


def _in_url(pointer: str, template: str) -> Iterator[LiteralCredential]:
    try:
        parts = urlsplit(_skeleton(template))
        password = parts.password
    except ValueError:
        return  # not a URL yet: the step refuses it when it is rendered
    if password and password.replace(_HOLE, "").strip():
        yield LiteralCredential(pointer, "the URL's password")
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if _CREDENTIAL_NAME.search(name) and value.replace(_HOLE, "").strip():
            yield LiteralCredential(pointer, f"the URL's query parameter {name.replace(_HOLE, '…')!r}")


def restored(value: JSONValue, markers: Collection[str]) -> JSONValue:
    """A record rendered with secrets' markers, each marker that a sending filter (`|urlencode`) encoded shown as
    the marker again."""
    if isinstance(value, str):
        for text in markers:
            value = value.replace(do_urlencode(text), text)
        return value
    if isinstance(value, dict):
        return {k: restored(v, markers) for k, v in value.items()}
    if isinstance(value, list):
        return [restored(v, markers) for v in value]
    return value


def conceal(sendables: tuple[Sendable, ...], name: str, value: JSONValue) -> JSONValue:
    """A node's rendered field `name` as records hold it: each sendable field in it through `record`."""
    for sendable in sendables:
        head, _, rest = sendable.pointer[1:].partition("/")
        if head == name:
            value = _replaced(value, rest.split("/") if rest else [], sendable)
    return value


def _replaced(value: JSONValue, path: list[str], sendable: Sendable) -> JSONValue:
    if not path:
        return record(sendable, value)
    key = pointer_key(path[0])
    if not isinstance(value, dict) or key not in value:
        return value
    return {**value, key: _replaced(value[key], path[1:], sendable)}


def record(sendable: Sendable, value: JSONValue) -> JSONValue:
    """A sendable field's rendered value (secrets already as markers) as records hold it: every credential that
    is not a secret's marker (written literally, or carried in from data) is replaced by `«redacted»`."""
    if sendable.shape == "url" and isinstance(value, str):
        return _url_record(value)
    if sendable.shape == "headers" and isinstance(value, dict):
        return {k: _value_record(v) if _CREDENTIAL_NAME.search(k) else v for k, v in value.items()}
    if sendable.shape == "value":
        return _value_record(value)
    return value


def _value_record(value: JSONValue) -> JSONValue:
    return value if isinstance(value, str) and _MARKER.fullmatch(_SCHEME.sub("", value).strip()) else REDACTED


def _url_record(url: str) -> str:
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return REDACTED  # no URL to tell its credentials apart in: hidden whole
    netloc = parts.netloc
    if password is not None and not _MARKER.fullmatch(password):
        userinfo, _, host = netloc.rpartition("@")
        netloc = f"{userinfo.partition(':')[0]}:{REDACTED}@{host}"
    query = "&".join(_query_record(pair) for pair in parts.query.split("&")) if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _query_record(pair: str) -> str:
    name, eq, value = pair.partition("=")
    if eq and _CREDENTIAL_NAME.search(name) and not _MARKER.fullmatch(value):
        return f"{name}={REDACTED}"
    return pair


def _skeleton(template: str) -> str:
    """The template's literal text, each template part (`{{ … }}`, `{% … %}`) replaced by one placeholder."""
    try:
        tokens = list(_LEXER.lex(template))
    except TemplateError:
        return template
    parts: list[str] = []
    for _line, kind, text in tokens:
        if kind == "data":
            parts.append(text)
        elif not parts or parts[-1] != _HOLE:
            parts.append(_HOLE)
    return "".join(parts)


def _literal(template: str) -> bool:
    """Whether a template has literal text besides its template parts."""
    return bool(_skeleton(template).replace(_HOLE, "").strip())


def _at(value: JSONValue, pointer: str) -> JSONValue:
    for part in pointer.split("/")[1:]:
        if not isinstance(value, dict):
            return None
        value = value.get(pointer_key(part))
    return value
