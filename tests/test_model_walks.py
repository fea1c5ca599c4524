"""Hypothesis random walks over the FLE model: every invariant and step property holds on every step.

Configurations too large to exhaust here (5 servers, crashes, transactions, both channels) are walked at
random; a failing walk is shrunk by Hypothesis to a short sequence of choices.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zkfle.model import fle
from zkfle.model.config import Bounds, ModelConfig, default_config
from zkfle.model.fle import FleModel
from zkfle.model.variant import Variant

CONFIGS = {
    "fifo-5-crash-txn": ModelConfig(default_config(5), bounds=Bounds(crashes=2, epochs=3, txns=2)),
    "zk-3-crash-txn": ModelConfig(default_config(3), channel="zk",
                                  bounds=Bounds(crashes=2, epochs=3, txns=2)),
    "zk-3+1-observer": ModelConfig(default_config(3, 1), channel="zk", bounds=Bounds(crashes=1)),
}


def walk(m: FleModel, choices: st.DataObject, steps: int) -> list[str]:
    """Take ``steps`` random steps; return the names of the properties that failed (empty = all held)."""
    state = m.init_states()[0]
    failed: list[str] = []
    for _ in range(steps):
        failed += [name for name, inv in m.invariants.items() if not inv(state)]
        succ = list(m.successors(state))
        if not succ or failed:
            break
        action, nxt = succ[choices.draw(st.integers(0, len(succ) - 1))]
        failed += [name for name, p in m.action_properties.items() if not p(state, action, nxt)]
        assert m.describe(action, state, nxt)
        state = nxt
    return failed


@pytest.mark.parametrize("name", sorted(CONFIGS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(choices=st.data())
def test_random_walks_keep_every_property(name: str, choices: st.DataObject) -> None:
    m = FleModel(CONFIGS[name])
    assert walk(m, choices, 120) == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(choices=st.data())
def test_zk1419_walks_break_only_vote_order_properties(choices: st.DataObject) -> None:
    """Whatever the ZK-1419 predicate breaks on a walk from mixed epochs is a vote-order property."""
    from zkfle.model.scenarios import scenario

    m = scenario("mixed-epochs").build(variant=Variant(predicate="ZK-1419"))
    failed = walk(m, choices, 40)
    assert set(failed) <= {"NoVoteCircle", "VoteIsBestSeen", "LeaderCompleteness"}


def test_a_directed_walk_of_the_zk1419_mutant_fails() -> None:
    from zkfle.model.scenarios import scenario

    m = scenario("mixed-epochs").build(variant=Variant(predicate="ZK-1419"), bounds=Bounds(max_in_flight=3),
                                       selected=frozenset({"NoVoteCircle"}))
    state = m.init_states()[0]
    # 1 hears 2 (the buggy predicate lets sid 2, epoch 1 beat sid 1, epoch 2), then its own vote for 1 again
    for action in (("Deliver", 2, 1), ("Deliver", 1, 1)):
        nxt = dict(m.successors(state))[action]
        ok = m.action_properties["NoVoteCircle"](state, action, nxt)
        state = nxt
    assert not ok
    assert m.server(state, 1)[fle.PL] == 1
