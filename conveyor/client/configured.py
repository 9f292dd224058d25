"""Where a client connects and with which credential: its arguments, else the environment (CONVEYOR_URL,
CONVEYOR_API_KEY, or the bootstrap CONVEYOR_API_TOKEN), else `url` and `key` in the config file ($CONVEYOR_CONFIG,
or $XDG_CONFIG_HOME/conveyor/config.toml, ~/.config/ when XDG_CONFIG_HOME is unset)."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from conveyor.config import DEFAULT_URL, client_setting


def config_path() -> Path:
    """The config file a client reads its URL and key from when the environment names none."""
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


def connection(url: str | None, token: str | None) -> tuple[str, str | None]:
    """The API's URL and the bearer credential to present (None: none)."""
    from_file = {} if url and token is not None else _configured()
    found_url = url or client_setting("api_url", defaulted=False) or from_file.get("url") or DEFAULT_URL
    if token is None:
        token = client_setting("api_key") or client_setting("api_token") or from_file.get("key")
    return found_url.rstrip("/"), token
