"""The one place `Any` is allowed: values that came from or go to JSON."""

from typing import Any, TypeAlias

JSONValue: TypeAlias = Any
JSONObject: TypeAlias = dict[str, JSONValue]


def pointer_segment(key: str) -> str:
    """A key as one segment of a JSON pointer (RFC 6901): `~` and `/` escaped."""
    return key.replace("~", "~0").replace("/", "~1")


def pointer_key(segment: str) -> str:
    """The key one segment of a JSON pointer names."""
    return segment.replace("~1", "/").replace("~0", "~")
