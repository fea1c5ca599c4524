"""Liveness lassos are rebuilt with the fingerprints the search used, with the step memo on or off."""

from __future__ import annotations

import pytest

from zkfle.model.explorer import ExploreOptions, explore, toys


@pytest.mark.parametrize("memo", [True, False])
@pytest.mark.parametrize("workers", [1, 2])
def test_a_cycle_lasso_is_rebuilt_on_a_model_with_components(memo: bool, workers: int) -> None:
    plain = explore(toys.Livelock(4, "livelock"))
    parted = explore(toys.PartedLivelock(4, "livelock"), ExploreOptions(workers=workers, step_memo=memo))
    assert parted.exit_code == plain.exit_code == 13
    assert parted.violation is not None and plain.violation is not None
    assert parted.violation.loop == plain.violation.loop
    assert [a for a, _ in parted.violation.path] == [a for a, _ in plain.violation.path]
    assert len(parted.violation.path) == 5  # the initial state, then a cycle of 4 spins back to it
    assert [s[0][0] for _, s in parted.violation.path] == [x for x, _ in (s for _, s in plain.violation.path)]


@pytest.mark.parametrize("mode", ["ok", "stuck"])
def test_the_parted_toy_gives_the_livelock_toys_answers(mode: str) -> None:
    plain = explore(toys.Livelock(3, mode))
    parted = explore(toys.PartedLivelock(3, mode))
    assert parted.exit_code == plain.exit_code
    assert parted.distinct_states == plain.distinct_states
