"""conveyor: a durable workflow runtime on PostgreSQL.

What the team's own code imports to write actions (`action`, `ActionContext`, `NonRetryableError`, `RetryAfter`)
and to call the API (`Client`, `AsyncClient`, `ApiError`).
They load on first use, so that `conveyor worker` starts without importing what it does not run.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conveyor.client import ApiError, AsyncClient, Client
    from conveyor.errors import NonRetryableError, RetryAfter
    from conveyor.nodes.actions.context import ActionContext
    from conveyor.nodes.actions.registry import action

_PUBLIC = {
    "ApiError": "conveyor.client",
    "AsyncClient": "conveyor.client",
    "Client": "conveyor.client",
    "action": "conveyor.nodes.actions.registry",
    "ActionContext": "conveyor.nodes.actions.context",
    "NonRetryableError": "conveyor.errors",
    "RetryAfter": "conveyor.errors",
}
__all__ = ["ActionContext", "ApiError", "AsyncClient", "Client", "NonRetryableError", "RetryAfter", "action"]


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'conveyor' has no attribute {name!r}")
    return getattr(importlib.import_module(_PUBLIC[name]), name)
