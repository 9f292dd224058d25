"""Child processes that run what no bound can be proven for, killed when their time is up.

Python's regular expression engine holds the GIL for a whole match, so a quadratic match in a thread freezes
the event loop and every other thread of the process, and no budget checked between a render's steps can stop
it. A render that uses such a filter runs here instead: in a child process (a fresh interpreter, so no lock or
thread of the parent is copied; not multiprocessing's spawn either, which would run the parent's main script again),
which the parent kills once the render's time is up, then replaces on the next use. Children
are kept between renders (starting one costs an interpreter and its imports), at most `MAX_CHILDREN` at once; a
render that finds them all busy waits in its own thread, never on the event loop.
"""

from __future__ import annotations

import atexit
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

MAX_CHILDREN = 2
_START_SECONDS = 30.0  # an interpreter and its imports, on a loaded machine
_KILL_GRACE_SECONDS = 0.25  # past the render's own deadline, for its answer to cross the pipe

_IN_CHILD = False

T = TypeVar("T")


def in_child() -> bool:
    """Whether this process is a render child, where unbounded work may run because it can be killed."""
    return _IN_CHILD


def serve(fd: int) -> None:
    """A child's loop on its end of the socket: run each function sent, answer its result or its error."""
    global _IN_CHILD
    _IN_CHILD = True
    conn = Connection(fd)
    conn.send(("ready", None))
    while True:
        try:
            function, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            answer: tuple[str, Any] = ("ok", function(*args))
        except Exception as exc:  # noqa: BLE001 (handed to the parent, which raises it)
            answer = ("error", f"{type(exc).__name__}: {exc}")
        conn.send(answer)


class _Child:
    """One spawned child and the parent's end of its pipe."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        self.conn = Connection(ours.detach())
        command = [sys.executable, "-c", f"from conveyor.render_process import serve; serve({theirs.fileno()})"]
        self.process = subprocess.Popen(command, pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL)  # noqa: S603
        theirs.close()
        if not self.conn.poll(_START_SECONDS):
            self.kill()
            raise RuntimeError("a render process did not start")
        self.conn.recv()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        self.conn.close()

    def alive(self) -> bool:
        return self.process.poll() is None


class _Children:
    """The idle children, and a cap on how many exist."""

    def __init__(self) -> None:
        self._slots = threading.BoundedSemaphore(MAX_CHILDREN)
        self._idle: list[_Child] = []
        self._lock = threading.Lock()

    def run(self, function: Callable[..., T], args: tuple[Any, ...], seconds: float) -> T:
        with self._slots:
            with self._lock:
                child = self._idle.pop() if self._idle else None
            if child is None or not child.alive():
                child = _Child()
            try:
                child.conn.send((function, args))
                answered = child.conn.poll(seconds + _KILL_GRACE_SECONDS)
                answer: tuple[str, Any] = child.conn.recv() if answered else ("timeout", None)
            except (OSError, EOFError) as exc:  # the child died under the render (out of memory, killed)
                child.kill()
                raise RuntimeError("the render process died") from exc
            status, value = answer
            if status == "timeout":
                child.kill()
                raise TimeoutError(f"took longer than {seconds} s")
            with self._lock:
                self._idle.append(child)
        if status != "ok":
            raise RuntimeError(str(value))
        result: T = value
        return result

    def close(self) -> None:
        """End the idle children: at exit, so none outlives its parent or is reaped as a warning."""
        with self._lock:
            idle, self._idle = self._idle, []
        for child in idle:
            child.kill()


_CHILDREN = _Children()
atexit.register(_CHILDREN.close)


def run_killable(function: Callable[..., T], args: tuple[Any, ...], seconds: float) -> T:
    """Run a module-level function in a child process; TimeoutError (the child killed) past `seconds`."""
    return _CHILDREN.run(function, args, seconds)
