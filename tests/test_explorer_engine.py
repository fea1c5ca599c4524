"""The explorer's BFS on toy models with known answers, checked against an independent plain BFS."""

from __future__ import annotations

import gc
from collections import deque
from typing import Any

import pytest

from zkfle.errors import InternalError, UserInputError
from zkfle.model.explorer import ExploreOptions, ExploreResult, Violation, explore, toys


def reference_bfs(model: Any) -> dict[Any, int]:
    """Every reachable state with its BFS depth, by the simplest possible search (a set of states)."""
    depth = {s: 0 for s in model.init_states()}
    queue = deque(depth)
    while queue:
        state = queue.popleft()
        for _, nxt in model.successors(state):
            if nxt not in depth:
                depth[nxt] = depth[state] + 1
                queue.append(nxt)
    return depth


def assert_real_path(model: Any, violation: Violation) -> None:
    """The path starts in an initial state and every step is one of the model's transitions."""
    first_action, state = violation.path[0]
    assert first_action is None
    assert state in list(model.init_states())
    for action, nxt in violation.path[1:]:
        assert (action, nxt) in list(model.successors(state))
        state = nxt


@pytest.mark.parametrize(
    "model",
    [toys.Counters(2, 10), toys.Counters(3, 5), toys.TokenRing(6, 2), toys.TokenRing(8, 3), toys.Mutex(True)],
    ids=lambda m: m.name,
)
def test_distinct_states_match_reference_and_known_counts(model: Any) -> None:
    result = explore(model)
    reachable = reference_bfs(model)
    assert result.distinct_states == len(reachable)
    assert result.diameter == max(reachable.values())
    assert result.complete
    assert result.exit_code == 0
    assert result.violation is None
    assert set(result.verdicts.values()) == {"holds"}
    if hasattr(model, "expected_states"):
        assert result.distinct_states == model.expected_states()


def test_states_generated_counts_every_successor_and_the_initial_states() -> None:
    result = explore(toys.Counters(3, 4))
    assert result.states_generated == 4**3 * 3 + 1


def test_collision_probability_is_tlcs_estimate() -> None:
    result = explore(toys.Counters(2, 30))
    n, g = result.distinct_states, result.states_generated
    assert result.collision_probability == pytest.approx(n * (g - n) / 2**64)
    assert result.collision_probability > 0


def test_to_json_is_a_config_free_summary() -> None:
    summary = explore(toys.Mutex()).to_json()
    assert set(summary) == {
        "distinct_states", "states_generated", "diameter", "seconds", "complete",
        "collision_probability", "properties", "counterexample",
    }
    assert summary["counterexample"] == 4
    assert summary["properties"]["MutualExclusion"] == "violated"


def test_invariant_violation_is_the_shortest_and_real() -> None:
    model = toys.Mutex()
    result = explore(model)
    assert result.exit_code == 12
    assert result.violation is not None and result.violation.kind == "invariant"
    assert result.violation.property == "MutualExclusion"
    reachable = reference_bfs(model)
    shortest = min(d for s, d in reachable.items() if s[0] == 2 and s[1] == 2)
    assert len(result.violation) == shortest == 4
    assert_real_path(model, result.violation)
    assert not model.invariants["MutualExclusion"](result.violation.path[-1][1])


def test_fixed_mutex_holds_with_its_three_states() -> None:
    result = explore(toys.Mutex(fixed=True))
    assert result.exit_code == 0 and result.distinct_states == 3


@pytest.mark.parametrize("jump_at", [0, 3, 7])
def test_action_property_violation_is_the_shortest(jump_at: int) -> None:
    model = toys.Counters(2, 10, jump_at=jump_at)
    result = explore(model)
    assert result.exit_code == 12
    violation = result.violation
    assert violation is not None and violation.kind == "action" and violation.property == "StepsByOne"
    assert len(violation) == jump_at + 1
    assert_real_path(model, violation)
    before, (action, after) = violation.path[-2][1], violation.path[-1]
    assert action is not None and not model._steps_by_one(before, action, after)


def test_deadlock_exit_11_shortest() -> None:
    model = toys.Philosophers(3)
    result = explore(model)
    assert result.exit_code == 11
    assert result.violation is not None and result.violation.kind == "deadlock"
    assert len(result.violation) == 3
    assert result.violation.path[-1][1] == (1, 1, 1)
    assert_real_path(model, result.violation)


def test_deadlock_not_checked_when_switched_off() -> None:
    result = explore(toys.Philosophers(3), ExploreOptions(check_deadlock=False))
    assert result.exit_code == 0
    assert result.verdicts["Deadlock"] == "not checked"
    assert result.distinct_states == len(reference_bfs(toys.Philosophers(3)))


def test_terminal_states_are_not_deadlocks_but_other_dead_ends_are() -> None:
    accepted = explore(toys.Workers(2, 1), ExploreOptions(properties=["Deadlock"]))
    assert accepted.exit_code == 0 and accepted.verdicts["Deadlock"] == "holds"

    class NoTerminal(toys.Workers):
        is_terminal = None  # the mutant: the final state is no longer accepted

    refused = explore(NoTerminal(2, 1), ExploreOptions(properties=["Deadlock"]))
    assert refused.exit_code == 11


def test_max_states_makes_the_run_incomplete() -> None:
    result = explore(toys.Counters(2, 10), ExploreOptions(max_states=30))
    assert result.distinct_states == 30
    assert not result.complete


def test_max_depth_bounds_the_search() -> None:
    bounded = explore(toys.Counters(2, 10), ExploreOptions(max_depth=3))
    assert bounded.distinct_states == 10  # a + b <= 3
    assert bounded.diameter == 3
    assert not bounded.complete
    whole = explore(toys.Counters(2, 10), ExploreOptions(max_depth=18))
    assert whole.distinct_states == 100 and whole.complete


def test_max_seconds_stops_a_big_search() -> None:
    result = explore(toys.Counters(4, 40), ExploreOptions(max_seconds=0.3))
    assert not result.complete
    assert 0 < result.distinct_states < 40**4


def test_properties_restrict_what_is_checked() -> None:
    buggy = toys.Counters(2, 10, jump_at=3)
    only_range = explore(buggy, ExploreOptions(properties=["InRange"]))
    assert only_range.exit_code == 0
    assert only_range.verdicts["StepsByOne"] == "not checked"
    assert only_range.verdicts["InRange"] == "holds"
    assert explore(buggy, ExploreOptions(properties=["StepsByOne"])).exit_code == 12


def test_unknown_property_is_the_users_mistake() -> None:
    with pytest.raises(UserInputError, match="NoSuchThing"):
        explore(toys.Mutex(), ExploreOptions(properties=["NoSuchThing"]))


@pytest.mark.parametrize("opts", [ExploreOptions(workers=0), ExploreOptions(max_states=-1),
                                  ExploreOptions(max_seconds=0), ExploreOptions(properties="Agreement")])
def test_impossible_options_are_refused(opts: ExploreOptions) -> None:
    with pytest.raises(UserInputError):
        explore(toys.Mutex(), opts)


def test_continue_after_violation_explores_everything() -> None:
    model = toys.Mutex()
    result = explore(model, ExploreOptions(stop_on_first=False))
    assert result.distinct_states == len(reference_bfs(model))
    assert result.complete
    assert result.violation is not None and len(result.violation) == 4
    assert result.verdicts["MutualExclusion"] == "violated"
    assert result.verdicts["EnterOnlyWhenChecked"] == "holds"


def test_gc_is_reenabled_after_the_search() -> None:
    assert gc.isenabled()
    explore(toys.Counters(2, 5))
    assert gc.isenabled()
    with pytest.raises(UserInputError):
        explore(toys.Counters(2, 5), ExploreOptions(properties=["nope"]))
    assert gc.isenabled()


class Flaky(toys.Mutex):
    """A model whose successors() order changes between calls: not a function of the state."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def successors(self, state: Any) -> Any:
        self.calls += 1
        succ = list(super().successors(state))
        return succ if self.calls < 12 else list(reversed(succ))


def test_a_nondeterministic_model_is_reported_as_the_models_fault() -> None:
    with pytest.raises(InternalError, match="not a deterministic function"):
        explore(Flaky())
    assert isinstance(explore(toys.Mutex()), ExploreResult)  # the twin: a deterministic model rebuilds


def test_progress_goes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    explore(toys.Counters(2, 10), ExploreOptions(progress=True))
    err = capsys.readouterr().err
    assert "distinct" in err and "100" in err
    explore(toys.Counters(2, 10))
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("workers", [1, 2])
def test_coverage_counts_the_steps_of_each_action(workers: int) -> None:
    opts = ExploreOptions(coverage=True, check_deadlock=False, workers=workers)
    result = explore(toys.Philosophers(3), opts)
    assert set(result.coverage) == {"TakeLeft", "TakeRight", "Release"}
    assert sum(result.coverage.values()) == result.states_generated - 1
    expected: dict[str, int] = {}
    for state in reference_bfs(toys.Philosophers(3)):
        for action, _ in toys.Philosophers(3).successors(state):
            expected[action[0]] = expected.get(action[0], 0) + 1
    assert result.coverage == expected
    assert explore(toys.Philosophers(3), ExploreOptions(check_deadlock=False)).coverage == {}
