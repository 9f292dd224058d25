"""Groups of child executions (a parallel node's branches, a foreach node's items): started in one statement,
counted, released one by one, and the parent woken when it has something to decide.

A group is named by a key, the prefix of its children's dedupe keys (`<group>:<n>`, n from 1), so a re-run of the
step that starts it starts nothing twice. A foreach's items past its concurrency are inserted not due (`wake_at`
NULL, `item_index` set); each item that ends releases the next in item order in its own commit, so at most
`concurrency` items of a group are ever unended and released. The parent waits as a row: woken by each branch
that ends, by an item that does not complete, and by the last item.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.statemachines import COMPLETED, INITIAL_STATE, TERMINAL_STATES
from conveyor.store import Conn
from conveyor.store.channels import WAKE_CHANNEL
from conveyor.store.executions import Execution
from conveyor.store.statement import Statement
from conveyor.store.steps import lock_parent, wake_parent

_ENDED = sorted(TERMINAL_STATES)


@dataclass(frozen=True, slots=True)
class ChildGroup:
    """Children to start under one key: each from its start node with its input, at most `running` due at once."""

    group: str
    workflow_id: uuid.UUID
    workflow_version: int
    starts: Sequence[str]
    inputs: Sequence[JSONValue]
    running: int
    context: JSONObject
    stop_node: str | None = None
    items: bool = False


_SPAWN = Statement(f"""
WITH inserted AS (
    INSERT INTO executions (id, workflow_id, workflow_version, state, current_node, visit, attempt, input, context,
                            wake_at, parent_id, parent_node, dedupe_key, stop_node, item_index, priority,
                            namespace)
    SELECT gen_random_uuid(), :workflow_id, :workflow_version, :state, (:starts::text[])[c.n], 1, 1, c.input,
           :context::jsonb, CASE WHEN c.n <= :running THEN now() END, :parent_id, :parent_node,
           :group::text || ':' || c.n, :stop_node, CASE WHEN :items::bool THEN c.n::int END, p.priority,
           p.namespace
    FROM jsonb_array_elements(:inputs::jsonb) WITH ORDINALITY AS c(input, n)
    JOIN executions p ON p.id = :parent_id  -- a branch or an item takes its parent's priority and namespace
    ON CONFLICT (parent_id, dedupe_key) WHERE parent_id IS NOT NULL DO NOTHING
    RETURNING 1
)
SELECT count(*) AS n, pg_notify('{WAKE_CHANNEL}', '') FROM inserted
""")


async def spawn_group(conn: Conn, parent_id: uuid.UUID, parent_node: str, group: ChildGroup) -> int:
    """Start the group's children in one statement (none twice); how many were new."""
    row = await conn.fetchrow(
        _SPAWN.sql,
        *_SPAWN.args(
            workflow_id=group.workflow_id,
            workflow_version=group.workflow_version,
            state=INITIAL_STATE,
            starts=list(group.starts),
            context=group.context,
            running=group.running,
            parent_id=parent_id,
            parent_node=parent_node,
            group=group.group,
            stop_node=group.stop_node,
            items=group.items,
            inputs=list(group.inputs),
        ),
    )
    return int(row["n"]) if row else 0


@dataclass(frozen=True, slots=True)
class ChildEnd:
    """One child of a group as it stands: its place (from 1), its state, and what it left."""

    n: int
    id: uuid.UUID
    state: str
    output: JSONValue
    error: JSONValue

    @property
    def ended(self) -> bool:
        """Whether it has ended, one way or another."""
        return self.state in TERMINAL_STATES


_IN_GROUP = "parent_id = :parent_id AND parent_node = :parent_node AND starts_with(dedupe_key, :group::text || ':')"
_CHILDREN = Statement(f"""
SELECT split_part(dedupe_key, ':', -1)::int AS n, id, state, output, error FROM executions
WHERE {_IN_GROUP} ORDER BY n
""")


async def group_children(conn: Conn, parent_id: uuid.UUID, parent_node: str, group: str) -> list[ChildEnd]:
    """Every child of a small group (a parallel node's branches), in order."""
    rows = await conn.fetch(_CHILDREN.sql, *_CHILDREN.args(parent_id=parent_id, parent_node=parent_node, group=group))
    return [ChildEnd(r["n"], r["id"], r["state"], r["output"], r["error"]) for r in rows]


@dataclass(frozen=True, slots=True)
class Tally:
    """A large group counted: its children, those ended, those completed, and the first that ended otherwise."""

    total: int
    ended: int
    completed: int
    first_failure: JSONValue = None


_TALLY = Statement(f"""
SELECT count(*) AS total, count(*) FILTER (WHERE state = ANY(:ended::text[])) AS ended,
       count(*) FILTER (WHERE state = :completed) AS completed,
       (array_agg(jsonb_build_object('item', item_index - 1, 'state', state, 'error', error) ORDER BY item_index)
            FILTER (WHERE state = ANY(:ended::text[]) AND state <> :completed))[1] AS first_failure
FROM executions WHERE {_IN_GROUP}
""")


async def group_tally(conn: Conn, parent_id: uuid.UUID, parent_node: str, group: str) -> Tally:
    """Count a group's children by how they stand, in one statement."""
    row = await conn.fetchrow(
        _TALLY.sql,
        *_TALLY.args(ended=_ENDED, completed=COMPLETED, parent_id=parent_id, parent_node=parent_node, group=group),
    )
    assert row is not None
    return Tally(row["total"], row["ended"], row["completed"], row["first_failure"])


_OUTPUTS = Statement(f"""
SELECT coalesce(jsonb_agg(CASE WHEN state = :completed THEN output END ORDER BY item_index), '[]'::jsonb)
FROM executions WHERE {_IN_GROUP}
""")


async def group_outputs(conn: Conn, parent_id: uuid.UUID, parent_node: str, group: str) -> list[JSONValue]:
    """The items' outputs in item order (null for an item that did not complete), built by the database."""
    args = _OUTPUTS.args(completed=COMPLETED, parent_id=parent_id, parent_node=parent_node, group=group)
    outputs: list[JSONValue] = await conn.fetchval(_OUTPUTS.sql, *args)
    return outputs


_RELEASE = Statement(f"""
WITH next AS (
    SELECT id FROM executions
    WHERE parent_id = :parent_id AND item_index IS NOT NULL AND wake_at IS NULL AND state = :idle
    ORDER BY item_index
    LIMIT :count
    FOR UPDATE SKIP LOCKED
), released AS (
    UPDATE executions e SET wake_at = now(), updated_at = now() FROM next WHERE e.id = next.id RETURNING e.id
)
SELECT count(*) AS n, pg_notify('{WAKE_CHANNEL}', '') FROM released
""")


async def release_items(conn: Conn, parent_id: uuid.UUID, count: int) -> int:
    """Make the next `count` waiting items of the parent due, in item order; how many there were."""
    if count <= 0:
        return 0
    row = await conn.fetchrow(_RELEASE.sql, *_RELEASE.args(parent_id=parent_id, idle=INITIAL_STATE, count=count))
    return int(row["n"]) if row else 0


_RUNNING_ITEMS = Statement(f"""
SELECT count(*) FROM executions
WHERE {_IN_GROUP} AND NOT state = ANY(:ended::text[]) AND (wake_at IS NOT NULL OR state <> :idle)
""")


async def top_up(conn: Conn, parent_id: uuid.UUID, parent_node: str, group: str, concurrency: int) -> int:
    """Release waiting items until `concurrency` are unended: after a sibling ended without releasing one (an
    operator cancelled it). An item ending meanwhile releases one as it ends: the two cancel out in the count."""
    args = _RUNNING_ITEMS.args(
        parent_id=parent_id, parent_node=parent_node, group=group, ended=_ENDED, idle=INITIAL_STATE
    )
    running = int(await conn.fetchval(_RUNNING_ITEMS.sql, *args) or 0)
    return await release_items(conn, parent_id, concurrency - running)


_UNENDED_SIBLING = Statement("""
SELECT EXISTS (
    SELECT 1 FROM executions
    WHERE parent_id = :parent_id AND item_index IS NOT NULL AND id <> :id AND NOT state = ANY(:ended::text[]))
""")


async def group_child_ended(conn: Conn, child: Execution, state: str) -> None:
    """In the commit that ends a child of a group: release the next item, and wake the parent when it has
    something to decide (a branch ended; an item did not complete; the last item ended).

    An item that releases the next keeps the count of unended items as it was (one ends, one starts), so it needs
    no lock: a parent topping up counts it either way and its release skips the row the item holds. The last
    items lock the parent's row before they look for an unended sibling: two ending at once must not both see the
    other unended (the second counts after the first commits)."""
    assert child.parent_id is not None
    if child.item_index is not None and state == COMPLETED:
        if await release_items(conn, child.parent_id, 1):
            return  # a sibling runs on: the parent has nothing to decide yet
        await lock_parent(conn, child.parent_id)
        args = _UNENDED_SIBLING.args(parent_id=child.parent_id, id=child.id, ended=_ENDED)
        if await conn.fetchval(_UNENDED_SIBLING.sql, *args):
            return
    # A branch ended, an item did not complete (the parent cancels the rest, or releases the next itself), or
    # the last item ended.
    await wake_parent(conn, child.parent_id, child.id)


async def lock_and_count(conn: Conn, parent_id: uuid.UUID, parent_node: str, group: str) -> int:
    """In the commit of a parent that waits on: lock its row, then count the group's ended children; a child that
    ends after the lock waits for the commit and then wakes it."""
    await lock_parent(conn, parent_id)
    return (await group_tally(conn, parent_id, parent_node, group)).ended
