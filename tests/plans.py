"""Reading EXPLAIN (FORMAT JSON) plans in tests."""

from __future__ import annotations

from conveyor.jsonvalue import JSONValue


def index_names_in_page_order(plan: JSONValue) -> set[str]:
    """The indexes a plan reads; fail when it sorts, since a page must be read in index order."""
    found: set[str] = set()
    stack = [plan]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "Index Name" in node:
                found.add(str(node["Index Name"]))
            assert node.get("Node Type") != "Sort", "a page must be read in index order, not sorted"
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found
