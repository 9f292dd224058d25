"""The URL poll trigger: new items of a JSON list at a URL, told apart by a key.

Declared and validated here; the stage that polls is not built yet, so these triggers are stored with their
state columns but never scheduled (their `next_run_at` stays empty).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, field_validator
from yarl import URL

from conveyor.triggers.base import Interval, TriggerKind, TriggerModel

# A dotted path into the JSON answer ("" for the answer itself).
JsonPath = Annotated[str, Field(pattern=r"^(?:[A-Za-z0-9_-]{1,100}(?:\.[A-Za-z0-9_-]{1,100}){0,9})?$")]


class UrlPollTrigger(TriggerModel):
    """Turn new items of a JSON list at a URL into inbox rows."""

    type: Literal["poll"]
    url: str = Field(max_length=2000)
    items: JsonPath = ""
    key: JsonPath
    interval: Interval

    selector: ClassVar[str | None] = "url"

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        try:
            target = URL(value)
        except ValueError as exc:
            raise ValueError(f"invalid URL {value[:100]!r}") from exc
        if target.scheme not in ("http", "https") or not target.host:
            raise ValueError("the URL must be http(s) with a host")
        return value


KIND = TriggerKind(UrlPollTrigger)
