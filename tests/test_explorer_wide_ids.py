"""Levels start with 2-byte component ids and widen to 4 bytes when the table outgrows them, keeping every
state whole (``CollapsedStates.extend``/``widen``, and the step memo's inlined copy in ``_expand_memo``)."""

from __future__ import annotations

from typing import Any

import pytest

from zkfle.model.explorer import ExploreOptions, explore, toys
from zkfle.model.explorer.checks import select_checks
from zkfle.model.explorer.partition import Partition

WIDE = 66_000  # more distinct components than 2-byte ids can name

State = tuple[Any, ...]


class Fan(toys.WholeParts):
    """One start state with WIDE successors ``Set(v)``, each a new value of the second component. The
    first component is shared, so an overflowing id is never a state's first: ``array.extend`` has then
    already put in part of the state when it fails, which ``widen`` must take out again."""

    name = "fan"

    def __init__(self, n: int = WIDE) -> None:
        self.n = n
        self.invariants: dict[str, Any] = {}
        self.action_properties: dict[str, Any] = {}
        self.liveness: dict[str, Any] = {}

    def init_states(self) -> list[State]:
        return [(("shared",), (-1,))]

    def enabled(self, state: State) -> list[tuple[Any, ...]]:
        return [(("Set", v),) for v in range(self.n)] if state[1][0] == -1 else []

    def fire(self, state: State, step: tuple[Any, ...]) -> State:
        return state[0], (step[0][1],)

    def is_terminal(self, state: State) -> bool:
        return bool(state[1][0] != -1)


@pytest.mark.parametrize("memo", [True, False])
def test_a_level_widens_to_four_byte_ids_and_keeps_every_state(memo: bool) -> None:
    model = Fan()
    part = Partition(model, select_checks(model, None, check_deadlock=True, check_liveness=False),
                     step_memo=memo)
    assert (part.steps is not None) == memo
    part.seed(model.init_states())
    part.end_level()
    assert part.frontier.ids.typecode == "H"
    part.expand_level(0, admit=True, deadline=None)
    level = part.next_frontier
    assert level.ids.typecode == "I"
    assert len(level) == WIDE
    assert {state[1][0] for state in level} == set(range(WIDE))
    assert all(state[0] == ("shared",) for state in level)


def test_the_search_over_wide_ids_is_complete_and_exact() -> None:
    result = explore(Fan(), ExploreOptions(check_liveness=False))
    assert result.complete and result.exit_code == 0
    assert result.distinct_states == WIDE + 1 and result.states_generated == WIDE + 1


def test_a_widening_that_keeps_a_partial_state_garbles_the_level(monkeypatch: pytest.MonkeyPatch) -> None:
    """The twin: a widening that keeps what the failed ``extend`` had put in shifts every later state."""
    from zkfle.model.explorer import collapse

    def careless(self: collapse.CollapsedStates, size: int) -> None:
        self.ids = collapse.array(collapse.ID_TYPECODE, self.ids)

    monkeypatch.setattr(collapse.CollapsedStates, "widen", careless)
    model = Fan()
    part = Partition(model, select_checks(model, None, check_deadlock=True, check_liveness=False))
    part.seed(model.init_states())
    part.end_level()
    part.expand_level(0, admit=True, deadline=None)
    try:  # shifted ids decode to wrong states, or to ids the table never gave out
        values: set[int] | None = {state[1][0] for state in part.next_frontier}
    except (IndexError, TypeError):
        values = None
    assert values != set(range(WIDE))
