"""/state-machine: the execution lifecycle as data, so clients derive what is allowed instead of retyping it."""

from __future__ import annotations

from aiohttp import web

from conveyor.http.operation import operation
from conveyor.http.resources import StateMachineAnswer, TransitionOfMachine
from conveyor.http.shapes import respond
from conveyor.statemachines import INITIAL_STATE, OPERATOR_EVENTS, OPERATOR_VERBS, STATES, TERMINAL_STATES
from conveyor.statemachines.chart import transitions

routes = web.RouteTableDef()


@routes.get("/state-machine")
@operation(StateMachineAnswer, database=False)
async def get_state_machine(request: web.Request) -> web.Response:
    """States, events and every transition (event, from, to) of the execution machine."""
    moves = transitions()
    return respond(
        StateMachineAnswer(
            states=list(STATES),
            initial=INITIAL_STATE,
            terminal=sorted(TERMINAL_STATES),
            events=list(dict.fromkeys(m.event for m in moves)),
            operator_events=list(OPERATOR_EVENTS),
            operator_verbs=list(OPERATOR_VERBS),
            transitions=[TransitionOfMachine(event=m.event, from_state=m.source, to_state=m.target) for m in moves],
        )
    )
