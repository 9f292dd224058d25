"""Each kind of pydantic error is worded for a person: what is wrong and what is allowed, never pydantic's phrasing."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Literal

import pytest
from pydantic import AnyUrl, AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from conveyor.validation_messages import problems

_INTERNALS = ("Value error", "Input tag", "Input should", "input_value", "type=", "For further information", "Field")


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n: int = 0


class Everything(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(default="x", min_length=1, max_length=5, pattern=r"^[a-z]+$")
    count: int = Field(default=1, ge=1, le=10)
    ratio: float = Field(default=0.5, gt=0, lt=1)
    flag: bool = False
    kind: Literal["a", "b"] = "a"
    items: list[int] = Field(default=[1], min_length=1, max_length=2)
    inner: Inner = Inner()
    when: AwareDatetime | None = None
    plain_when: datetime | None = None
    every: timedelta | None = None
    ident: uuid.UUID | None = None
    url: AnyUrl | None = None
    checked: str = "ok"

    @field_validator("checked")
    @classmethod
    def _checked(cls, value: str) -> str:
        if value != "ok":
            raise ValueError("must be 'ok', as the docs say")
        return value


@pytest.mark.parametrize(
    ("body", "pointer", "says"),
    [
        ({"text": ""}, "/text", "at least 1"),
        ({"text": "abcdef"}, "/text", "at most 5"),
        ({"text": "ABC"}, "/text", "pattern"),
        ({"text": 5}, "/text", "string"),
        ({"count": 0}, "/count", "at least 1"),
        ({"count": 11}, "/count", "at most 10"),
        ({"count": "many"}, "/count", "whole number"),
        ({"count": 1.5}, "/count", "whole number"),
        ({"ratio": 0}, "/ratio", "greater than 0"),
        ({"ratio": "half"}, "/ratio", "number"),
        ({"flag": "perhaps"}, "/flag", "true or false"),
        ({"kind": "c"}, "/kind", "'a' or 'b'"),
        ({"items": []}, "/items", "at least 1"),
        ({"items": [1, 2, 3]}, "/items", "at most 2"),
        ({"items": "1"}, "/items", "list"),
        ({"items": ["x"]}, "/items/0", "whole number"),
        ({"inner": 5}, "/inner", "object"),
        ({"inner": {"m": 1}}, "/inner/m", "the fields here are n"),
        ({"extra": 1}, "/extra", "the fields here are text"),
        ({"when": "2026-06-01T12:00:00"}, "/when", "offset"),
        ({"plain_when": "yesterday"}, "/plain_when", "ISO 8601"),
        ({"every": "a while"}, "/every", "duration"),
        ({"ident": "nope"}, "/ident", "UUID"),
        ({"url": "not a url"}, "/url", "URL"),
        ({"checked": "no"}, "/checked", "as the docs say"),
    ],
)
def test_an_error_names_its_place_and_what_is_allowed(body: dict[str, object], pointer: str, says: str) -> None:
    with pytest.raises(PydanticValidationError) as caught:
        Everything.model_validate(body)
    [first, *_] = problems(caught.value, lambda loc: "/" + "/".join(str(p) for p in loc), Everything)
    assert first["pointer"] == pointer
    message = str(first["message"])
    assert says in message, message
    assert not any(phrase in message for phrase in _INTERNALS), message


def test_a_hidden_fields_value_is_never_echoed() -> None:
    with pytest.raises(PydanticValidationError) as caught:
        Everything.model_validate({"text": "TOO-SECRET"})
    [error] = problems(caught.value, lambda loc: "/" + "/".join(map(str, loc)), hidden=("text",))
    assert error["value"] is None
