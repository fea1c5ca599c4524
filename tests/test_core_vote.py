"""totalOrderPredicate, Vote.equals, the vote tracker and checkLeader: tables and exhaustive grids.

Each grid check is also run against a deliberately broken twin, which it must reject.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from zkfle.errors import InternalError
from zkfle.impl.events import FOLLOWING, LEADING, LOOKING, OBSERVING, Vote
from zkfle.impl.recvset import agreeing_sids, check_leader, has_all_quorums
from zkfle.impl.vote import LONG_MAX, LONG_MIN, check_long, total_order_predicate, vote_equals
from zkfle.quorum import QuorumHierarchical, QuorumMaj, QuorumVerifier

V3 = QuorumMaj(frozenset({1, 2, 3}))
EDGE = (LONG_MIN, -1, 0, 1, LONG_MAX)
Triple = tuple[int, int, int]
Pred = Callable[[QuorumVerifier, int, int, int, int, int, int], bool]


@pytest.mark.parametrize(
    ("new", "cur", "better"),
    [
        ((2, 0, 0), (1, 0, 0), True),  # same epoch and zxid: larger sid
        ((1, 0, 0), (2, 0, 0), False),
        ((1, 5, 0), (3, 4, 0), True),  # zxid before sid
        ((1, 0, 1), (3, 9, 0), True),  # peerEpoch before zxid
        ((2, 0, 0), (2, 0, 0), False),  # strict
        ((1, -1, 0), (1, LONG_MIN, 0), True),  # signed longs
        ((1, 0, LONG_MIN), (1, 0, -1), False),
        ((1, 0, 0), (LONG_MIN, LONG_MIN, LONG_MIN), True),  # an observer's initial vote loses to anything
        ((1, LONG_MAX, 0), (1, 0, 1), False),
    ],
)
def test_total_order_predicate_table(new: Triple, cur: Triple, better: bool) -> None:
    """FLE L723-748 (reference §1.3): (peerEpoch, zxid, sid), signed, strict."""
    (ni, nz, ne), (ci, cz, ce) = new, cur
    assert total_order_predicate(V3, ni, nz, ne, ci, cz, ce) is better


def _lexicographic_violations(pred: Pred) -> list[tuple[int, ...]]:
    """Grid points where pred differs from 'the (epoch, zxid, sid) triple is larger' (weights all 1)."""
    bad = []
    for ne, nz, ni, ce, cz, ci in itertools.product((0, 1), EDGE, (1, 2), (0, 1), EDGE, (1, 2)):
        if pred(V3, ni, nz, ne, ci, cz, ce) != ((ne, nz, ni) > (ce, cz, ci)):
            bad.append((ni, nz, ne, ci, cz, ce))
    return bad


def _zxid_before_epoch(qv: QuorumVerifier, ni: int, nz: int, ne: int, ci: int, cz: int, ce: int) -> bool:
    return (nz, ne, ni) > (cz, ce, ci)  # the textbook slip: zxid first


def _unsigned(qv: QuorumVerifier, ni: int, nz: int, ne: int, ci: int, cz: int, ce: int) -> bool:
    m = 2**64
    return (ne % m, nz % m, ni % m) > (ce % m, cz % m, ci % m)  # Long.compareUnsigned semantics


def test_predicate_is_the_lexicographic_order_on_the_grid() -> None:
    assert _lexicographic_violations(total_order_predicate) == []


@pytest.mark.parametrize("broken", [_zxid_before_epoch, _unsigned])
def test_grid_rejects_broken_predicates(broken: Pred) -> None:
    assert _lexicographic_violations(broken)


def test_weight_zero_is_never_better() -> None:
    """§1.3: QuorumHierarchical weight.N=0 makes N never better, even with a larger epoch; twin: weight 1."""
    qv = QuorumHierarchical(groups={1: frozenset({1, 2, 3})}, weights={3: 0}, voters=frozenset({1, 2, 3}))
    assert not total_order_predicate(qv, 3, 9, 9, 1, 0, 0)
    assert total_order_predicate(qv, 2, 9, 9, 1, 0, 0)
    assert total_order_predicate(V3, 3, 9, 9, 1, 0, 0)


def test_check_long() -> None:
    assert check_long(LONG_MAX, "x") == LONG_MAX
    with pytest.raises(InternalError, match="x = "):
        check_long(LONG_MAX + 1, "x")


# ---- Vote.equals (Vote.java L107-152) ----
@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        (Vote(3, 5, 1, 1), Vote(3, 5, 1, 1), True),
        (Vote(3, 5, 1, 1), Vote(3, 4, 1, 1), False),  # LOOKING: zxid matters
        (Vote(3, 5, 1, 1), Vote(3, 5, 2, 1), False),  # LOOKING: round matters
        (Vote(3, 5, 1, 1), Vote(3, 5, 1, 1, FOLLOWING, 2), True),  # either LOOKING -> full equality
        (Vote(3, 5, 1, 1), Vote(3, 4, 1, 1, FOLLOWING, 2), False),
        (Vote(3, 5, 1, 1, FOLLOWING, 2), Vote(3, 0, 9, 1, LEADING, 2), True),  # F/L: zxid and round ignored
        (Vote(3, 5, 1, 1, FOLLOWING, 2), Vote(3, 5, 1, 2, LEADING, 2), False),  # both v>0: peerEpoch matters
        (Vote(3, 5, 1, 1, FOLLOWING, 0), Vote(3, 5, 1, 2, LEADING, 0), False),  # both v0: peerEpoch matters
        (Vote(3, 5, 1, 1, FOLLOWING, 0), Vote(3, 0, 7, 2, LEADING, 2), True),  # XOR: leader id only
        (Vote(3, 5, 1, 1, FOLLOWING, 2), Vote(2, 5, 1, 1, FOLLOWING, 0), False),
        (Vote(3, 5, 1, 1, OBSERVING, 2), Vote(3, 5, 1, 1, FOLLOWING, 2), True),
    ],
)
def test_vote_equals_table(a: Vote, b: Vote, equal: bool) -> None:
    assert vote_equals(a, b) is equal
    assert vote_equals(b, a) is equal


def test_vote_equals_is_not_dataclass_equality() -> None:
    a, b = Vote(3, 5, 1, 1, FOLLOWING, 2), Vote(3, 0, 9, 1, LEADING, 2)
    assert vote_equals(a, b) and a != b


# ---- vote tracker and checkLeader ----
def test_tracker_counts_voters_only() -> None:
    """SyncedLearnerTracker.addAck: acks of non-voters (observer 4, unknown 9) never count."""
    qv = QuorumMaj(frozenset({1, 2, 3}), frozenset({4}))
    cand = Vote(2, 0, 1, 0)
    votes = {1: Vote(2, 0, 1, 0), 4: Vote(2, 0, 1, 0), 9: Vote(2, 0, 1, 0)}
    assert agreeing_sids(votes, cand) == {1, 4, 9}
    assert not has_all_quorums((qv,), votes, cand)
    assert has_all_quorums((qv,), {**votes, 3: Vote(2, 0, 1, 0)}, cand)


def test_tracker_needs_every_verifier() -> None:
    """hasAllQuorums: a quorum of the committed and of a newer last-seen verifier."""
    old, new = QuorumMaj(frozenset({1, 2, 3})), QuorumMaj(frozenset({3, 4, 5}), version=1)
    votes = {s: Vote(3, 0, 1, 0) for s in (1, 2, 3)}
    assert has_all_quorums((old,), votes, Vote(3, 0, 1, 0))
    assert not has_all_quorums((old, new), votes, Vote(3, 0, 1, 0))


def test_tracker_hierarchical() -> None:
    """QuorumHierarchical.containsQuorum: a majority of groups, each by weight."""
    qv = QuorumHierarchical(groups={1: frozenset({1, 2}), 2: frozenset({3, 4}), 3: frozenset({5, 6})},
                            weights={}, voters=frozenset(range(1, 7)))  # fmt: skip
    v = Vote(1, 0, 1, 0)
    assert not has_all_quorums((qv,), {1: v, 2: v, 3: v}, v)
    assert has_all_quorums((qv,), {1: v, 2: v, 3: v, 4: v}, v)


@pytest.mark.parametrize(
    ("votes", "leader", "rnd", "clock", "ok"),
    [
        ({3: Vote(3, 0, 1, 0, LEADING)}, 3, 1, 1, True),
        ({3: Vote(3, 0, 1, 0, FOLLOWING)}, 3, 1, 1, False),
        ({3: Vote(3, 0, 1, 0, LOOKING)}, 3, 1, 1, False),
        ({}, 3, 1, 1, False),
        ({}, 1, 4, 4, True),  # leader is me: my round must be the notification's
        ({}, 1, 4, 5, False),
    ],
)
def test_check_leader(votes: dict[int, Vote], leader: int, rnd: int, clock: int, ok: bool) -> None:
    """FLE L792-814."""
    assert check_leader(votes, leader, rnd, myid=1, logicalclock=clock) is ok


def test_receiver_states_are_constants() -> None:
    assert (LOOKING, FOLLOWING, LEADING, OBSERVING) == (0, 1, 2, 3)
