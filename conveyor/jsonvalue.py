"""The one place `Any` is allowed: values that came from or go to JSON."""

from typing import Any, TypeAlias

JSONValue: TypeAlias = Any
JSONObject: TypeAlias = dict[str, JSONValue]
