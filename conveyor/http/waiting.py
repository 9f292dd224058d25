"""What an execution is waiting for, for its API answer (see conveyor/wording.py); not the cap on waiting
requests (conveyor/http/waits.py)."""

from __future__ import annotations

from conveyor.definitions import NodeModel
from conveyor.errors import DefinitionError
from conveyor.nodes.kinds import load_definition
from conveyor.nodes.wait_for_event import WaitForEventNode
from conveyor.statemachines import DELAYED, RETRYING
from conveyor.store import Conn
from conveyor.store.claims import SlotWait
from conveyor.store.executions import Execution
from conveyor.store.resting import find_rest
from conveyor.store.workflows import get_definition
from conveyor.wording import Waiting, event_wait, resting, retry_wait, slot_wait, worker_wait


async def waiting_of(conn: Conn, execution: Execution, slot: SlotWait | None) -> Waiting | None:
    """What the execution waits for now, or None when it is running or has ended."""
    if slot is not None:
        return slot_wait(slot.key, slot.limit)
    if execution.waiting_for_worker and execution.action is not None:
        return worker_wait(execution.action)
    if execution.state not in (DELAYED, RETRYING):
        return None
    rest = await find_rest(conn, execution.id)
    if execution.state == RETRYING:
        return retry_wait(execution.current_node, rest.detail, execution.wake_at)
    if rest.wait_node is not None:
        node = await _node(conn, execution, rest.wait_node)
        if isinstance(node, WaitForEventNode):
            events = rest.event_types or list(node.events)
            return event_wait(node.id, events, node.match, rest.deadline, node.on_event, node.on_timeout)
    return resting(rest.node, rest.detail, execution.wake_at)


async def _node(conn: Conn, execution: Execution, node_id: str) -> NodeModel | None:
    """The node of the execution's version, or None when today's kinds no longer read that version."""
    try:
        definition = load_definition(await get_definition(conn, execution.workflow_id, execution.workflow_version))
    except DefinitionError:
        return None
    return definition.nodes_by_id.get(node_id)
