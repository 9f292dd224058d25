"""`python -m bench.render_cost`: what one render costs on the hot path of a step, in microseconds (no database).

Each case renders a typical step's templated fields many times and reports the time per render, then the cost
of handing a render to the render thread from the event loop and back: CPU time of this process (other processes
on a shared machine do not count), the best of seven runs (noise only ever adds).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.templating import render_value

CONTEXT: JSONObject = {
    "input": {"email": "ann@example.com", "name": "Ann", "plan": "pro", "tags": ["a", "b", "c"], "n": 3},
    "steps": {"crm": {"output": {"id": 42, "ok": True}}},
    "execution": {"id": "e1", "workflow_id": "w1", "attempt": 1, "visit": 1},
}
CASES: dict[str, JSONValue] = {
    "a lone placeholder": "{{ input.email }}",
    "webhook params": {
        "to": "{{ input.email }}",
        "name": "{{ input.name | title }}",
        "id": "{{ steps.crm.output.id }}",
    },
    "text with a loop": "Hi {{ input.name }}, {% for t in input.tags %}{{ t | upper }} {% endfor %}({{ input.n * 2 }})",
    "filters and a sort": "{{ input.tags | sort | join(', ') }} {{ input.plan | replace('p', 'P') | center(9) }}",
    "urlize (a child)": "Hi {{ input.name }}, see {{ 'www.example.com/' ~ input.plan | urlize }}",
}
ROUNDS, RUNS = 2_000, 7


def _per_call_microseconds(call: Callable[[], object]) -> float:
    runs = []
    for _ in range(RUNS):
        started = time.process_time()
        for _ in range(ROUNDS):
            call()
        runs.append((time.process_time() - started) / ROUNDS * 1e6)
    return min(runs)


async def _handoff_microseconds() -> float:
    try:
        from conveyor.render_thread import off_loop
    except ImportError:
        return await _timed(lambda: asyncio.to_thread(render_value, "{{ input.email }}", CONTEXT))
    return await _timed(lambda: off_loop(render_value, "{{ input.email }}", CONTEXT))


async def _timed(call: Callable[[], Awaitable[JSONValue]]) -> float:
    runs = []
    for _ in range(RUNS):
        started = time.process_time()
        for _ in range(ROUNDS):
            await call()
        runs.append((time.process_time() - started) / ROUNDS * 1e6)
    return min(runs)


def main() -> None:
    """Print each case's cost per render, and the hand-off to a thread and back."""
    for name, template in CASES.items():
        render_value(template, CONTEXT)  # compiled once, as in a worker
        cost = _per_call_microseconds(lambda template=template: render_value(template, CONTEXT))  # type: ignore[misc]
        print(f"{name:22s} {cost:8.1f} µs per render")
    print(f"{'hand-off from the loop':22s} {asyncio.run(_handoff_microseconds()):8.1f} µs per render")


if __name__ == "__main__":
    main()
