"""``zkfle trace minimize``: delta debugging over a counterexample's actions (Zeller's ddmin).

Rules:

- A candidate is a subsequence of the trace's actions. It is re-executed in the model from the initial state
  (``zkfle.model.replay.execute``); it *fails* (is kept) when every step is enabled and the property is
  violated at some step, and it is then cut just after the first violating step.
- ddmin removes chunks of halving size until no single step can go; the result is 1-minimal: dropping any
  one of its steps either disables a later step or loses the violation.
- Then steps are reordered: each pair of neighbours is swapped, and if the swapped run still fails, ddmin
  runs again on it; a swap is kept only when that makes the run shorter (a step moved earlier can make
  another one unnecessary). The result is again 1-minimal.
- The result is re-checked from scratch before it is returned (every step enabled, the violation there).

Theory of operation. FLE actions name their actors (``("Deliver", 2, 1)``), not their messages, so a step
kept from the original trace means "the next notification from 2 to 1", whatever it is in the shorter run.
That is what makes dropping steps meaningful: the shorter run is a real run of the model.
"""

from __future__ import annotations

from typing import Any

from zkfle.errors import TraceError
from zkfle.model.fle import FleModel
from zkfle.model.replay import execute

Action = tuple[Any, ...]


def first_violation(m: FleModel, actions: list[Action], prop: str) -> int | None:
    """The number of steps up to and including the first violation of ``prop`` (None if not violated)."""
    try:
        path = execute(m, actions)
    except TraceError:
        return None
    inv = m.invariants.get(prop)
    act = m.action_properties.get(prop)
    for n, (action, state) in enumerate(path):
        if inv is not None and not inv(state):
            return n
        if act is not None and n > 0 and action is not None and not act(path[n - 1][1], action, state):
            return n
    return None


def minimize(m: FleModel, actions: list[Action], prop: str) -> list[Action]:
    """ddmin, then neighbour swaps that let ddmin drop more; 1-minimal, re-checked."""
    current = ddmin(m, actions, prop)
    improved = True
    while improved:
        improved = False
        for k in range(len(current) - 1):
            swapped = [*current[:k], current[k + 1], current[k], *current[k + 2:]]
            cut = first_violation(m, swapped, prop)
            if cut is None:
                continue
            shorter = ddmin(m, swapped[:cut], prop)
            if len(shorter) < len(current):
                current, improved = shorter, True
                break
    return current


def ddmin(m: FleModel, actions: list[Action], prop: str) -> list[Action]:
    """A 1-minimal subsequence of ``actions`` that still violates ``prop`` (a safety property)."""
    if prop not in m.invariants and prop not in m.action_properties:
        raise TraceError(f"minimize works on safety properties; {prop!r} is not one of this model's")
    end = first_violation(m, actions, prop)
    if end is None:
        raise TraceError(f"the trace does not violate {prop} when re-executed in the model")
    current = list(actions[:end])
    chunks = 2
    while len(current) >= 2:
        size = max(1, len(current) // chunks)
        reduced = False
        for start in range(0, len(current), size):
            candidate = current[:start] + current[start + size:]
            cut = first_violation(m, candidate, prop)
            if cut is not None:
                current = candidate[:cut]
                chunks = max(chunks - 1, 2)
                reduced = True
                break
        if not reduced:
            if size == 1:
                break
            chunks = min(chunks * 2, len(current))
    if first_violation(m, current, prop) != len(current):
        raise TraceError("internal: the minimized trace does not re-check")  # pragma: no cover
    return current
