"""Votes and how FLE compares them: ``totalOrderPredicate`` and ``Vote.equals``.

Rules (ZooKeeper 3.8.0, FastLeaderElection.java L723-748 and Vote.java L107-152):
  * A vote is *better* when its (peerEpoch, zxid, sid) is larger, compared in that order as signed 64-bit
    ``long`` values; an equal triple is not better.  A candidate whose quorum weight is 0 is never better,
    whatever its triple (it is not removed, only never adopted).
  * Two votes *agree* (``Vote.equals``) on the full (leader, zxid, round, peerEpoch) when either is LOOKING.
    Between two FOLLOWING/LEADING/OBSERVING votes, when exactly one of them has ``version > 0`` (the XOR rule
    kept for servers from before ZOOKEEPER-1732) only the leader id counts; otherwise (leader, peerEpoch).

Theory of operation:
  ``Vote`` itself is the frozen dataclass of :mod:`zkfle.impl.events`; its ``==`` is structural and is NOT
  what ZooKeeper calls equality.  Every place the election asks "do these two votes agree?" calls
  :func:`vote_equals`, and every "is this one better?" calls :func:`total_order_predicate`.  Python integers
  are unbounded, so :func:`check_long` keeps every value inside Java's ``long`` range at the door; inside it
  Python's ``<`` is exactly Java's signed comparison.
"""

from __future__ import annotations

from zkfle.errors import InternalError
from zkfle.impl.events import LOOKING, Vote
from zkfle.quorum import QuorumVerifier

LONG_MIN = -(2**63)
LONG_MAX = 2**63 - 1
INT_MIN = -(2**31)
INT_MAX = 2**31 - 1


def check_long(value: int, what: str) -> int:
    """Return value if it fits a Java ``long``; a value outside it is a bug in whoever built the message."""
    if not LONG_MIN <= value <= LONG_MAX:
        raise InternalError(f"{what} = {value} does not fit a signed 64-bit long (the caller's bug)")
    return value


def check_int(value: int, what: str) -> int:
    """Return value if it fits a Java ``int``."""
    if not INT_MIN <= value <= INT_MAX:
        raise InternalError(f"{what} = {value} does not fit a signed 32-bit int (the caller's bug)")
    return value


# FastLeaderElection.totalOrderPredicate
def total_order_predicate(
    qv: QuorumVerifier, new_id: int, new_zxid: int, new_epoch: int, cur_id: int, cur_zxid: int, cur_epoch: int
) -> bool:
    """Is the vote (new_id, new_zxid, new_epoch) better than the current (cur_id, cur_zxid, cur_epoch)?"""
    if qv.weight(new_id) == 0:
        return False
    if new_epoch != cur_epoch:
        return new_epoch > cur_epoch
    if new_zxid != cur_zxid:
        return new_zxid > cur_zxid
    return new_id > cur_id


# Vote.equals
def vote_equals(a: Vote, b: Vote) -> bool:
    """ZooKeeper's notion of two votes agreeing (symmetric)."""
    if a.state == LOOKING or b.state == LOOKING:
        return (
            a.leader == b.leader
            and a.zxid == b.zxid
            and a.election_epoch == b.election_epoch
            and a.peer_epoch == b.peer_epoch
        )
    if (a.version > 0) != (b.version > 0):
        return a.leader == b.leader
    return a.leader == b.leader and a.peer_epoch == b.peer_epoch
