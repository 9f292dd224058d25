"""The asyncio client of the HTTP API: each method one call, its answer as the API's own answer model."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncGenerator, Mapping
from types import TracebackType
from typing import Any, TypeVar

import aiohttp
from pydantic import BaseModel

from conveyor.answers import AnswerLimits, AnswerTooLargeError, AnswerTooSlowError, read_text
from conveyor.client.configured import connection
from conveyor.client.errors import ApiError, NotFoundError, api_error
from conveyor.client.stream import StreamEvent, events
from conveyor.http.resources import (
    ExecutionAnswer,
    HistoryAnswer,
    Page,
    SavedWorkflowAnswer,
    StepAnswer,
    WorkflowAnswer,
)
from conveyor.jsonvalue import JSONObject
from conveyor.statemachines.execution import TERMINAL_STATES

M = TypeVar("M", bound=BaseModel)
ExecutionId = str | uuid.UUID


class AsyncClient:
    """Calls conveyor's API at `url` with the bearer `token` (by default: CONVEYOR_URL and CONVEYOR_API_KEY, or the
    config file; see conveyor/client/configured.py).

    Use it as `async with AsyncClient() as client:`; every error answer raises an ApiError subclass that
    carries the API's `code`, `message` and `field`.
    """

    def __init__(self, url: str | None = None, *, token: str | None = None, timeout: float = 60.0) -> None:
        self.url, token = connection(url, token)
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> AsyncClient:
        """Open the client's connection pool."""
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Close the client's connections."""
        await self.close()

    async def close(self) -> None:
        """Close the client's connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(headers=self._headers, timeout=self._timeout)
        return self._session

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        seconds: float | None = None,
    ) -> Any:
        """One call to `path` (within `seconds`, else the client's timeout); the answer's JSON, or an ApiError."""
        timeout = aiohttp.ClientTimeout(total=seconds) if seconds is not None else None
        try:
            async with self._open().request(
                method, self.url + path, json=body, params=params or None, timeout=timeout
            ) as response:
                text = await read_text(response, AnswerLimits())
        except aiohttp.ClientError as exc:
            raise api_error(0, "unreachable", f"cannot reach {self.url}: {exc}") from exc
        except (AnswerTooLargeError, AnswerTooSlowError) as exc:
            raise api_error(0, exc.code, f"{self.url}: {exc.message}") from exc
        try:
            answer = json.loads(text) if text else None
        except ValueError:
            answer = None
        if response.status >= 400:
            raise _error(response.status, answer, text or response.reason or "")
        return answer

    async def _model(self, model: type[M], method: str, path: str, **kwargs: Any) -> M:
        return model.model_validate(await self.request(method, path, **kwargs))

    async def push_workflow(self, definition: JSONObject) -> SavedWorkflowAnswer:
        """Create the workflow the definition names, or store the definition as its next version."""
        name = definition.get("name")
        if not isinstance(name, str) or not name:
            raise api_error(422, "invalid_definition", "the definition has no name", {"field": "/name"})
        try:
            existing = await self.get_workflow(name)
        except NotFoundError:
            return await self._model(SavedWorkflowAnswer, "POST", "/workflows", body=definition)
        return await self._model(SavedWorkflowAnswer, "PUT", f"/workflows/{existing.id}", body=definition)

    async def get_workflow(self, workflow: str | uuid.UUID) -> WorkflowAnswer:
        """One workflow, by id or name."""
        return await self._model(WorkflowAnswer, "GET", f"/workflows/{workflow}")

    async def list_workflows(self) -> list[WorkflowAnswer]:
        """Every workflow, all pages."""
        found: list[WorkflowAnswer] = []
        cursor: str | None = None
        while True:
            params = {"limit": "1000", **({"cursor": cursor} if cursor else {})}
            page = await self._model(Page[WorkflowAnswer], "GET", "/workflows", params=params)
            found += page.items
            if not (cursor := page.next_cursor):
                return found

    async def start(
        self,
        workflow: str | uuid.UUID,
        input: JSONObject | None = None,
        *,
        dedupe_key: str | None = None,
        wait: float | None = None,
    ) -> ExecutionAnswer:
        """Start an execution of a workflow (id or name); with a `dedupe_key`, at most one per key.

        With `wait` (seconds, up to 300), the answer comes when it ends or when the wait runs out, whichever
        is first; the execution goes on either way.
        """
        body: JSONObject = {"input": input or {}}
        if dedupe_key is not None:
            body["dedupe_key"] = dedupe_key
        seconds = None
        if wait is not None:
            body["wait"] = wait
            seconds = max(self._timeout.total or 0.0, wait + 30.0)  # the answer may take the whole wait
        return await self._model(
            ExecutionAnswer, "POST", f"/workflows/{workflow}/executions", body=body, seconds=seconds
        )

    async def wait(self, execution: ExecutionId, within: float | None = None) -> ExecutionAnswer:
        """The execution once it has ended (completed, failed or cancelled), following its live events.

        Raises TimeoutError when `within` seconds pass first.
        """
        async with asyncio.timeout(within):
            found = await self.get(execution)
            while found.state not in TERMINAL_STATES:
                async for event in self.stream(execution):
                    if event.event == "state" and isinstance(event.data, dict):
                        found = ExecutionAnswer.model_validate(event.data)
                found = await self.get(execution)
            return found

    async def get(self, execution: ExecutionId) -> ExecutionAnswer:
        """One execution."""
        return await self._model(ExecutionAnswer, "GET", f"/executions/{execution}")

    async def list_executions(
        self,
        *,
        workflow: str | None = None,
        state: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[ExecutionAnswer]:
        """A page of executions, newest first; `state` may list several, comma-separated."""
        given = {"workflow": workflow, "state": state, "limit": limit, "cursor": cursor}
        params = {name: str(value) for name, value in given.items() if value is not None}
        return await self._model(Page[ExecutionAnswer], "GET", "/executions", params=params)

    async def history(self, execution: ExecutionId) -> list[HistoryAnswer]:
        """Every transition of an execution, oldest first."""
        return (await self._model(Page[HistoryAnswer], "GET", f"/executions/{execution}/history")).items

    async def steps(self, execution: ExecutionId) -> list[StepAnswer]:
        """Every step attempt of an execution, with its input, output and error."""
        return (await self._model(Page[StepAnswer], "GET", f"/executions/{execution}/steps")).items

    async def pause(self, execution: ExecutionId) -> ExecutionAnswer:
        """Pause an execution (at once, or when its running step commits); ConflictError if it cannot be."""
        return await self._model(ExecutionAnswer, "POST", f"/executions/{execution}/pause")

    async def resume(self, execution: ExecutionId) -> ExecutionAnswer:
        """Resume a paused execution, or withdraw a pending pause."""
        return await self._model(ExecutionAnswer, "POST", f"/executions/{execution}/resume")

    async def cancel(self, execution: ExecutionId) -> ExecutionAnswer:
        """Cancel an execution and its descendants; a running step is cancelled at once."""
        return await self._model(ExecutionAnswer, "POST", f"/executions/{execution}/cancel")

    async def retry(self, execution: ExecutionId, *, from_node: str | None = None) -> ExecutionAnswer:
        """Run a failed execution again from where it failed, or any ended one from `from_node`."""
        body = {"from_node": from_node} if from_node is not None else None
        return await self._model(ExecutionAnswer, "POST", f"/executions/{execution}/retry", body=body)

    async def send_event(
        self, type: str, payload: JSONObject | None = None, *, dedupe_key: str | None = None
    ) -> list[int]:
        """Send an event to the event triggers of its type; the inbox rows it became."""
        body: JSONObject = {"type": type, "payload": payload or {}}
        if dedupe_key is not None:
            body["dedupe_key"] = dedupe_key
        answer = await self.request("POST", "/events", body=body)
        return [int(i) for i in answer["ids"]]

    async def stream(self, execution: ExecutionId, *, after: str | None = None) -> AsyncGenerator[StreamEvent, None]:
        """An execution's live events: `state` first, then each `transition`, until it ends.

        `after` is a transition's id: the transitions after it are sent first (a resumed stream).
        """
        headers = {"Last-Event-ID": after} if after else {}
        url = f"{self.url}/executions/{execution}/events"
        try:
            async with self._open().get(url, headers=headers, timeout=aiohttp.ClientTimeout()) as response:
                if response.status >= 400:
                    text = await read_text(response, AnswerLimits())
                    answer = json.loads(text) if text.startswith("{") else None
                    raise _error(response.status, answer, text)
                async for event in events(response):
                    yield event
        except aiohttp.ClientError as exc:
            raise api_error(0, "unreachable", f"cannot reach {self.url}: {exc}") from exc


def _error(status: int, answer: Any, text: str) -> ApiError:
    error = answer.get("error") if isinstance(answer, dict) else None
    if isinstance(error, dict):
        return api_error(status, str(error.get("code")), str(error.get("message")), error.get("details"))
    return api_error(status, f"http_{status}", text[:500])
