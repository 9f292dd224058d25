"""The blocking client: the asyncio client's methods, each run to its end on the client's own event loop."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine, Iterator
from types import TracebackType
from typing import Any, TypeVar

from conveyor.client.asynchronous import AsyncClient, ExecutionId
from conveyor.client.stream import StreamEvent
from conveyor.http.resources import (
    ExecutionAnswer,
    HistoryAnswer,
    Page,
    SavedWorkflowAnswer,
    StepAnswer,
    WorkflowAnswer,
)
from conveyor.jsonvalue import JSONObject

T = TypeVar("T")


class Client:
    """Calls conveyor's API at `url` with the bearer `token` (defaults as AsyncClient's), blocking.

    Use it as `with Client() as client:` from code that runs no event loop (in a coroutine, use AsyncClient).
    Its methods are AsyncClient's, with the same arguments, answers and errors.
    """

    def __init__(self, url: str | None = None, *, token: str | None = None, timeout: float = 60.0) -> None:
        self._loop = asyncio.new_event_loop()
        self._client = AsyncClient(url, token=token, timeout=timeout)
        self.url = self._client.url

    def __enter__(self) -> Client:
        """The client, open."""
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        """Close the client's connections and its event loop."""
        self.close()

    def close(self) -> None:
        """Close the client's connections and its event loop."""
        if not self._loop.is_closed():
            self._loop.run_until_complete(self._client.close())
            self._loop.close()

    def _run(self, call: Coroutine[Any, Any, T]) -> T:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return self._loop.run_until_complete(call)
        call.close()
        raise RuntimeError("Client blocks, and this code runs an event loop: use AsyncClient here")

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
        seconds: float | None = None,
    ) -> Any:
        """One call to `path` (within `seconds`, else the client's timeout); the answer's JSON, or an ApiError."""
        return self._run(self._client.request(method, path, body=body, params=params, seconds=seconds))

    def push_workflow(self, definition: JSONObject) -> SavedWorkflowAnswer:
        """Create the workflow the definition names, or store the definition as its next version."""
        return self._run(self._client.push_workflow(definition))

    def get_workflow(self, workflow: str | uuid.UUID) -> WorkflowAnswer:
        """One workflow, by id or name."""
        return self._run(self._client.get_workflow(workflow))

    def list_workflows(self) -> list[WorkflowAnswer]:
        """Every workflow, all pages."""
        return self._run(self._client.list_workflows())

    def start(
        self,
        workflow: str | uuid.UUID,
        input: JSONObject | None = None,
        *,
        dedupe_key: str | None = None,
        wait: float | None = None,
    ) -> ExecutionAnswer:
        """Start an execution of a workflow (id or name); see AsyncClient.start."""
        return self._run(self._client.start(workflow, input, dedupe_key=dedupe_key, wait=wait))

    def wait(self, execution: ExecutionId, within: float | None = None) -> ExecutionAnswer:
        """The execution once it has ended; TimeoutError when `within` seconds pass first."""
        return self._run(self._client.wait(execution, within))

    def get(self, execution: ExecutionId) -> ExecutionAnswer:
        """One execution."""
        return self._run(self._client.get(execution))

    def list_executions(
        self,
        *,
        workflow: str | None = None,
        state: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[ExecutionAnswer]:
        """A page of executions, newest first."""
        return self._run(self._client.list_executions(workflow=workflow, state=state, limit=limit, cursor=cursor))

    def history(self, execution: ExecutionId) -> list[HistoryAnswer]:
        """Every transition of an execution, oldest first."""
        return self._run(self._client.history(execution))

    def steps(self, execution: ExecutionId) -> list[StepAnswer]:
        """Every step attempt of an execution."""
        return self._run(self._client.steps(execution))

    def pause(self, execution: ExecutionId) -> ExecutionAnswer:
        """Pause an execution; ConflictError if it cannot be."""
        return self._run(self._client.pause(execution))

    def resume(self, execution: ExecutionId) -> ExecutionAnswer:
        """Resume a paused execution, or withdraw a pending pause."""
        return self._run(self._client.resume(execution))

    def cancel(self, execution: ExecutionId) -> ExecutionAnswer:
        """Cancel an execution and its descendants."""
        return self._run(self._client.cancel(execution))

    def retry(self, execution: ExecutionId, *, from_node: str | None = None) -> ExecutionAnswer:
        """Run an execution again from where it failed, or from `from_node`."""
        return self._run(self._client.retry(execution, from_node=from_node))

    def send_event(self, type: str, payload: JSONObject | None = None, *, dedupe_key: str | None = None) -> list[int]:
        """Send an event to the event triggers of its type; the inbox rows it became."""
        return self._run(self._client.send_event(type, payload, dedupe_key=dedupe_key))

    def stream(self, execution: ExecutionId, *, after: str | None = None) -> Iterator[StreamEvent]:
        """An execution's live events, `state` first, then each `transition`, until it ends."""
        events = self._client.stream(execution, after=after)
        try:
            while True:
                try:
                    yield self._run(events.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            self._run(events.aclose())
