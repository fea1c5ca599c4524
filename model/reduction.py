"""Reductions of the FLE model's state graph: partial-order reduction and symmetry (scaffold).

Rules: ``ample(model, state, succ)`` returns the positions of a persistent set of ``succ`` whose steps are
invisible to the checked properties, or None to expand every successor; ``canonical(model, state)`` returns
one representative per symmetry class. Until the reductions are written, nothing is reduced: ``ample``
answers None and ``canonical`` is the identity, which is always sound.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zkfle.model.fle import FleModel

State = tuple[Any, ...]
Action = tuple[Any, ...]


def ample(model: FleModel, state: State, succ: list[tuple[Action, State]]) -> list[int] | None:
    """No reduction yet: every successor is explored."""
    return None


def canonical(model: FleModel, state: State) -> State:
    """The identity: no symmetry is used yet."""
    return state
