"""A DNS resolver under the test's control: fixed answers, or answers that change between calls."""

from __future__ import annotations

import socket
from collections.abc import Sequence

from aiohttp.abc import AbstractResolver, ResolveResult


class FixedResolver(AbstractResolver):
    """Answers each name with its next list of addresses (the last one repeats); unknown names fail."""

    def __init__(self, answers: dict[str, Sequence[Sequence[str]]]) -> None:
        self._answers = {name: list(rounds) for name, rounds in answers.items()}
        self.calls: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The next answer for `host`."""
        self.calls.append(host)
        rounds = self._answers.get(host)
        if not rounds:
            raise OSError(f"no answer for {host}")
        addresses = rounds.pop(0) if len(rounds) > 1 else rounds[0]
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in addresses
        ]

    async def close(self) -> None:
        """Nothing to release."""
