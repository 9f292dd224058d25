"""An operator's event written to one execution: the API's commands write every event so, and the worker a pause
asked for while a step ran, once that step has finished."""

from __future__ import annotations

import contextlib
import uuid

import structlog

from conveyor.errors import IllegalTransitionError, NotFoundError
from conveyor.jsonvalue import JSONObject
from conveyor.statemachines import CANCELLED, TERMINAL_STATES, moves
from conveyor.statemachines.operator_moves import Move, PauseRequest, plan_move
from conveyor.store import Conn, Pool, transaction
from conveyor.store.descendants import cancel_descendants
from conveyor.store.executions import Execution, get_execution
from conveyor.store.operator import OperatorChange, apply_operator_change, set_pause_requested
from conveyor.store.steps import wake_parent

log = structlog.get_logger(__name__)

_CANCEL_MOVES = moves("cancel")


async def move_execution(
    conn: Conn,
    ex: Execution,
    event: str,
    *,
    in_flight: bool,
    restart_at: str | None = None,
    by: JSONObject | None = None,
) -> None:
    """Run `event` through the machine for the locked execution and write the move, or the pause request; `by`
    is what the history rows say of who moved it (`{"by": "operator"}` when not given)."""
    plan = plan_move(event, ex.state, ex.resume_state, in_flight=in_flight, pause_requested=ex.pause_requested)
    if isinstance(plan, PauseRequest):
        await set_pause_requested(conn, ex.id, plan.requested)
    else:
        await _apply(conn, ex, plan, restart_at, by or {"by": "operator"})


async def _apply(conn: Conn, ex: Execution, move: Move, restart_at: str | None, by: JSONObject) -> None:
    change = OperatorChange(
        ex.id,
        move.state,
        move.resume_state,
        attempt=1 if move.restart else ex.attempt,
        wake=move.wake,
        transitions=move.transitions,
        detail=by if restart_at is None else by | {"from_node": restart_at},
        new_generation=move.restart,
        restart_at=restart_at,
    )
    await apply_operator_change(conn, change)
    if move.state == CANCELLED:
        detail: JSONObject = by | {"cancelled_with": str(ex.id)}
        children = await cancel_descendants(conn, [ex.id], _CANCEL_MOVES, detail)
        if children:
            log.info("descendants_cancelled", execution_id=str(ex.id), count=len(children))
    if ex.parent_id is not None and move.state in TERMINAL_STATES:
        await wake_parent(conn, ex.parent_id, ex.id)


async def pause_after_step(pool: Pool, execution_id: uuid.UUID) -> None:
    """Carry out a pause that was asked for while a step ran, now that it has finished."""
    with contextlib.suppress(NotFoundError, IllegalTransitionError):  # gone or ended: nothing to pause
        async with transaction(pool) as conn:
            ex = await get_execution(conn, execution_id, for_update=True)
            await move_execution(conn, ex, "pause", in_flight=False)
            updated = await get_execution(conn, execution_id)
        log.info("execution_operated", execution_id=str(execution_id), operation="pause", state=updated.state)
