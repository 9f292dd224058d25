"""The Python client of conveyor's HTTP API: `Client` (blocking) and `AsyncClient` (asyncio), typed answers,
and errors that carry the API's code and offending field."""

from conveyor.client.asynchronous import AsyncClient
from conveyor.client.errors import (
    ApiError,
    ConflictError,
    InvalidError,
    NotFoundError,
    TooManyRequestsError,
    UnauthorizedError,
    UnavailableError,
)
from conveyor.client.stream import StreamEvent
from conveyor.client.synchronous import Client

__all__ = [
    "ApiError",
    "AsyncClient",
    "Client",
    "ConflictError",
    "InvalidError",
    "NotFoundError",
    "StreamEvent",
    "TooManyRequestsError",
    "UnauthorizedError",
    "UnavailableError",
]
