"""Check that what a definition names outside itself (workflows, email templates) exists, one query per kind."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from conveyor.definitions import WorkflowDefinition, definition_error
from conveyor.jsonvalue import JSONObject
from conveyor.store import Conn
from conveyor.store.templates import existing_template_names
from conveyor.store.workflows import existing_workflow_refs

# Per kind of reference: the set-based lookup and how a missing one is described.
_LOOKUPS: dict[str, tuple[Callable[[Conn, list[str]], Awaitable[set[str]]], str]] = {
    "workflow": (existing_workflow_refs, "shared flow {name!r} does not exist"),
    "template": (existing_template_names, "email template {name!r} does not exist"),
}


async def check_references(conn: Conn, definition: WorkflowDefinition) -> None:
    """Raise DefinitionError naming every reference to something that does not exist."""
    by_kind: dict[str, list[tuple[str, str]]] = {}
    for pointer, ref in definition.references():
        by_kind.setdefault(ref.kind, []).append((pointer, ref.name))
    errors: list[JSONObject] = []
    for kind, refs in by_kind.items():
        lookup, message = _LOOKUPS[kind]
        found = await lookup(conn, sorted({name for _, name in refs}))
        errors.extend(
            {"pointer": pointer, "value": name, "message": message.format(name=name)}
            for pointer, name in refs
            if name not in found
        )
    if errors:
        raise definition_error(sorted(errors, key=lambda e: str(e["pointer"])))
