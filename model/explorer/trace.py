"""Counterexamples rebuilt by re-execution: no state is kept in memory for them.

Theory of operation. Each visited state stores only its parent's global id and the position of the
step among its parent's successors (``Partition.step_of``); an initial state stores its rank among
``model.init_states()``. To rebuild the path to a state the explorer follows parents back to an initial
state, then re-executes forward: take that initial state, call ``model.successors`` and pick the stored
position, again and again. Because successors are a pure function of the state (a rule of ``spec.py``),
the re-execution yields exactly the states the search saw (the concrete ones, even under symmetry
reduction). The rebuilt path is checked against the finding; a mismatch means the model's
``successors`` is not deterministic, which is reported as the model's fault.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zkfle.errors import InternalError
from zkfle.model.explorer.checks import Checks
from zkfle.model.explorer.fingerprint import fingerprint
from zkfle.model.explorer.partition import NO_PARENT, Finding
from zkfle.model.explorer.result import Violation
from zkfle.model.explorer.spec import Action

Path = list[tuple[Action | None, Any]]


def positions_to(gid: int, step_of: Callable[[int], tuple[int, int]]) -> list[int]:
    """The positions leading from an initial state to ``gid`` (first item: the initial state's rank)."""
    chain: list[int] = []
    while gid != NO_PARENT:
        gid, pos = step_of(gid)
        chain.append(pos)
    chain.reverse()
    return chain


def replay(model: Any, inits: list[Any], positions: list[int]) -> Path:
    """Re-execute ``positions`` (as from ``positions_to``) from the initial states."""
    state = inits[positions[0]]
    path: Path = [(None, state)]
    for pos in positions[1:]:
        path.append(step(model, state, pos))
        state = path[-1][1]
    return path


def step(model: Any, state: Any, pos: int) -> tuple[Action, Any]:
    succ = list(model.successors(state))
    if pos >= len(succ):
        raise _nondeterministic(model)
    return succ[pos]


def step_to(
    model: Any,
    state: Any,
    gid: int,
    gid_of: Callable[[int], int | None],
    fingerprint_of: Callable[[Any], int] = fingerprint,
) -> tuple[Action, Any]:
    """The step from ``state`` to the visited state with global id ``gid`` (by re-searching successors;
    ``fingerprint_of`` must be the one the search used: ``Partition.key_fp``)."""
    for action, target in model.successors(state):
        if gid_of(fingerprint_of(target)) == gid:
            return action, target
    raise _nondeterministic(model)


def _nondeterministic(model: Any) -> InternalError:
    return InternalError(
        f"replaying a counterexample of model {getattr(model, 'name', '?')} did not reproduce the search: "
        "the model's successors() is not a deterministic function of the state (model's fault)"
    )


def violation_of(
    model: Any, finding: Finding, inits: list[Any], step_of: Callable[[int], tuple[int, int]], checks: Checks
) -> Violation:
    """Rebuild and check the counterexample of a safety finding."""
    path = replay(model, inits, positions_to(finding.gid, step_of))
    if finding.kind == "action":
        path.append(step(model, path[-1][1], finding.pos))
    if not _reproduces(model, finding, path, checks):
        raise _nondeterministic(model)
    return Violation(kind=finding.kind, property=finding.property, path=path)


def _reproduces(model: Any, finding: Finding, path: Path, checks: Checks) -> bool:
    last = path[-1][1]
    if finding.kind == "deadlock":
        return not any(True for _ in model.successors(last))
    if finding.kind == "invariant":
        invariant = dict(checks.invariants)[finding.property]
        return not invariant(last)
    prop = dict(checks.actions)[finding.property]
    action = path[-1][0]
    return action is not None and not prop(path[-2][1], action, last)
