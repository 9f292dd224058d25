"""The webhook trigger: requests to /hooks/{path}, signed or carrying a token, optionally throttled or answered."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from conveyor.jsonvalue import JSONObject
from conveyor.triggers.base import Interval, TriggerKind, TriggerModel

_SEGMENT = re.compile(r"[A-Za-z0-9._~-]{1,100}")
_MAX_SEGMENTS = 8
_HEADER_NAME = r"^[A-Za-z0-9-]{1,100}$"
# How far a signed timestamp may be from the database's clock, either way, before it is a replay.
DEFAULT_TOLERANCE = timedelta(minutes=5)
MAX_TOLERANCE = timedelta(hours=1)
MAX_WAIT = timedelta(minutes=5)

Method = Literal["POST", "PUT", "GET"]


def _at_most(limit: timedelta) -> Callable[[timedelta], timedelta]:
    def check(value: timedelta) -> timedelta:
        if value > limit:
            raise ValueError(f"must be at most {int(limit.total_seconds())}s")
        return value

    return check


Tolerance = Annotated[Interval, AfterValidator(_at_most(MAX_TOLERANCE))]
Wait = Annotated[Interval, AfterValidator(_at_most(MAX_WAIT))]


class RateLimit(BaseModel):
    """At most `requests` per `per`, per trigger and per API process."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests: int = Field(ge=1, le=1_000_000)
    per: Interval


class WebhookTrigger(TriggerModel):
    """Receive HTTP requests at /hooks/{path}."""

    type: Literal["webhook"]
    path: str = Field(max_length=1000)
    # The methods this hook answers; a GET's query parameters are its payload.
    methods: list[Method] = Field(default=["POST"], min_length=1, max_length=3)
    # Signed deliveries (see hook_signature.py): the HMAC key, its scheme, and how old a signed timestamp may be.
    secret: str | None = Field(default=None, min_length=8, max_length=500)
    signature: Literal["v1", "legacy"] = "v1"
    tolerance: Tolerance = DEFAULT_TOLERANCE
    # Legacy signatures only: refuse deliveries without a signed X-Conveyor-Timestamp (v1 always signs one).
    require_timestamp: bool = False
    # For senders that cannot sign: a shared token the request carries in `token_header`.
    token: str | None = Field(default=None, min_length=16, max_length=500)
    token_header: str = Field(default="X-Conveyor-Token", pattern=_HEADER_NAME)
    # Answer with the execution's output when it ends within this time (else 202 with its id).
    wait: Wait | None = None
    rate_limit: RateLimit | None = None

    secret_fields: ClassVar[tuple[str, ...]] = ("secret", "token")

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not is_hook_path(value):
            raise ValueError(
                f"a hook path is 1 to {_MAX_SEGMENTS} '/'-separated segments of letters, digits and ._~- "
                "(none of them '.' or '..')"
            )
        return value

    @field_validator("methods")
    @classmethod
    def _methods(cls, value: list[Method]) -> list[Method]:
        if len(set(value)) != len(value):
            raise ValueError("lists a method twice")
        return value

    def content_errors(self) -> list[JSONObject]:
        """Problems the fields alone cannot show: a hook proved two ways at once."""
        errors = super().content_errors()
        if self.secret is not None and self.token is not None:
            errors.append(
                {
                    "pointer": "/token",
                    "message": "a hook is proved by a signature (secret) or by a token, not both: drop one",
                    "value": None,
                }
            )
        return errors

    def stored(self, definition: JSONObject) -> JSONObject:
        """With a secret, the signature scheme written out: triggers stored without one predate v1 (legacy)."""
        if self.secret is None or "signature" in definition:
            return definition
        return {**definition, "signature": self.signature}

    def hook_path(self) -> str:
        """The path this trigger answers under /hooks/."""
        return self.path

    def token_matches(self, sent: str | None) -> bool:
        """Whether the request carries this hook's token (compared in constant time); always, without one."""
        if self.token is None:
            return True
        # digests of both, so that not even the token's length shows in the time taken
        given = hashlib.sha256((sent or "").strip().encode("utf-8", "replace")).digest()
        return sent is not None and hmac.compare_digest(hashlib.sha256(self.token.encode()).digest(), given)


def is_hook_path(path: str) -> bool:
    """Whether a path could name a webhook trigger: URL-safe segments a client will not normalise away."""
    segments = path.split("/")
    return len(segments) <= _MAX_SEGMENTS and all(_SEGMENT.fullmatch(s) and s not in (".", "..") for s in segments)


KIND = TriggerKind(WebhookTrigger)
