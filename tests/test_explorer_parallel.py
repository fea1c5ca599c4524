"""Several worker processes give the counts and verdicts of one, and a shortest counterexample."""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest

from zkfle.model.explorer import ExploreOptions, explore, toys

CASES = [
    (toys.Counters(3, 7), {}),
    (toys.TokenRing(9, 3), {}),
    (toys.TokenRing(9, 3), {"symmetry": True}),
    (toys.Workers(4, 2), {"por": True, "properties": ["Deadlock"]}),
    (toys.Spinner(5), {"por": True, "stop_on_first": False}),
    (toys.Mutex(), {"stop_on_first": False}),
    (toys.Philosophers(4), {"check_deadlock": False}),
    (toys.Livelock(4, "livelock"), {}),
    (toys.Livelock(4, "ok"), {}),
]


@pytest.mark.parametrize(("model", "opts"), CASES, ids=lambda c: getattr(c, "name", str(c)))
@pytest.mark.parametrize("workers", [2, 3])
def test_workers_match_one_process(model: Any, opts: dict[str, Any], workers: int) -> None:
    one = explore(model, ExploreOptions(**opts))
    many = explore(model, ExploreOptions(workers=workers, **opts))
    assert one.complete == many.complete
    assert many.distinct_states == one.distinct_states
    assert many.states_generated == one.states_generated
    assert many.diameter == one.diameter
    assert many.verdicts == one.verdicts
    assert many.exit_code == one.exit_code
    if one.violation is not None:
        assert many.violation is not None
        assert len(many.violation) == len(one.violation)
        assert many.violation.loop == one.violation.loop


@pytest.mark.parametrize("model", [toys.Mutex(), toys.Counters(2, 10, jump_at=5), toys.Philosophers(4)],
                         ids=lambda m: m.name)
def test_workers_report_a_shortest_counterexample(model: Any) -> None:
    one = explore(model)
    many = explore(model, ExploreOptions(workers=2))
    assert many.violation is not None and one.violation is not None
    assert (many.violation.kind, many.violation.property) == (one.violation.kind, one.violation.property)
    assert len(many.violation) == len(one.violation)
    state = many.violation.path[0][1]
    for action, nxt in many.violation.path[1:]:
        assert (action, nxt) in list(model.successors(state))
        state = nxt


def test_workers_are_gone_after_the_search() -> None:
    explore(toys.Counters(2, 5), ExploreOptions(workers=2))
    assert multiprocessing.active_children() == []


def test_a_failing_worker_is_reported_and_cleaned_up() -> None:
    class Broken(toys.Counters):
        def successors(self, state: Any) -> Any:
            if sum(state) > 3:
                raise RuntimeError("model bug")
            return super().successors(state)

    from zkfle.errors import InternalError

    with pytest.raises(InternalError, match="model bug"):
        explore(Broken(2, 5), ExploreOptions(workers=2))
    assert multiprocessing.active_children() == []


def test_workers_honour_the_depth_bound_exactly() -> None:
    one = explore(toys.Counters(3, 9), ExploreOptions(max_depth=5))
    two = explore(toys.Counters(3, 9), ExploreOptions(max_depth=5, workers=2))
    assert two.distinct_states == one.distinct_states
    assert not two.complete and two.diameter == 5


def test_workers_share_the_state_limit() -> None:
    two = explore(toys.Counters(3, 9), ExploreOptions(max_states=100, workers=2))
    assert 0 < two.distinct_states <= 100
    assert not two.complete


def test_workers_stop_at_the_deadline() -> None:
    two = explore(toys.Counters(4, 40), ExploreOptions(max_seconds=0.5, workers=2))
    assert not two.complete
    assert multiprocessing.active_children() == []
