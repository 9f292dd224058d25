"""The one thread that renders templates and evaluates rules and keys, off the event loop.

Python runs one thread at a time (the GIL). A render busy in a thread gives the GIL back to the event loop within
the switch interval (5 ms) each time the loop asks, but the loop asks again after every I/O it waits on, and with
several busy render threads it queues behind each of them: with the costly corpus on six threads, `/health`
(five database round trips) answered in 300 ms at p99. On one thread the loop has one competitor, and nothing is
lost: the GIL runs one render at a time whatever the number of threads.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="render")


async def off_loop(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a render, a rule or a key evaluation on the render thread, and wait for it without blocking the loop."""
    return await asyncio.get_running_loop().run_in_executor(_THREAD, functools.partial(function, *args, **kwargs))
