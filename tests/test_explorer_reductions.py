"""Partial-order and symmetry reduction: fewer states, same verdicts; and the mutants that break them."""

from __future__ import annotations

from typing import Any

import pytest

from zkfle.model.explorer import ExploreOptions, explore, toys
from zkfle.model.explorer.partition import Partition


def verdict_and_exit(model: Any, **opts: Any) -> tuple[dict[str, str], int, int]:
    result = explore(model, ExploreOptions(**opts))
    return result.verdicts, result.exit_code, result.distinct_states


@pytest.mark.parametrize(
    "model",
    [toys.Workers(3, 2), toys.Workers(3, 2, "FirstNotLast"), toys.Workers(4, 1), toys.Spinner(4)],
    ids=lambda m: f"{m.name}-{getattr(m, 'invariant', '')}",
)
def test_por_keeps_the_violation_with_fewer_states(model: Any) -> None:
    plain = explore(model)
    reduced = explore(model, ExploreOptions(por=True))
    assert reduced.exit_code == plain.exit_code == 12
    assert reduced.violation is not None and plain.violation is not None
    assert reduced.violation.property == plain.violation.property
    assert len(reduced.violation) >= len(plain.violation)  # shortest in the reduced graph only
    state = reduced.violation.path[-1][1]
    assert not model.invariants[reduced.violation.property](state)


def test_por_reduces_a_violation_free_search_and_keeps_deadlock_verdicts() -> None:
    model = toys.Workers(4, 2)
    plain = explore(model, ExploreOptions(properties=["Deadlock"]))
    reduced = explore(model, ExploreOptions(properties=["Deadlock"], por=True))
    assert plain.distinct_states == model.expected_states() == 256
    assert reduced.distinct_states < plain.distinct_states // 4
    assert reduced.verdicts == plain.verdicts and reduced.exit_code == plain.exit_code == 0
    assert reduced.complete


def test_por_preserves_a_deadlock() -> None:
    class Blocked(toys.Workers):
        is_terminal = None

    plain = explore(Blocked(3, 1), ExploreOptions(properties=["Deadlock"]))
    reduced = explore(Blocked(3, 1), ExploreOptions(properties=["Deadlock"], por=True))
    assert plain.exit_code == reduced.exit_code == 11
    assert reduced.violation is not None
    assert reduced.violation.path[-1][1] == plain.violation.path[-1][1]  # type: ignore[union-attr]


def test_lying_about_visibility_loses_the_violation() -> None:
    """The mutant twin of C2: a model that calls every action invisible hides the bad interleaving."""
    honest = toys.Workers(3, 2, "FirstNotLast")
    liar = toys.Workers(3, 2, "FirstNotLast", liar=True)
    assert explore(liar).exit_code == 12  # the bug is there ...
    assert explore(honest, ExploreOptions(por=True)).exit_code == 12
    assert explore(liar, ExploreOptions(por=True)).exit_code == 0  # ... and C2 is what keeps it found


def test_without_the_cycle_proviso_an_action_is_ignored_forever(monkeypatch: pytest.MonkeyPatch) -> None:
    assert explore(toys.Spinner(3), ExploreOptions(por=True)).exit_code == 12
    monkeypatch.setattr(Partition, "CYCLE_PROVISO", False)  # the mutant engine
    assert explore(toys.Spinner(3), ExploreOptions(por=True)).exit_code == 0


def test_por_without_model_support_is_a_noted_no_op() -> None:
    result = explore(toys.Counters(2, 6), ExploreOptions(por=True))
    assert result.distinct_states == 36
    assert any("por" in note for note in result.notes)


@pytest.mark.parametrize(("n", "k"), [(6, 2), (8, 3), (9, 3)])
def test_symmetry_leaves_one_state_per_orbit(n: int, k: int) -> None:
    model = toys.TokenRing(n, k)
    plain = explore(model)
    reduced = explore(model, ExploreOptions(symmetry=True))
    assert plain.distinct_states == model.expected_states()
    assert reduced.distinct_states == model.expected_orbits() < plain.distinct_states
    assert reduced.verdicts == plain.verdicts and reduced.exit_code == 0


def test_symmetry_still_finds_a_symmetric_bug_with_a_concrete_path() -> None:
    model = toys.TokenRing(8, 3, leaky=True)
    result = explore(model, ExploreOptions(symmetry=True))
    assert result.exit_code == 12 and result.violation is not None
    assert len(result.violation) == 1
    state = model.init_states()[0]
    for action, nxt in result.violation.path[1:]:
        assert (action, nxt) in list(model.successors(state))  # concrete, not canonical, states
        state = nxt


def test_symmetry_without_canonical_is_a_noted_no_op() -> None:
    result = explore(toys.Mutex(True), ExploreOptions(symmetry=True))
    assert result.distinct_states == 3
    assert any("symmetry" in note for note in result.notes)
