"""Reading the body of an HTTP answer a worker asked for, within a size cap and a time budget.

A peer decides how much it sends and how slowly: the body is streamed and the read stops at the cap (the bytes
are counted after aiohttp decompresses them, so a compressed bomb stops there too), never buffered whole and
checked afterwards; and the read ends when its budget runs out, however slowly the bytes trickle in, whatever
the caller's own timeout.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp

from conveyor.errors import ConveyorError

_CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class AnswerLimits:
    """How much of an answer's body a worker reads, and for how long."""

    # CONVEYOR_MAX_ANSWER: the most bytes of one answer's body.
    max_bytes: int = 10 * 1024 * 1024
    # CONVEYOR_ANSWER_SECONDS: the longest a body may take to arrive, once its headers have.
    read_seconds: float = 30.0


class AnswerTooLargeError(ConveyorError):
    """The answer's body is larger than CONVEYOR_MAX_ANSWER allows."""

    code = "answer_too_large"


class AnswerTooSlowError(ConveyorError):
    """The answer's body took longer to arrive than CONVEYOR_ANSWER_SECONDS allows."""

    code = "answer_too_slow"


async def read_answer(response: aiohttp.ClientResponse, limits: AnswerLimits) -> bytes:
    """The whole body, or AnswerTooLargeError at the first byte past the cap, or AnswerTooSlowError when the
    budget runs out first."""
    declared = response.content_length
    if declared is not None and declared > limits.max_bytes:
        raise _too_large(limits, f"it declares {declared} bytes")
    body = bytearray()
    try:
        async with asyncio.timeout(limits.read_seconds):
            while chunk := await response.content.read(_CHUNK_BYTES):
                body += chunk
                if len(body) > limits.max_bytes:
                    raise _too_large(limits, "more arrived")
    except TimeoutError as exc:
        raise AnswerTooSlowError(
            f"the answer's body took longer than CONVEYOR_ANSWER_SECONDS ({limits.read_seconds:g} s) to arrive;"
            f" {len(body)} bytes had come",
            setting="CONVEYOR_ANSWER_SECONDS",
            limit_seconds=limits.read_seconds,
        ) from exc
    return bytes(body)


async def read_text(response: aiohttp.ClientResponse, limits: AnswerLimits) -> str:
    """The body as `read_answer` reads it, decoded by its declared charset (UTF-8 when none or unknown)."""
    raw = await read_answer(response, limits)
    try:
        return raw.decode(response.charset or "utf-8", errors="replace")
    except LookupError:
        return raw.decode("utf-8", errors="replace")


def _too_large(limits: AnswerLimits, how: str) -> AnswerTooLargeError:
    return AnswerTooLargeError(
        f"the answer's body is larger than CONVEYOR_MAX_ANSWER ({limits.max_bytes} bytes): {how}",
        setting="CONVEYOR_MAX_ANSWER",
        limit_bytes=limits.max_bytes,
    )
