"""``simulate``: random walks, for configurations too large to explore exhaustively (TLC's -simulate).

Rules: each walk starts from a random initial state and takes up to ``steps`` random enabled actions,
checking invariants on every state, action properties on every step and deadlock on every state
without successors (unless ``model.is_terminal`` accepts it). The walks are drawn from
``random.Random(seed)`` only, so a seed always gives the same walks. The first violation ends the run
and its walk is the counterexample (not necessarily the shortest). Liveness is never checked here, and
``complete`` is always False; ``distinct_states`` counts the distinct fingerprints the walks visited.
"""

from __future__ import annotations

import gc
import random
import time
from collections.abc import Sequence
from typing import Any

from zkfle.errors import UserInputError
from zkfle.model.explorer.bfs import initial_states
from zkfle.model.explorer.checks import select_checks
from zkfle.model.explorer.fingerprint import fingerprint
from zkfle.model.explorer.result import VIOLATED, ExploreResult, Violation
from zkfle.model.explorer.spec import Action

Path = list[tuple[Action | None, Any]]


def simulate(
    model: Any, *, steps: int, walks: int, seed: int, properties: Sequence[str] | None = None
) -> ExploreResult:
    """Take ``walks`` random walks of at most ``steps`` steps; deterministic for a given seed."""
    if steps < 0 or walks < 1:
        raise UserInputError(f"simulate needs steps >= 0 and walks >= 1, got steps={steps}, walks={walks}")
    checks = select_checks(model, properties, check_deadlock=True, check_liveness=False)
    rng = random.Random(seed)
    result = ExploreResult(verdicts=checks.initial_verdicts(), complete=False)
    inits = initial_states(model)
    if not inits:
        return result
    seen: set[int] = set()
    started = time.monotonic()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(walks):
            violation = _walk(model, checks, inits, rng, steps, seen, result)
            if violation is not None:
                result.verdicts[violation.property] = VIOLATED
                result.violation = violation
                break
    finally:
        if gc_was_enabled:
            gc.enable()
    result.distinct_states = len(seen)
    result.seconds = time.monotonic() - started
    return result


def _walk(
    model: Any, checks: Any, inits: list[Any], rng: random.Random, steps: int, seen: set[int],
    result: ExploreResult,
) -> Violation | None:
    state = inits[rng.randrange(len(inits))]
    result.states_generated += 1
    path: Path = [(None, state)]
    seen.add(fingerprint(state))
    found = _broken_invariant(checks, state)
    if found is not None:
        return Violation(kind="invariant", property=found, path=path)
    is_terminal = getattr(model, "is_terminal", None)
    for _ in range(steps):
        succ = list(model.successors(state))
        result.states_generated += len(succ)
        if not succ:
            if checks.deadlock and not (is_terminal is not None and is_terminal(state)):
                return Violation(kind="deadlock", property="Deadlock", path=path)
            return None
        action, nxt = succ[rng.randrange(len(succ))]
        path.append((action, nxt))
        result.diameter = max(result.diameter, len(path) - 1)
        for name, prop in checks.actions:
            if not prop(state, action, nxt):
                return Violation(kind="action", property=name, path=path)
        state = nxt
        seen.add(fingerprint(state))
        found = _broken_invariant(checks, state)
        if found is not None:
            return Violation(kind="invariant", property=found, path=path)
    return None


def _broken_invariant(checks: Any, state: Any) -> str | None:
    for name, invariant in checks.invariants:
        if not invariant(state):
            return str(name)
    return None
