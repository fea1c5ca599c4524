"""Partial-order reduction: ample sets chosen per state (Peled's conditions C0-C3, BFS variant).

Theory of operation. In a state ``s`` with enabled transitions ``succ``, the search may explore only an
*ample set*: the enabled actions of one actor ``p`` (``model.actor(action) == p``), when

- C0 (non-emptiness): the ample set is empty only if nothing is enabled. We only ever pick a non-empty
  group, so deadlocks are preserved.
- C1 (persistence): no action dependent on the ample set can run before it on any path from ``s``. The
  explorer relies on the model's contract for ``actor``: *actions of different actors are independent*
  in Godefroid's sense (they commute, and neither enables nor disables the other). Under that contract
  the enabled actions of one actor form a persistent set. The explorer checks what it can see: if the
  model defines ``independent(a, b)``, every ample action must be independent of every other enabled
  action, and an action whose actor is ``None`` is dependent on everything (no reduction in that state).
- C2 (visibility): every ample action must be invisible: ``model.visible(action)`` is False, meaning the
  action changes no variable that a checked invariant or action property reads, and no action property
  looks at the action itself. A model without ``visible`` gets no reduction (every action counts as
  visible), which is sound.
- C3 (cycle proviso, BFS form of Bosnacki and Holzmann): a state at depth ``d`` is fully expanded when
  one of its ample successors is *old*, i.e. was reached at depth <= d. Every cycle of the reduced graph
  has an edge that does not go deeper, so every cycle has a fully expanded state and no action is
  postponed forever. The test depends only on depths, so it gives the same result in any worker count.

A model may instead supply ``ample(state, succ) -> positions | None`` and answer for C0-C2 itself: its
persistent sets may depend on the state (which channels are empty, who can still send), which no
per-action ``actor`` can express. The FLE model does (``model/reduction.py``, docs/reductions.md); the
engine still applies C3 to whatever it returns.

Preserved: reachability of every invariant violation, every action-property violation (such properties
read only what visible actions change, and constrain only visible actions), and every deadlock. Not
used for liveness: a search that checks liveness runs without partial-order reduction (with a note).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from zkfle.model.explorer.spec import Action


class AmpleChooser:
    """Picks an ample set among a state's enabled transitions (conditions C0, C1, C2; C3 is the engine's)."""

    def __init__(self, model: Any) -> None:
        self._actor: Callable[[Action], Hashable | None] | None = getattr(model, "actor", None)
        self._visible: Callable[[Action], bool] | None = getattr(model, "visible", None)
        self._independent: Callable[[Action, Action], bool] | None = getattr(model, "independent", None)
        # A model that knows its own persistent sets (they may depend on the state, e.g. which channels are
        # empty) supplies ample(state, succ) -> positions | None and answers for C0-C2 itself.
        self._model_ample: Callable[[Any, list[tuple[Action, Any]]], list[int] | None] | None = getattr(
            model, "ample", None)

    @property
    def usable(self) -> bool:
        """Whether the model supplies what a reduction needs (``actor`` and ``visible``)."""
        return self._model_ample is not None or (self._actor is not None and self._visible is not None)

    def choose(self, succ: list[tuple[Action, Any]], state: Any = None) -> list[int] | None:
        """Positions (into ``succ``) of a reduced ample set, or None to expand everything."""
        if self._model_ample is not None:
            return self._model_ample(state, succ)
        actor = self._actor
        visible = self._visible
        if actor is None or visible is None or len(succ) < 2:
            return None
        groups: dict[Hashable, list[int]] = {}
        for pos, (action, _) in enumerate(succ):
            who = actor(action)
            if who is None:
                return None
            groups.setdefault(who, []).append(pos)
        if len(groups) < 2:
            return None
        order = sorted(groups.items(), key=lambda item: (len(item[1]), repr(item[0])))
        for _, positions in order:
            if any(visible(succ[pos][0]) for pos in positions):
                continue  # C2
            if self._independent is not None and not self._independent_of_rest(succ, positions):
                continue  # C1, as far as the model tells
            return positions
        return None

    def _independent_of_rest(self, succ: list[tuple[Action, Any]], positions: list[int]) -> bool:
        independent = self._independent
        assert independent is not None
        inside = set(positions)
        for pos in positions:
            for other, (action, _) in enumerate(succ):
                if other not in inside and not independent(succ[pos][0], action):
                    return False
        return True
