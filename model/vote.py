"""Votes: the order on proposals (``totalOrderPredicate``) and what "the same vote" means (``Vote.equals``).

Rules, as ZooKeeper 3.8.0 has them (reference §1.3 and the ``Vote.equals`` table of §1.5):

- A proposal is ``(leader, zxid, peerEpoch)``. It is *better* when its weight is non-zero and it is larger
  in the order (peerEpoch, zxid, leader sid); the predicate is strict.
- A recorded vote is ``(sid, leader, zxid, round, peerEpoch, state)``. Matching a LOOKING candidate needs
  full equality on (leader, zxid, round, peerEpoch); a FOLLOWING/LEADING candidate matches FOLLOWING/LEADING
  entries of ``recvset`` on the leader id alone (the stored entry has version 0, the candidate version 2),
  and ``outofelection`` entries on (leader, peerEpoch).

The functions here are built once per model (``make_predicate``) so the hot path is a plain closure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from zkfle.model.variant import Variant

# Server states, as ``ServerState.ordinal()`` puts them on the wire.
LOOKING, FOLLOWING, LEADING, OBSERVING = 0, 1, 2, 3
STATE_NAMES = ("LOOKING", "FOLLOWING", "LEADING", "OBSERVING")
# Long.MIN_VALUE: an observer's initial vote (getInitId / getInitLastLoggedZxid / getPeerEpoch).
MIN_VALUE = -(1 << 63)

Predicate = Callable[[int, int, int, int, int, int], bool]


def make_predicate(variant: Variant, weights: Mapping[int, int]) -> Predicate:
    """``totalOrderPredicate(newId, newZxid, newEpoch, curId, curZxid, curEpoch)`` for one variant."""
    zero: frozenset[int] = frozenset()
    if variant.weight_zero_guard:
        zero = frozenset(sid for sid, w in weights.items() if w == 0)

    if variant.predicate == "ZK-1419":

        # FastLeaderElection.totalOrderPredicate, 3.4.0-3.4.3: the third clause lacks newEpoch == curEpoch
        def predicate_1419(nid: int, nzxid: int, nepoch: int, cid: int, czxid: int, cepoch: int) -> bool:
            if nid in zero:
                return False
            return (
                nepoch > cepoch
                or (nepoch == cepoch and nzxid > czxid)
                or (nzxid == czxid and nid > cid)
            )

        return predicate_1419

    # FastLeaderElection.totalOrderPredicate (3.8.0)
    def predicate(nid: int, nzxid: int, nepoch: int, cid: int, czxid: int, cepoch: int) -> bool:
        if nid in zero:
            return False
        return nepoch > cepoch or (nepoch == cepoch and (nzxid > czxid or (nzxid == czxid and nid > cid)))

    return predicate


def is_total_order(predicate: Predicate, votes: list[tuple[int, int, int]]) -> bool:
    """Is ``predicate`` a strict total order on these (leader, zxid, peerEpoch) votes? (a test helper)"""
    for a in votes:
        if predicate(*a, *a):
            return False
        for b in votes:
            if a != b and predicate(*a, *b) and predicate(*b, *a):
                return False
    return True
