"""Corpora: data files under tests/corpora/ that a reviewer extends without touching the tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

CORPORA = Path(__file__).parent / "corpora"


def corpus(name: str, section: str, key: str) -> list[Any]:
    """The entries of one section of a corpus, as pytest params named by each entry's `key`."""
    entries = json.loads((CORPORA / name).read_text(encoding="utf-8"))[section]
    return [pytest.param(entry, id=str(entry[key])) for entry in entries]
