"""A render, however heavy within its budget, holds a thread, never the event loop the API and steps share."""

from __future__ import annotations

import asyncio

from conveyor.engine.worker import Worker
from conveyor.store import Pool
from conveyor.templating import render_value
from tests.integration.conftest import flow, run_flow, wait_until_ended

# Under half of one render's step budget: a render that keeps the GIL busy for a while.
HEAVY = "{% for i in input.xs %}{% for j in input.xs %}{{ i }}{% endfor %}{% endfor %}"
XS = list(range(200))


async def _longest_gap(started: asyncio.Event, stop: asyncio.Event) -> float:
    loop = asyncio.get_running_loop()
    longest, last = 0.0, loop.time()
    started.set()
    while not stop.is_set():
        await asyncio.sleep(0.005)
        now = loop.time()
        longest, last = max(longest, now - last), now
    return longest


async def _stall_while(work: asyncio.Future[object] | None, blocking: bool) -> float:
    started, stop = asyncio.Event(), asyncio.Event()
    gaps = asyncio.create_task(_longest_gap(started, stop))
    await started.wait()
    if blocking:
        render_value(HEAVY, {"input": {"xs": XS}})  # the counterfactual: the render on the loop itself
    elif work is not None:
        await work
    stop.set()
    return await gaps


async def test_a_heavy_render_leaves_the_event_loop_free(db: Pool, worker: Worker) -> None:
    on_the_loop = await _stall_while(None, blocking=True)
    render = {"id": "render", "type": "action", "action": "noop", "params": {"t": HEAVY}}

    async def run_heavy_and_light() -> object:  # a light execution finishes while the heavy one renders
        heavy = [await run_flow(db, flow(render), {"xs": XS})]
        light = await run_flow(db, flow({"id": "quick", "type": "action", "action": "noop"}))
        assert (await wait_until_ended(db, light.id)).state == "completed"
        assert [(await wait_until_ended(db, ex.id)).state for ex in heavy] == ["completed"]
        return None

    through_the_worker = await _stall_while(asyncio.ensure_future(run_heavy_and_light()), blocking=False)
    # Measured against the same render run on the loop, under whatever load the machine has now.
    assert through_the_worker < on_the_loop / 2, (
        f"the loop stalled {through_the_worker:.3f} s; a render on the loop stalls it {on_the_loop:.3f} s"
    )
