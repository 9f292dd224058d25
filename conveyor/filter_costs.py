"""What each filter a template may use costs, and the bound that keeps one call of it within a render's budget.

A render runs in a thread, and Python lets other threads (the event loop among them) run between bytecodes,
but not inside one call into C: a sort, a regular expression match, a string method. So a filter is allowed
only when one call of it is bounded by its input's size and that input is bounded too: every value a render
builds is at most `MAX_VALUE_CHARS` long. A filter not listed here (Jinja's `pprint`, any filter a Jinja
upgrade adds) is refused when the definition is saved, until it is classified.
"""

from __future__ import annotations

from enum import StrEnum


class Cost(StrEnum):
    """How a filter's cost is bounded."""

    LINEAR = "linear"  # one pass over its input; its output is no larger than its input and arguments
    SIZED = "sized"  # its output may outgrow its input: sized from its arguments before it runs
    CAPPED = "capped"  # more than linear (a sort, a regex over the text): its input is capped before it runs
    KILLABLE = "killable"  # no bound proven (a backtracking regex): runs only in a child process killed on time


FILTER_COSTS: dict[str, Cost] = {
    **dict.fromkeys(
        [
            "abs",
            "attr",  # a JSON key through the sandbox's lookup, nothing else
            "capitalize",
            "count",
            "d",
            "default",
            "e",
            "escape",
            "filesizeformat",
            "first",
            "float",
            "forceescape",
            "int",  # Python refuses integer texts of more than 4,300 digits
            "items",
            "last",
            "length",
            "list",
            "lower",
            "map",  # each item through a filter of this table, by name
            "max",
            "min",
            "random",
            "reject",
            "rejectattr",
            "reverse",
            "round",
            "safe",
            "select",
            "selectattr",
            "string",
            "striptags",  # str.find over the text, no regular expression (markupsafe 3)
            "sum",
            "title",
            "tojson",
            "trim",
            "truncate",
            "unique",
            "upper",
            "urlencode",
            "xmlattr",
        ],
        Cost.LINEAR,
    ),
    **dict.fromkeys(["batch", "center", "format", "indent", "join", "replace", "slice"], Cost.SIZED),
    **dict.fromkeys(["dictsort", "groupby", "sort", "wordcount"], Cost.CAPPED),
    # A quadratic match: 6,000 dots and a letter hold the GIL for a second, 24,000 for sixteen.
    "urlize": Cost.KILLABLE,
    # textwrap: 90,000 spaces and a letter take two seconds in one call, past any check between steps.
    "wordwrap": Cost.KILLABLE,
}

# The longest text a capped or killable filter takes, in characters.
TEXT_CAPS: dict[str, int] = {"urlize": 50_000, "wordcount": 200_000, "wordwrap": 100_000}
# The most items a sorting filter orders: one C call, about 15 ms at this size.
MAX_SORTED_ITEMS = 50_000
SORTING_FILTERS = frozenset({"dictsort", "groupby", "sort"})
KILLABLE_FILTERS = frozenset(name for name, cost in FILTER_COSTS.items() if cost is Cost.KILLABLE)
