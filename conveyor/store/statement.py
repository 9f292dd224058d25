"""SQL with named parameters: `:name` in the text, bound by keyword, sent as asyncpg's `$n`."""

from __future__ import annotations

import copy
import re

from conveyor.jsonvalue import JSONValue

# `:name`, but not the second colon of a `::type` cast.
_PARAMETER = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


class Statement:
    """One statement; its parameters are named once in the text and bound by name."""

    def __init__(self, sql: str) -> None:
        self.names: tuple[str, ...] = tuple(dict.fromkeys(_PARAMETER.findall(sql)))
        position = {name: i + 1 for i, name in enumerate(self.names)}
        self.sql = _PARAMETER.sub(lambda m: f"${position[m.group(1)]}", sql)

    def args(self, **values: JSONValue) -> list[JSONValue]:
        """The positional arguments, in the statement's order; every name must be given, and no other."""
        if values.keys() != set(self.names):
            missing, extra = set(self.names) - values.keys(), values.keys() - set(self.names)
            raise TypeError(f"statement parameters: missing {sorted(missing)}, unknown {sorted(extra)}")
        return [values[name] for name in self.names]

    def spliced(self, **text: str) -> Statement:
        """This statement with trusted text (quoted identifiers, type names) put into its `{field}`s only after its
        parameters are named, so that a `:word` inside that text is never taken for a parameter."""
        spliced = copy.copy(self)
        spliced.sql = self.sql.format(**text)
        return spliced
