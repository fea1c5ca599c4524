"""A state whose every enabled step a bound cuts has no successor: with the step memo as without it, that is
a deadlock, and a search stopping at the first violation stops at it."""

from __future__ import annotations

from typing import Any

import pytest

from zkfle.model.explorer import ExploreOptions, explore, toys

State = tuple[Any, ...]


class CutGrid(toys.WholeParts):
    """Two counters, each step raising one; every step out of a state with x == 3 is cut (as a channel bound
    cuts a delivery), so (3, 0) is a deadlock at depth 3 with other states beside it in its level."""

    name = "cut-grid"

    def __init__(self) -> None:
        self.invariants: dict[str, Any] = {}
        self.action_properties: dict[str, Any] = {}
        self.liveness: dict[str, Any] = {}

    def init_states(self) -> list[State]:
        return [((0,), (0,))]

    def enabled(self, state: State) -> list[tuple[Any, ...]]:
        (x,), (y,) = state
        return [(("IncX",),), (("IncY",),)] if x + y < 6 else []

    def fire(self, state: State, step: tuple[Any, ...]) -> State | None:
        (x,), (y,) = state
        if x == 3:
            return None
        return ((x + 1,), (y,)) if step[0] == ("IncX",) else ((x,), (y + 1,))

    def is_terminal(self, state: State) -> bool:
        return bool(state[0][0] + state[1][0] >= 6)


@pytest.mark.parametrize("stop_on_first", [True, False])
def test_a_state_with_every_step_cut_is_a_deadlock_with_or_without_the_memo(stop_on_first: bool) -> None:
    runs = [explore(CutGrid(), ExploreOptions(check_liveness=False, stop_on_first=stop_on_first,
                                              step_memo=memo)) for memo in (True, False)]
    memo, plain = runs
    assert memo.exit_code == plain.exit_code == 11
    assert (memo.distinct_states, memo.states_generated) == (plain.distinct_states, plain.states_generated)
    assert memo.violation is not None and plain.violation is not None
    assert memo.violation.path == plain.violation.path
    assert memo.violation.path[-1][1] == ((3,), (0,))
