"""The costly corpus's inputs, built from their generators, and a watch on how long the GIL is held."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from conveyor.jsonvalue import JSONValue


def built(spec: Any, most: int = 10**9) -> JSONValue:
    """A corpus value with its generators ({"repeat"}, {"range"}, {"texts"}, {"object"}) expanded, each to
    about `most` characters of JSON at most."""
    if isinstance(spec, dict):
        if "repeat" in spec:
            return str(spec["repeat"]) * min(int(spec["times"]), most // len(spec["repeat"])) + str(spec["then"])
        if "range" in spec:
            return list(range(min(int(spec["range"]), most // 7)))
        if "texts" in spec:
            return [f"Text{i:07d}" for i in range(min(int(spec["texts"]), most // 14))]
        if "object" in spec:
            return {f"k{i:07d}": i for i in range(min(int(spec["object"]), most // 14))}
        return {k: built(v, most) for k, v in spec.items()}
    if isinstance(spec, list):
        return [built(v, most) for v in spec]
    return spec


def longest_stall(work: Callable[[], object]) -> tuple[float, float, object]:
    """Run `work` in a thread while this one wakes every 5 ms: (longest stall, seconds taken, result or error)."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(work())
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    started = last = time.perf_counter()
    longest = 0.0
    thread.start()
    while thread.is_alive():
        time.sleep(0.005)
        now = time.perf_counter()
        longest, last = max(longest, now - last - 0.005), now
    thread.join()
    return longest, time.perf_counter() - started, outcome[0]
