"""The history checker: after a run, prove from the database alone that every execution walked the machine.

Jepsen-style: nothing the workers say is trusted, only what they left behind. Each execution's history,
in the order it was written, must be a connected walk that the execution machine itself accepts, event by
event, from the initial state to the state the row holds; a terminal execution has reached exactly one
terminal state since its last restart and is settled; no step attempt is stored twice; no node's side
effects carry more idempotency keys than the node had visits.
"""

from __future__ import annotations

import enum
import uuid
from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field

from conveyor.errors import IllegalTransitionError
from conveyor.statemachines import (
    INITIAL_STATE,
    PAUSED,
    RESTART_EVENTS,
    TERMINAL_STATES,
    ExecutionModel,
    apply_events,
)
from conveyor.store import Pool, connection
from conveyor.store.audit import Walk, doubled_steps, read_walks, surplus_keys

_BATCH = 1_000


class Rule(enum.StrEnum):
    """What a violation broke."""

    BROKEN_WALK = "broken_walk"  # a transition leaves a state the previous one did not reach
    ILLEGAL_TRANSITION = "illegal_transition"  # the machine refuses the event, or moves elsewhere
    STATE_NOT_IN_HISTORY = "state_not_in_history"  # the row's state is not where its history ends
    TERMINAL_COUNT = "terminal_count"  # a terminal execution reached a terminal state more than once per run
    TERMINAL_UNSETTLED = "terminal_unsettled"  # ended but still leased or without finished_at, or the reverse
    DOUBLED_STEP = "doubled_step"  # one (node, visit, attempt) committed twice
    SURPLUS_KEYS = "surplus_keys"  # more idempotency keys than visits for a node's side effects
    DOUBLED_KEY = "doubled_key"  # one step's side effect arrived at a peer under two different keys


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule, with enough detail to find the rows."""

    rule: Rule
    execution_id: uuid.UUID | None
    detail: str


@dataclass(slots=True)
class Report:
    """What the checker read and what it found."""

    executions: int = 0
    transitions: int = 0
    violations: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No violation."""
        return not self.violations

    def summary(self) -> str:
        """One line for a log or a failed assertion."""
        head = f"{self.executions} executions, {self.transitions} transitions, {len(self.violations)} violations"
        return "; ".join([head, *(f"{v.rule} {v.execution_id}: {v.detail}" for v in self.violations[:20])])


def check_walk(walk: Walk) -> list[Violation]:
    """The violations of one execution's history against the machine and against its row."""
    model = ExecutionModel(INITIAL_STATE)
    terminal_entries = 0
    for history_id, recorded in zip(walk.history_ids, walk.transitions, strict=True):
        if recorded.source != model.state:
            return [_violation(Rule.BROKEN_WALK, walk, f"#{history_id} {recorded} after reaching {model.state}")]
        try:
            moved = apply_events(model, recorded.event)
        except IllegalTransitionError as exc:
            return [_violation(Rule.ILLEGAL_TRANSITION, walk, f"#{history_id} {recorded}: {exc.message}")]
        if moved != [recorded]:
            return [_violation(Rule.ILLEGAL_TRANSITION, walk, f"#{history_id} {recorded}: the machine made {moved}")]
        if recorded.event in RESTART_EVENTS:
            terminal_entries = 0
        elif recorded.target in TERMINAL_STATES:
            terminal_entries += 1
    return _check_end(walk, model, terminal_entries)


def _check_end(walk: Walk, model: ExecutionModel, terminal_entries: int) -> list[Violation]:
    if model.state != walk.state or (walk.state == PAUSED and model.resume_state != walk.resume_state):
        where = f"{model.state} (resume {model.resume_state})"
        return [_violation(Rule.STATE_NOT_IN_HISTORY, walk, f"row {walk.state}, history ends at {where}")]
    terminal = walk.state in TERMINAL_STATES
    violations = []
    if terminal and terminal_entries != 1:
        violations.append(_violation(Rule.TERMINAL_COUNT, walk, f"{terminal_entries} terminal transitions"))
    if terminal != walk.finished or (terminal and walk.leased):
        detail = f"{walk.state}, finished {walk.finished}, leased {walk.leased}"
        violations.append(_violation(Rule.TERMINAL_UNSETTLED, walk, detail))
    return violations


def _violation(rule: Rule, walk: Walk, detail: str) -> Violation:
    return Violation(rule, walk.execution_id, detail)


def doubled_keys(deliveries: Iterable[tuple[Hashable, str | None]]) -> list[Violation]:
    """Steps whose side effect reached a peer under more than one idempotency key; (step, key) per request."""
    keys: defaultdict[Hashable, set[str | None]] = defaultdict(set)
    for step, key in deliveries:
        keys[step].add(key)
    return [
        Violation(Rule.DOUBLED_KEY, None, f"step {step}: keys {sorted(map(str, seen))}")
        for step, seen in keys.items()
        if len(seen) > 1
    ]


async def check_history(pool: Pool) -> Report:
    """Read every execution, its history, steps and side-effect logs; report each broken rule."""
    report = Report()
    after: uuid.UUID | None = None
    while True:
        async with connection(pool) as conn:
            walks = await read_walks(conn, after, _BATCH)
        for walk in walks:
            report.executions += 1
            report.transitions += len(walk.transitions)
            report.violations.extend(check_walk(walk))
        if len(walks) < _BATCH:
            break
        after = walks[-1].execution_id
    async with connection(pool) as conn:
        doubled = await doubled_steps(conn, RESTART_EVENTS)
        surplus = await surplus_keys(conn)
    report.violations.extend(
        Violation(
            Rule.DOUBLED_STEP,
            d.execution_id,
            f"{d.node} visit {d.visit} attempt {d.attempt}: {d.commits} commits, {d.restarts} restarts",
        )
        for d in doubled
    )
    report.violations.extend(
        Violation(Rule.SURPLUS_KEYS, s.execution_id, f"{s.table} {s.node}: {s.keys} keys, {s.visits} visits")
        for s in surplus
    )
    return report
