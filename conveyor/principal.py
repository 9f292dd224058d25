"""Who a request acts as: the role and namespace it was given, and the name the audit trail records it by."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from conveyor.roles import Role

DEFAULT_NAMESPACE = "default"
# A namespace's name: what a key, a claim or a header may name (and what the database stores).
NAMESPACE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


@dataclass(frozen=True, slots=True)
class Principal:
    """A caller: `actor` is "key:<id>", "jwt:<subject>", "token" (CONVEYOR_API_TOKEN) or "anonymous"."""

    actor: str
    role: Role
    namespace: str
    key_id: uuid.UUID | None = None
    # The bootstrap token (and anyone, on an unguarded API) may make keys for any namespace.
    spans_namespaces: bool = False


ANONYMOUS = Principal("anonymous", Role.ADMIN, DEFAULT_NAMESPACE, spans_namespaces=True)
"""Who calls an API that no CONVEYOR_API_TOKEN guards: anyone, as an admin of the default namespace."""


def is_namespace(name: str) -> bool:
    """Whether `name` may name a namespace: lower-case letters, digits, `_`, `.`, `-`; 1 to 63 characters."""
    return NAMESPACE_PATTERN.fullmatch(name) is not None and name.isascii()
