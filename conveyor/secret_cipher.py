"""Secrets at rest: Fernet (AES-128-CBC with HMAC-SHA256) under CONVEYOR_SECRET_KEY."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from conveyor.errors import ConflictError, ConveyorError


class SecretKeyMissingError(ConflictError):
    """CONVEYOR_SECRET_KEY is not set: secrets cannot be stored in the database or read from it."""

    code = "secret_key_missing"


class SecretKeyInvalidError(ConveyorError):
    """CONVEYOR_SECRET_KEY must be a Fernet key: 32 bytes, URL-safe base64 (44 characters)."""

    code = "secret_key_invalid"


class SecretUnreadableError(ConveyorError):
    """A stored secret does not decrypt under CONVEYOR_SECRET_KEY (another key wrote it, or it was altered)."""

    code = "secret_unreadable"


def generate_key() -> str:
    """A new random key for CONVEYOR_SECRET_KEY."""
    return Fernet.generate_key().decode()


class SecretCipher:
    """Encrypts values for the secrets table and decrypts them, authenticated, with one key."""

    def __init__(self, key: str) -> None:
        try:
            self._fernet = Fernet(key.encode())
        except ValueError as exc:
            raise SecretKeyInvalidError() from exc

    def encrypt(self, name: str, value: str) -> bytes:
        """The stored form of a value; the name is inside, so a row cannot be moved under another name."""
        return self._fernet.encrypt(f"{name}\x00{value}".encode())

    def decrypt(self, name: str, token: bytes) -> str:
        """The value a stored token holds for this name."""
        try:
            stored_name, _, value = self._fernet.decrypt(token).decode().partition("\x00")
        except InvalidToken as exc:
            raise SecretUnreadableError(f"secret {name!r} does not decrypt under CONVEYOR_SECRET_KEY") from exc
        if stored_name != name:
            raise SecretUnreadableError(f"secret {name!r} holds a value stored under another name")
        return value
