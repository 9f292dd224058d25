"""The webhook trigger: `POST /hooks/{path}`, optionally signed with HMAC-SHA256, optionally rate limited."""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from conveyor.triggers.base import Interval, TriggerKind, TriggerModel

_SEGMENT = re.compile(r"[A-Za-z0-9._~-]{1,100}")
_MAX_SEGMENTS = 8
SIGNATURE_PREFIX = "sha256="


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

    def signed(self, body: bytes, signature: str | None) -> bool:
        """Whether `signature` is `sha256=<hex HMAC-SHA256 of body>` under the secret; always, without one."""
        if self.secret is None:
            return True
        if signature is None:
            return False
        expected = SIGNATURE_PREFIX + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected.encode(), signature.strip().encode("utf-8", "replace"))


def is_hook_path(path: str) -> bool:
    """Whether a path could name a webhook trigger: URL-safe segments a client will not normalise away."""
    segments = path.split("/")
    return len(segments) <= _MAX_SEGMENTS and all(_SEGMENT.fullmatch(s) and s not in (".", "..") for s in segments)


KIND = TriggerKind(WebhookTrigger)
