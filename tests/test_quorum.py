"""Quorum verifiers behave as QuorumMaj / QuorumHierarchical.containsQuorum do."""

from __future__ import annotations

from itertools import combinations

from hypothesis import given
from hypothesis import strategies as st

from zkfle.quorum import QuorumHierarchical, QuorumMaj, acks_of, has_quorum, minimal_quorums


def test_majority_thresholds() -> None:
    qv = QuorumMaj(frozenset({1, 2, 3}), frozenset({4}))
    assert not qv.contains_quorum({1}) and qv.contains_quorum({1, 2})
    # observers never count (SyncedLearnerTracker.addAck)
    assert acks_of(qv, {1, 4}) == {1} and not has_quorum(qv, {1, 4})
    even = QuorumMaj(frozenset({1, 2, 3, 4}))
    assert not even.contains_quorum({1, 2}) and even.contains_quorum({1, 2, 3})
    assert minimal_quorums(qv) == [frozenset({1, 2}), frozenset({1, 3}), frozenset({2, 3})]


def test_hierarchical_needs_majority_of_nonzero_groups() -> None:
    qv = QuorumHierarchical(
        groups={1: frozenset({1, 2, 3}), 2: frozenset({4, 5, 6}), 3: frozenset({7, 8, 9})},
        weights={},
        voters=frozenset(range(1, 10)),
    )
    assert qv.contains_quorum({1, 2, 4, 5})
    assert not qv.contains_quorum({1, 2, 4, 7})  # majority only in group 1
    assert not qv.contains_quorum(set())


def test_zero_weight_group_is_not_counted() -> None:
    qv = QuorumHierarchical(
        groups={1: frozenset({1, 2}), 2: frozenset({3})}, weights={3: 0}, voters=frozenset({1, 2, 3})
    )
    assert qv.num_groups == 1 and qv.contains_quorum({1, 2}) and not qv.contains_quorum({3})
    assert not qv.contains_quorum({1})  # weight 1 of 2 is not more than half


@given(st.integers(min_value=1, max_value=9))
def test_majority_quorums_intersect(n: int) -> None:
    qv = QuorumMaj(frozenset(range(1, n + 1)))
    quorums = minimal_quorums(qv)
    assert all(a & b for a, b in combinations(quorums, 2))


def test_a_broken_verifier_is_caught_by_the_same_check() -> None:
    """Negative twin: accepting exactly half of an even ensemble gives disjoint quorums."""

    class HalfInclusive(QuorumMaj):
        def contains_quorum(self, members):  # type: ignore[no-untyped-def]
            return len(frozenset(members)) >= self.half

    quorums = minimal_quorums(HalfInclusive(frozenset({1, 2, 3, 4})))
    assert any(not (a & b) for a, b in combinations(quorums, 2))
