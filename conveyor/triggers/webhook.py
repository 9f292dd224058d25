"""The webhook trigger: `POST /hooks/{path}`, optionally signed (HMAC-SHA256, timestamped), optionally throttled."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime, timedelta
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from conveyor.triggers.base import Interval, TriggerKind, TriggerModel

_SEGMENT = re.compile(r"[A-Za-z0-9._~-]{1,100}")
_MAX_SEGMENTS = 8
SIGNATURE_PREFIX = "sha256="
# How far a signed timestamp may be from the database's clock, either way, before it is a replay.
TIMESTAMP_TOLERANCE = timedelta(minutes=5)
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class RateLimit(BaseModel):
    """At most `requests` per `per`, per trigger and per API process."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests: int = Field(ge=1, le=1_000_000)
    per: Interval


class WebhookTrigger(TriggerModel):
    """Receive HTTP POSTs at /hooks/{path}."""

    type: Literal["webhook"]
    path: str = Field(max_length=1000)
    secret: str | None = Field(default=None, min_length=8, max_length=500)
    rate_limit: RateLimit | None = None
    # Refuse deliveries without a signed X-Conveyor-Timestamp, so none can be replayed later.
    require_timestamp: bool = False

    secret_fields: ClassVar[tuple[str, ...]] = ("secret",)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not is_hook_path(value):
            raise ValueError(
                f"a hook path is 1 to {_MAX_SEGMENTS} '/'-separated segments of letters, digits and ._~- "
                "(none of them '.' or '..')"
            )
        return value

    def hook_path(self) -> str:
        """The path this trigger answers under /hooks/."""
        return self.path

    def signed(self, body: bytes, signature: str | None, timestamp: str | None = None) -> bool:
        """Whether `signature` is `sha256=<hex HMAC-SHA256>` of the body, or of `timestamp + "." + body`
        when a timestamp came, under the secret (compared in constant time); always, without a secret."""
        if self.secret is None:
            return True
        if signature is None:
            return False
        message = body if timestamp is None else timestamp.encode("utf-8", "replace") + b"." + body
        expected = SIGNATURE_PREFIX + hmac.new(self.secret.encode(), message, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected.encode(), signature.strip().encode("utf-8", "replace"))


def timestamp_problem(timestamp: str, now: datetime) -> str | None:
    """Why a delivery's timestamp (whole seconds since 1970) is refused: not a number, or too far from now."""
    if not _TIMESTAMP.fullmatch(timestamp):
        return "must be whole seconds since 1970-01-01 UTC"
    if abs(int(timestamp) - now.timestamp()) > TIMESTAMP_TOLERANCE.total_seconds():
        seconds = int(TIMESTAMP_TOLERANCE.total_seconds())
        return f"is more than {seconds} s from the server's clock: a replay, or a wrong clock"
    return None


def is_hook_path(path: str) -> bool:
    """Whether a path could name a webhook trigger: URL-safe segments a client will not normalise away."""
    segments = path.split("/")
    return len(segments) <= _MAX_SEGMENTS and all(_SEGMENT.fullmatch(s) and s not in (".", "..") for s in segments)


KIND = TriggerKind(WebhookTrigger)
