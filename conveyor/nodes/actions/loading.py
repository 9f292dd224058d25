"""Load the team's actions into a worker: modules named in CONVEYOR_ACTIONS or `--actions`, and the
`conveyor.actions` entry points of installed packages. Importing a module runs its `@action` declarations."""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Sequence

from conveyor.errors import ActionLoadError

ENTRY_POINT_GROUP = "conveyor.actions"


def load_actions(modules: Sequence[str], *, entry_points: bool = True) -> list[str]:
    """Import every module and entry point, and name what was loaded; the first that fails raises, so a worker
    never starts with part of its actions."""
    loaded: list[str] = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # a user module may raise anything: the worker stops, naming it
            raise ActionLoadError(
                f"cannot load actions module {name!r}: {type(exc).__name__}: {exc}", field="actions", module=name
            ) from exc
        loaded.append(name)
    if entry_points:
        for point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            try:
                point.load()
            except Exception as exc:  # a user module may raise anything: the worker stops, naming it
                raise ActionLoadError(
                    f"cannot load actions entry point {point.name!r} ({point.value}): {type(exc).__name__}: {exc}",
                    field="actions",
                    entry_point=point.name,
                ) from exc
            loaded.append(point.value)
    return loaded
