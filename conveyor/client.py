"""A small client for conveyor's HTTP API, as the CLI uses it.

Where it connects and with which credential: CONVEYOR_URL and CONVEYOR_API_KEY (or the bootstrap
CONVEYOR_API_TOKEN), else `url` and `key` in the config file ($CONVEYOR_CONFIG, or
$XDG_CONFIG_HOME/conveyor/config.toml, ~/.config/ when XDG_CONFIG_HOME is unset).
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp

from conveyor.answers import AnswerLimits, AnswerTooLargeError, AnswerTooSlowError, read_text
from conveyor.errors import ConveyorError

DEFAULT_URL = "http://127.0.0.1:8080"
_TIMEOUT = aiohttp.ClientTimeout(total=60)


class ApiError(ConveyorError):
    """The API answered with an error."""

    code = "api_error"

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message, status=status, details=details)
        self.code = code
        self.status = status


def config_path() -> Path:
    """The config file the CLI reads its URL and key from when the environment names none."""
    named = os.environ.get("CONVEYOR_CONFIG")
    if named:
        return Path(named)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "conveyor" / "config.toml"


def _configured() -> dict[str, Any]:
    path = config_path()
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    try:
        found = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path} is not TOML: {exc}") from exc
    return {k: v for k, v in found.items() if k in ("url", "key") and isinstance(v, str)}


class ApiClient:
    """Calls the API and returns its JSON; an error answer raises ApiError with the API's code and message."""

    def __init__(self, base_url: str | None = None, token: str | None = None) -> None:
        env = os.environ
        configured = {} if base_url and token is not None else _configured()
        self.base_url = (base_url or env.get("CONVEYOR_URL") or configured.get("url") or DEFAULT_URL).rstrip("/")
        if token is None:
            token = env.get("CONVEYOR_API_KEY") or env.get("CONVEYOR_API_TOKEN") or configured.get("key")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def request(
        self, method: str, path: str, *, body: Any = None, params: Mapping[str, str] | None = None
    ) -> Any:
        """One call; the answer's JSON."""
        async with aiohttp.ClientSession(headers=self._headers, timeout=_TIMEOUT) as session:
            try:
                async with session.request(method, self.base_url + path, json=body, params=params or None) as response:
                    text = await read_text(response, AnswerLimits())
            except aiohttp.ClientError as exc:
                raise ApiError(0, "unreachable", f"cannot reach {self.base_url}: {exc}") from exc
            except (AnswerTooLargeError, AnswerTooSlowError) as exc:
                raise ApiError(0, exc.code, f"{self.base_url}: {exc.message}") from exc
        try:
            answer = json.loads(text) if text else None
        except ValueError:
            answer = None
        if response.status >= 400:
            error = answer.get("error") if isinstance(answer, dict) else None
            if isinstance(error, dict):
                raise ApiError(response.status, str(error.get("code")), str(error.get("message")), error.get("details"))
            raise ApiError(response.status, f"http_{response.status}", text[:500] or response.reason or "")
        return answer
