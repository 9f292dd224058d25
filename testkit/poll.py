"""Wait on a fact, not on time: poll a check until it holds, within a deadline."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast, overload

T = TypeVar("T")

DEFAULT_TIMEOUT_SECONDS = 20.0
DEFAULT_INTERVAL_SECONDS = 0.05


@overload
async def poll_until(
    check: Callable[[], Awaitable[T]],
    what: str,
    timeout_seconds: float = ...,
    interval_seconds: float = ...,
) -> T: ...


@overload
async def poll_until(
    check: Callable[[], T],
    what: str,
    timeout_seconds: float = ...,
    interval_seconds: float = ...,
) -> T: ...


async def poll_until(
    check: Callable[[], T | Awaitable[T]],
    what: str,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
) -> T:
    """Call `check` (plain or async) until it returns something truthy, and return that.

    Raise `TimeoutError` naming `what` once `timeout_seconds` pass; an exception from `check` ends the wait.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_seconds
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return cast(T, result)
        if loop.time() >= deadline:
            raise TimeoutError(f"timed out after {timeout_seconds:g} s waiting for {what}")
        await asyncio.sleep(interval_seconds)
