"""A workflow's declared input: a JSON Schema (`input_schema` in its definition) that a start through the API is
checked against, and that the dashboard builds its start form from."""

from __future__ import annotations

import functools
import json

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from conveyor.errors import ValidationError
from conveyor.jsonvalue import JSONObject

_MAX_SCHEMA_CHARS = 100_000


def schema_problem(schema: JSONObject) -> str | None:
    """Why `schema` is not a usable JSON Schema (draft 2020-12) for an input object, or None when it is."""
    if len(json.dumps(schema)) > _MAX_SCHEMA_CHARS:
        return f"is longer than {_MAX_SCHEMA_CHARS} characters of JSON"
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return f"is not a valid JSON Schema: {exc.message}"
    if schema.get("type", "object") != "object":
        return "must describe an object (the input is always one): give type 'object'"
    return None


@functools.lru_cache(maxsize=256)
def _validator(text: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(text))


def check_input(schema: JSONObject, input_: JSONObject) -> None:
    """Raise a 422 naming the first field of `input_` that `schema` refuses (`/input/...`)."""
    validator = _validator(json.dumps(schema, sort_keys=True))
    error = next(iter(sorted(validator.iter_errors(input_), key=lambda e: list(map(str, e.absolute_path)))), None)
    if error is None:
        return
    path = [str(p) for p in error.absolute_path]
    if error.validator == "required" and isinstance(error.validator_value, list):
        path += [next((str(n) for n in error.validator_value if n not in (error.instance or {})), "")]
    field = "/input" + "".join(f"/{p}" for p in path)
    raise ValidationError(f"input does not match the workflow's input_schema at {field}: {error.message}", field=field)
