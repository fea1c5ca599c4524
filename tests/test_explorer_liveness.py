"""Liveness by bottom SCCs: lassos for livelocks and bad final states; holds when every run finishes."""

from __future__ import annotations

from typing import Any

import pytest

from zkfle.model.explorer import ExploreOptions, Violation, explore, toys


def assert_lasso(model: Any, violation: Violation) -> None:
    assert violation.kind == "liveness" and violation.loop is not None
    path = violation.path
    state = path[0][1]
    for action, nxt in path[1:]:
        assert (action, nxt) in list(model.successors(state))
        state = nxt
    assert path[violation.loop][1] == path[-1][1]
    goal = model.liveness[violation.property].goal
    assert not all(goal(s) for _, s in path[violation.loop :])


@pytest.mark.parametrize("n", [1, 3, 5])
def test_livelock_gives_a_cycle_lasso(n: int) -> None:
    model = toys.Livelock(n, "livelock")
    result = explore(model)
    assert result.exit_code == 13
    assert result.verdicts["Finishes"] == "violated"
    assert result.violation is not None
    assert_lasso(model, result.violation)
    assert result.violation.loop == 0
    assert len(result.violation) == n  # once around the spin


def test_bad_final_state_gives_a_stuttering_lasso() -> None:
    model = toys.Livelock(3, "stuck")
    result = explore(model)
    assert result.exit_code == 13 and result.violation is not None
    assert_lasso(model, result.violation)
    assert result.violation.loop == len(result.violation.path) - 1
    assert result.violation.path[-1][1][1] == "failed"


def test_liveness_holds_when_every_fair_run_finishes() -> None:
    result = explore(toys.Livelock(3, "ok"))
    assert result.exit_code == 0 and result.verdicts["Finishes"] == "holds"


def test_liveness_can_be_switched_off() -> None:
    result = explore(toys.Livelock(3, "livelock"), ExploreOptions(check_liveness=False))
    assert result.exit_code == 0 and result.verdicts["Finishes"] == "not checked"


def test_liveness_needs_a_complete_search() -> None:
    result = explore(toys.Livelock(5, "livelock"), ExploreOptions(max_states=3))
    assert not result.complete
    assert result.verdicts["Finishes"] == "not checked"


def test_liveness_turns_reductions_off_with_a_note() -> None:
    result = explore(toys.Livelock(3, "livelock"), ExploreOptions(por=True, symmetry=True))
    assert result.exit_code == 13
    assert any("liveness" in note for note in result.notes)
