"""Check a definition's action nodes against the published registry, as the web process knows it: the action
exists, the params written literally meet its params schema (every version live workers provide), and a
template its params name exists. Templated params are checked after rendering, by the step itself."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass

from jsonschema import Draft202012Validator
from jsonschema import ValidationError as SchemaError

from conveyor.definitions import Reference, WorkflowDefinition
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.nodes.action import ActionNode
from conveyor.nodes.actions import BUILTINS
from conveyor.store import Conn
from conveyor.store.actions import action_versions
from conveyor.store.secrets import existing_secret_names
from conveyor.templating import is_templated

# A worker silent this long no longer defines which versions of an action count (two default leases).
LIVE_SECONDS = 60.0
_MAX_ERRORS_PER_NODE = 20


@dataclass(frozen=True, slots=True)
class _Version:
    version: str
    params_schema: JSONObject
    template_param: str | None


async def action_problems(
    conn: Conn, definition: WorkflowDefinition
) -> tuple[list[JSONObject], list[tuple[str, Reference]]]:
    """The problems of each action node, and the stored templates their params name (to check as references)."""
    nodes = [(i, node) for i, node in enumerate(definition.nodes) if isinstance(node, ActionNode)]
    if not nodes:
        return [], []
    versions = await _versions(conn, sorted({node.action for _, node in nodes}))
    errors: list[JSONObject] = []
    templates: list[tuple[str, Reference]] = []
    for i, node in nodes:
        pointer = f"/nodes/{i}"
        known = versions.get(node.action)
        if not known:
            errors.append(
                {
                    "pointer": f"{pointer}/action",
                    "value": node.action,
                    "message": f"unknown action {node.action!r}: no worker has published it (GET /actions lists "
                    "the actions; a worker publishes those it loads when it starts)",
                }
            )
            continue
        errors.extend(_params_errors(pointer, node, known))
        for param in {v.template_param for v in known if v.template_param}:
            name = node.params.get(param)
            if isinstance(name, str) and not is_templated(name):
                templates.append((f"{pointer}/params/{param}", Reference("template", f"/params/{param}", name)))
    return errors, templates


@dataclass(frozen=True, slots=True)
class MissingSecret:
    """A secret an action node's action declares that does not exist: saved, but its steps fail until it does."""

    pointer: str
    action: str
    secret: str

    @property
    def message(self) -> str:
        """What the warning at save says."""
        return (
            f"action {self.action!r} needs the secret {self.secret!r}, which does not exist yet: its steps fail "
            f"until it does (PUT /secrets/{self.secret} or CONVEYOR_SECRET_{self.secret})"
        )


async def missing_secrets(
    conn: Conn, definition: WorkflowDefinition, env_secrets: Collection[str], namespace: str
) -> list[MissingSecret]:
    """The secrets the definition's actions declare (as live workers published them) that do not exist."""
    nodes = [(i, node) for i, node in enumerate(definition.nodes) if isinstance(node, ActionNode)]
    keys = sorted({node.action for _, node in nodes})
    declared: dict[str, set[str]] = {}
    if keys:
        for published in await action_versions(conn, LIVE_SECONDS, keys=keys):
            declared.setdefault(published.key, set()).update(published.secrets)
    wanted = sorted(set().union(*declared.values())) if declared else []
    found = (await existing_secret_names(conn, wanted, namespace) if wanted else set()) | set(env_secrets)
    return [
        MissingSecret(f"/nodes/{i}/action", node.action, secret)
        for i, node in nodes
        for secret in sorted(declared.get(node.action, set()) - found)
    ]


async def _versions(conn: Conn, keys: Sequence[str]) -> dict[str, list[_Version]]:
    found: dict[str, list[_Version]] = {}
    for spec in BUILTINS:
        if spec.key in keys:
            found[spec.key] = [_Version(spec.version, spec.params_schema(), spec.template_param)]
    wanted = [key for key in keys if key not in found]
    if wanted:
        for published in await action_versions(conn, LIVE_SECONDS, keys=wanted):
            version = _Version(published.version, published.params_schema, published.template_param)
            found.setdefault(published.key, []).append(version)
    return found


def _params_errors(pointer: str, node: ActionNode, versions: list[_Version]) -> Iterator[JSONObject]:
    seen: set[tuple[str, str]] = set()
    for version in versions:
        validator = Draft202012Validator(version.params_schema)
        for error in list(validator.iter_errors(node.params))[:_MAX_ERRORS_PER_NODE]:
            path = [*error.absolute_path, *_missing(error)]
            if _templated_along(node.params, path):
                continue  # its value is known only once rendered: the step checks it then
            at = f"{pointer}/params" + "".join(f"/{part}" for part in path)
            message = error.message if len(versions) == 1 else f"{error.message} (version {version.version})"
            if (at, error.message) not in seen:
                seen.add((at, error.message))
                yield {"pointer": at, "value": _value_at(node.params, path), "message": message}


def _missing(error: SchemaError) -> list[str]:
    """A missing required property's name, so the pointer names the field, not its parent."""
    if error.validator != "required" or not isinstance(error.instance, dict):
        return []
    names = error.validator_value if isinstance(error.validator_value, list) else []
    return [next((str(n) for n in names if n not in error.instance), "")][:1]


_ABSENT = object()


def _child(value: JSONValue, part: str | int) -> JSONValue:
    """The value under `part` of an object or a list, or _ABSENT."""
    if isinstance(value, dict):
        return value.get(str(part), _ABSENT)
    if isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
        return value[part]
    return _ABSENT


def _templated_along(params: JSONValue, path: list[str | int]) -> bool:
    value = params
    for part in path:
        if isinstance(value, str) and is_templated(value):
            return True
        value = _child(value, part)
    return isinstance(value, str) and is_templated(value)


def _value_at(params: JSONValue, path: list[str | int]) -> JSONValue:
    value = params
    for part in path:
        value = _child(value, part)
    return value if isinstance(value, str | int | float | bool) else None
