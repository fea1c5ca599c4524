"""Bounded liveness, ``DecideWithin<K>``: every live voter decides within K steps after the last fault.

Rules:

- The search runs over pairs (model state, steps since the last fault), the counter capped at K; a fault is
  an action the model calls one (``is_fault``: crash, restart), and the initial state counts as one.
- A pair whose counter reaches K in a state the model does not accept as settled (``is_terminal``) is a
  violation; the counterexample is the shortest such run (breadth-first), as an ordinary ``Violation`` of
  kind ``"liveness"`` without a loop: a run of K steps after the last fault that has not decided.
- It is cheaper than ``Termination`` (no graph, no SCCs; memory at most K + 1 times the states) and so suits
  bigger configurations, but it is a bound, not a proof: a K that is too small flags slow but correct runs.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from zkfle.errors import UserInputError
from zkfle.model.explorer import ExploreResult, Violation
from zkfle.model.explorer.fingerprint import fingerprint

Action = tuple[Any, ...]


def decide_within(model: Any, k: int, *, max_states: int | None = None) -> ExploreResult:
    """Check ``DecideWithin<k>`` exhaustively (or up to ``max_states`` distinct pairs)."""
    if k < 1:
        raise UserInputError(f"K must be at least 1, got {k}")
    name = f"DecideWithin{k}"
    result = ExploreResult(verdicts={name: "holds"})
    init = next(iter(model.init_states()))
    parent: dict[int, tuple[int | None, Action | None, Any]] = {}
    key0 = fingerprint((init, 0))
    parent[key0] = (None, None, init)
    queue: deque[tuple[Any, int, int]] = deque([(init, 0, key0)])
    truncated = False
    while queue:
        state, count, key = queue.popleft()
        if count >= k and not model.is_terminal(state):
            result.verdicts[name] = "violated"
            result.violation = Violation("liveness", name, _path(parent, key))
            break
        for action, nxt in model.successors(state):
            ncount = 0 if model.is_fault(action) else min(count + 1, k)
            nkey = fingerprint((nxt, ncount))
            if nkey in parent:
                continue
            if max_states is not None and len(parent) >= max_states:
                truncated = True
                continue
            parent[nkey] = (key, action, nxt)
            queue.append((nxt, ncount, nkey))
    result.distinct_states = len(parent)
    result.complete = result.violation is None and not truncated
    return result


Parents = dict[int, tuple[int | None, Action | None, Any]]


def _path(parent: Parents, key: int) -> list[tuple[Action | None, Any]]:
    steps: list[tuple[Action | None, Any]] = []
    cursor: int | None = key
    while cursor is not None:
        prev, action, state = parent[cursor]
        steps.append((action, state))
        cursor = prev
    steps.reverse()
    return steps
