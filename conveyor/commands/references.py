"""Check that what a definition names outside itself (shared flows, email templates, secrets, actions) exists, a
query a kind."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Collection

from conveyor.commands.action_checks import action_problems
from conveyor.definitions import WorkflowDefinition, definition_error
from conveyor.principal import DEFAULT_NAMESPACE
from conveyor.store import Conn
from conveyor.store.secrets import existing_secret_names
from conveyor.store.templates import existing_template_names
from conveyor.store.workflows import existing_workflow_refs

Lookup = Callable[[Conn, list[str]], Awaitable[set[str]]]


def _lookups(namespace: str) -> dict[str, tuple[Lookup, str]]:
    """Per kind of reference: the set-based lookup and how a missing one is described."""
    return {
        "workflow": (
            functools.partial(existing_workflow_refs, namespace=namespace),
            "shared flow {name!r} does not exist",
        ),
        "template": (
            functools.partial(existing_template_names, namespace=namespace),
            "email template {name!r} does not exist",
        ),
        "secret": (
            functools.partial(existing_secret_names, namespace=namespace),
            "secret {name!r} does not exist (PUT /secrets/{name} or CONVEYOR_SECRET_{name})",
        ),
    }


async def check_references(
    conn: Conn,
    definition: WorkflowDefinition,
    env_secrets: Collection[str] = frozenset(),
    namespace: str = DEFAULT_NAMESPACE,
) -> None:
    """Raise DefinitionError naming every reference to something that does not exist in the namespace (the
    environment's secrets are every namespace's).

    `env_secrets` are the secrets this process's environment gives, which no table holds.
    """
    errors, templates = await action_problems(conn, definition)
    by_kind: dict[str, list[tuple[str, str]]] = {}
    for pointer, ref in [*definition.references(), *templates]:
        if ref.kind != "action":  # checked, with its params, by action_problems
            by_kind.setdefault(ref.kind, []).append((pointer, ref.name))
    for kind, refs in by_kind.items():
        lookup, message = _lookups(namespace)[kind]
        found = await lookup(conn, sorted({name for _, name in refs}))
        if kind == "secret":
            found |= set(env_secrets)
        errors.extend(
            {"pointer": pointer, "value": name, "message": message.format(name=name)}
            for pointer, name in refs
            if name not in found
        )
    if errors:
        raise definition_error(sorted(errors, key=lambda e: str(e["pointer"])))
