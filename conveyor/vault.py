"""Named secrets: from CONVEYOR_SECRET_<NAME> variables or the encrypted secrets table, never shown back.

The environment wins: a name it gives cannot be written or deleted through the API. Every value a
process reads is also handed to the redaction of its logs and answers.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import structlog

from conveyor.config import Settings
from conveyor.errors import ConflictError, DatabaseUnavailableError, NotFoundError, PermanentStepError, ValidationError
from conveyor.redaction import KNOWN
from conveyor.secret_cipher import SecretCipher, SecretKeyMissingError, SecretUnreadableError
from conveyor.secret_references import SECRET_NAME
from conveyor.store import Pool, connection
from conveyor.store.secrets import delete_secret, fetch_secrets, put_secret, secret_names

log = structlog.get_logger(__name__)

MIN_VALUE_CHARS = 8  # shorter values would be redacted out of ordinary text
MAX_VALUE_CHARS = 10_000
_NAME_RULE = "a secret name is a letter or '_', then up to 99 letters, digits or '_'"


class SecretNotFoundError(PermanentStepError):
    """A secret the step's templates name does not exist."""

    code = "secret_not_found"


class SecretUnavailableError(PermanentStepError):
    """A secret the step's templates name cannot be read (the key is missing or wrong)."""

    code = "secret_unavailable"


@dataclass(frozen=True, slots=True)
class SecretEntry:
    """What the API tells about a secret: never its value."""

    name: str
    source: Literal["env", "table"]
    updated_at: datetime | None


def check_name(name: str) -> str:
    """The name, if it can name a secret in a template."""
    if not SECRET_NAME.fullmatch(name):
        raise ValidationError(_NAME_RULE, field="name", value=name[:200])
    return name


class Vault:
    """Reads, writes and lists secrets; values go in and to templates, never out."""

    def __init__(self, pool: Pool, settings: Settings) -> None:
        self._pool = pool
        self._env = dict(settings.env_secrets)
        self._credentials = settings.credentials()
        self._cipher = SecretCipher(settings.secret_key) if settings.secret_key else None

    @property
    def environment_names(self) -> frozenset[str]:
        """The names the environment gives."""
        return frozenset(self._env)

    async def values(self, names: Collection[str], namespace: str) -> dict[str, str]:
        """The values of these secrets (the environment's, or the namespace's stored ones), for a step's render;
        a missing or unreadable one fails the step."""
        found = {name: self._env[name] for name in names if name in self._env}
        wanted = sorted(set(names) - found.keys())
        if wanted:
            async with connection(self._pool) as conn:
                stored = await fetch_secrets(conn, wanted, namespace)
            for row in stored:
                found[row.name] = self._decrypt(row.name, row.ciphertext)
            missing = sorted(set(wanted) - found.keys())
            if missing:
                raise SecretNotFoundError(f"secret {missing[0]!r} does not exist", field="secrets", names=missing)
        KNOWN.add(found)
        return found

    def _decrypt(self, name: str, ciphertext: bytes) -> str:
        if self._cipher is None:
            raise SecretUnavailableError(f"secret {name!r} is stored encrypted, but CONVEYOR_SECRET_KEY is not set")
        try:
            return self._cipher.decrypt(name, ciphertext)
        except SecretUnreadableError as exc:
            raise SecretUnavailableError(exc.message) from exc

    async def put(self, name: str, value: str, namespace: str) -> tuple[SecretEntry, bool]:
        """Store a namespace's value encrypted; True when the secret is new."""
        check_name(name)
        if name in self._env:
            raise ConflictError(f"secret {name!r} is given by the environment; change it there", field="name")
        if self._cipher is None:
            raise SecretKeyMissingError(
                "CONVEYOR_SECRET_KEY is not set, so secrets cannot be stored; set it to a Fernet key (python -c "
                "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'), or give the "
                "secret as CONVEYOR_SECRET_<NAME>",
                field="CONVEYOR_SECRET_KEY",
            )
        if not MIN_VALUE_CHARS <= len(value) <= MAX_VALUE_CHARS:
            raise ValidationError(
                f"a secret's value has {MIN_VALUE_CHARS} to {MAX_VALUE_CHARS} characters", field="value"
            )
        KNOWN.add({name: value})
        async with connection(self._pool) as conn:
            updated_at, created = await put_secret(conn, namespace, name, self._cipher.encrypt(name, value))
        log.info("secret_stored", secret=name, namespace=namespace, created=created)
        return SecretEntry(name, "table", updated_at), created

    async def delete(self, name: str, namespace: str) -> None:
        """Delete a namespace's stored secret (its value stays redacted in this process's logs)."""
        check_name(name)
        if name in self._env:
            raise ConflictError(f"secret {name!r} is given by the environment; unset it there", field="name")
        async with connection(self._pool) as conn:
            if not await delete_secret(conn, namespace, name):
                raise NotFoundError(f"secret {name!r} does not exist", field="name", value=name)
        log.info("secret_deleted", secret=name, namespace=namespace)

    async def entries(self, namespace: str) -> list[SecretEntry]:
        """Every secret's name, source and last write (the environment's, and the namespace's), in name order."""
        async with connection(self._pool) as conn:
            stored = await secret_names(conn, namespace)
        entries = [SecretEntry(n, "env", None) for n in self._env]
        entries += [SecretEntry(n, "table", at) for n, at in stored if n not in self._env]
        return sorted(entries, key=lambda e: e.name)

    async def learn_all(self) -> None:
        """Hand every value this process can read to the redaction of its logs and answers."""
        KNOWN.add(self._credentials)
        KNOWN.add(self._env)
        if self._cipher is None:
            return
        try:
            async with connection(self._pool) as conn:
                stored = await fetch_secrets(conn)
        except DatabaseUnavailableError as exc:
            # Not fatal: each value is learned again as it is stored or read for a step.
            log.warning("secrets_not_learned", error=exc.message)
            return
        for row in stored:
            try:
                KNOWN.add({row.name: self._cipher.decrypt(row.name, row.ciphertext)})
            except SecretUnreadableError as exc:
                log.warning("secret_unreadable", secret=row.name, error=exc.message)
