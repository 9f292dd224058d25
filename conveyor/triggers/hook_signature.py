"""How a webhook sender proves a delivery: one HMAC-SHA256 over its timestamp, its delivery id and its body.

The scheme (`"signature": "v1"`, the default) is one header,

    X-Conveyor-Signature: t=<whole seconds since 1970>,v1=<lower-case hex HMAC-SHA256>

where the HMAC, keyed with the trigger's secret, covers the bytes `<t> "\n" <delivery> "\n" <body>`:
`delivery` is the X-Conveyor-Delivery header as sent (empty when there is none) and `body` the raw body (for
a GET, the raw query string). A header cannot hold a newline, so no delivery id and body can be shifted into
each other. Several `v1=` may be sent (a sender rotating its secret signs with both); one must match. A
timestamp further than the trigger's tolerance from the database's clock is refused, and the signed delivery
id (without one, the signature itself) is remembered until the timestamp is stale, so a signed delivery is
taken at most once: sent again it is a duplicate, sent with another id its signature fails.

The legacy scheme (`"signature": "legacy"`) is the one triggers were saved with before: `sha256=<hex>` over
the body, or over `<X-Conveyor-Timestamp> "." <body>`; it covers no delivery id, so it can be replayed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from conveyor.errors import SignatureError

SIGNATURE_HEADER = "X-Conveyor-Signature"
TIMESTAMP_HEADER = "X-Conveyor-Timestamp"
DELIVERY_HEADER = "X-Conveyor-Delivery"
LEGACY_PREFIX = "sha256="
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_DIGEST = re.compile(r"[0-9a-f]{64}")
_MAX_DIGESTS = 5
_FORM = (
    f"{SIGNATURE_HEADER} must be t=<unix seconds>,v1=<hex HMAC-SHA256 of t, a newline, the {DELIVERY_HEADER} "
    "header (or nothing), a newline and the body>"
)


@dataclass(frozen=True, slots=True)
class Proof:
    """A delivery whose signature held: the key it is remembered by, and until when a replay of it could pass."""

    key: str
    until: datetime


def sign(secret: str, timestamp: str, delivery: str, body: bytes) -> str:
    """The hex HMAC-SHA256 a v1 signature carries."""
    message = f"{timestamp}\n{delivery}\n".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(secret: str, header: str | None, delivery: str, body: bytes, now: datetime, tolerance: timedelta) -> Proof:
    """The proof of a v1-signed delivery, or a SignatureError naming the header at fault."""
    if header is None:
        raise SignatureError(f"this hook needs a signed delivery: {_FORM}", field=SIGNATURE_HEADER)
    timestamp, digests = _parse(header)
    expected = sign(secret, timestamp, delivery, body).encode()
    # every candidate is compared, so the time taken does not tell which one came close
    matched = [hmac.compare_digest(expected, d.encode()) for d in digests]
    if not any(matched):
        raise SignatureError(f"{SIGNATURE_HEADER} does not match: {_FORM}", field=SIGNATURE_HEADER)
    signed_at = _fresh(timestamp, now, tolerance, SIGNATURE_HEADER)
    return Proof(key=delivery or f"sha256:{expected.decode()}", until=signed_at + tolerance)


def _parse(header: str) -> tuple[str, list[str]]:
    timestamps: list[str] = []
    digests: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            timestamps.append(value)
        elif name == "v1":
            digests.append(value)
    if len(timestamps) != 1 or not _TIMESTAMP.fullmatch(timestamps[0]):
        raise SignatureError(f"{SIGNATURE_HEADER} needs one t=<whole seconds since 1970>", field=SIGNATURE_HEADER)
    if not 1 <= len(digests) <= _MAX_DIGESTS or not all(_DIGEST.fullmatch(d) for d in digests):
        raise SignatureError(
            f"{SIGNATURE_HEADER} needs 1 to {_MAX_DIGESTS} v1=<64 lower-case hex digits>", field=SIGNATURE_HEADER
        )
    return timestamps[0], digests


def _fresh(timestamp: str, now: datetime, tolerance: timedelta, field: str) -> datetime:
    """The signed instant, if it is within the tolerance of now (compared as numbers: 12 digits overflow a date)."""
    if abs(int(timestamp) - now.timestamp()) > tolerance.total_seconds():
        seconds = int(tolerance.total_seconds())
        raise SignatureError(
            f"the signed timestamp is more than {seconds} s from the server's clock: a replay, or a wrong clock",
            field=field,
        )
    return datetime.fromtimestamp(int(timestamp), UTC)


def verify_legacy(
    secret: str,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    now: datetime,
    tolerance: timedelta,
    *,
    require_timestamp: bool,
) -> None:
    """Check a legacy signature (`sha256=` over the body, or over the timestamp and the body)."""
    if timestamp is None and require_timestamp:
        raise SignatureError(f"this hook needs a signed {TIMESTAMP_HEADER} header", field=TIMESTAMP_HEADER)
    message = body if timestamp is None else timestamp.encode("utf-8", "replace") + b"." + body
    expected = LEGACY_PREFIX + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    sent = (signature or "").strip().encode("utf-8", "replace")
    if signature is None or not hmac.compare_digest(expected.encode(), sent):
        signed = "the body" if timestamp is None else f"{TIMESTAMP_HEADER} + '.' + the body"
        raise SignatureError(f"{SIGNATURE_HEADER} must be sha256=<hex HMAC-SHA256 of {signed}>", field=SIGNATURE_HEADER)
    if timestamp is None:
        return
    if not _TIMESTAMP.fullmatch(timestamp):
        raise SignatureError(f"{TIMESTAMP_HEADER} must be whole seconds since 1970-01-01 UTC", field=TIMESTAMP_HEADER)
    _fresh(timestamp, now, tolerance, TIMESTAMP_HEADER)
