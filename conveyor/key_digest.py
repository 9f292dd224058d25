"""API keys: 256 random bits shown once; the database keeps only an HMAC-SHA256 of each under CONVEYOR_KEY_SECRET.

A slow hash buys nothing for random 256-bit keys (no guess list to try); the keyed hash means a copy of the
table alone cannot even check a guess, since the HMAC key lives in the processes' environment, not the database.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from conveyor.errors import ConflictError

# Keys are recognisable in logs, configs and secret scanners by this prefix.
KEY_PREFIX = "cvk_"


class KeySecretMissingError(ConflictError):
    """CONVEYOR_KEY_SECRET is not set: API keys can be neither made nor checked."""

    code = "key_secret_missing"


def new_key() -> str:
    """A new API key: the prefix and 32 random bytes, URL-safe base64."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_digest(secret: str | None, key: str) -> bytes:
    """The keyed hash the keys table stores for `key`."""
    if not secret:
        raise KeySecretMissingError()
    return hmac.new(secret.encode(), key.encode(), hashlib.sha256).digest()
