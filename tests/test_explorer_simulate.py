"""Random walks: deterministic per seed, finding bugs without exhausting the state space."""

from __future__ import annotations

from zkfle.model.explorer import ExploreOptions, explore, simulate, toys


def test_simulation_is_deterministic_for_a_seed() -> None:
    model = toys.Counters(3, 50)
    first = simulate(model, steps=40, walks=20, seed=7)
    again = simulate(model, steps=40, walks=20, seed=7)
    assert first.to_json() | {"seconds": 0} == again.to_json() | {"seconds": 0}
    assert not first.complete
    assert 0 < first.distinct_states < 50**3


def test_simulation_finds_the_mutex_bug_and_not_in_the_fixed_one() -> None:
    buggy = simulate(toys.Mutex(), steps=30, walks=50, seed=1)
    assert buggy.exit_code == 12 and buggy.violation is not None
    state = buggy.violation.path[0][1]
    for action, nxt in buggy.violation.path[1:]:
        assert (action, nxt) in list(toys.Mutex().successors(state))
        state = nxt
    assert simulate(toys.Mutex(fixed=True), steps=30, walks=50, seed=1).exit_code == 0


def test_simulation_sees_deadlocks_and_action_properties() -> None:
    assert simulate(toys.Philosophers(3), steps=50, walks=50, seed=3).exit_code == 11
    jumped = simulate(toys.Counters(1, 10, jump_at=4), steps=10, walks=1, seed=0)
    assert jumped.violation is not None and jumped.violation.property == "StepsByOne"
    assert len(jumped.violation) == 5


def test_simulation_never_checks_liveness() -> None:
    result = simulate(toys.Livelock(3, "livelock"), steps=10, walks=2, seed=0)
    assert result.verdicts["Finishes"] == "not checked"
    assert explore(toys.Livelock(3, "livelock"), ExploreOptions()).verdicts["Finishes"] == "violated"
