"""A render, however heavy within its budget, holds a thread, never the event loop the API and steps share."""

from __future__ import annotations

import asyncio

from conveyor.engine.worker import Worker
from conveyor.store import Pool
from tests.integration.conftest import flow, run_flow, wait_until_ended

# About as many loop steps as one render's budget allows: a render that keeps the GIL busy for a while.
HEAVY = "{% for i in input.xs %}{% for j in input.xs %}{{ i }}{% endfor %}{% endfor %}"
XS = list(range(150))


async def _longest_gap(stop: asyncio.Event) -> float:
    loop = asyncio.get_running_loop()
    longest, last = 0.0, loop.time()
    while not stop.is_set():
        await asyncio.sleep(0.005)
        now = loop.time()
        longest, last = max(longest, now - last), now
    return longest


async def test_a_heavy_render_leaves_the_event_loop_free(db: Pool, worker: Worker) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    gaps = asyncio.create_task(_longest_gap(stop))
    started = loop.time()
    render = {"id": "render", "type": "action", "action": "noop", "params": {"t": HEAVY}}
    heavy = [await run_flow(db, flow(render), {"xs": XS}) for _ in range(4)]
    light = await run_flow(db, flow({"id": "quick", "type": "action", "action": "noop"}))
    assert (await wait_until_ended(db, light.id)).state == "completed"
    ended = [await wait_until_ended(db, ex.id) for ex in heavy]
    elapsed = loop.time() - started
    stop.set()
    longest = await gaps
    assert [ex.state for ex in ended] == ["completed"] * 4
    assert elapsed > 0.2, "the render was too light to prove anything"
    # Without the thread, the loop would stand still for each whole render.
    assert longest < elapsed / 3, f"the loop stalled {longest:.3f} s of {elapsed:.3f} s"
