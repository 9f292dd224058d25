"""Who may do what: four roles, each allowed all that the one below it is, and more."""

from __future__ import annotations

import enum


class Role(enum.IntEnum):
    """A key's or a signed-in user's role; a route declares the least role it needs."""

    VIEWER = 1  # reads
    OPERATOR = 2  # also starts, pauses, resumes, cancels and retries executions, and sends events
    EDITOR = 3  # also changes workflows, triggers and templates
    ADMIN = 4  # also manages secrets and API keys, and reads the audit trail

    @property
    def label(self) -> str:
        """The role's name as the API and the CLI spell it."""
        return self.name.lower()

    @classmethod
    def named(cls, label: str) -> Role:
        """The role of this name; ValueError naming the known ones otherwise."""
        for role in cls:
            if role.label == label:
                return role
        raise ValueError(f"no role {label[:50]!r}; known: {', '.join(ROLE_LABELS)}")


ROLE_LABELS = tuple(role.label for role in Role)
