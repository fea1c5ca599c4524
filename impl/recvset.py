"""Vote trackers: which entries of ``recvset``/``outofelection`` agree with a candidate, and is that a quorum.

Rules (FastLeaderElection.getVoteTracker L760-779, SyncedLearnerTracker L29-60):
  * An entry acks the candidate when ``Vote.equals`` holds (see :func:`zkfle.impl.vote.vote_equals`).
  * Only voting members of each tracked quorum verifier count (``SyncedLearnerTracker.addAck``).
  * ``hasAllQuorums`` needs a quorum in *every* tracked verifier.  With a static config (all zkfle supports)
    ZooKeeper's ``lastSeenQuorumVerifier`` is the committed one, so there is exactly one.

Theory of operation:
  ``recvset`` maps sid -> the sender's latest vote of the current round; ``outofelection`` maps sid -> the
  sender's latest FOLLOWING/LEADING vote of any round.  Both are plain dicts owned by the election; this
  module only reads them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from zkfle.impl.events import LEADING, Vote
from zkfle.impl.vote import vote_equals
from zkfle.quorum import QuorumVerifier, acks_of


# FastLeaderElection.getVoteTracker + SyncedLearnerTracker.addAck
def agreeing_sids(votes: Mapping[int, Vote], candidate: Vote) -> frozenset[int]:
    """The sids whose recorded vote ``equals`` the candidate (before filtering to voters)."""
    return frozenset(sid for sid, v in votes.items() if vote_equals(candidate, v))


# SyncedLearnerTracker.hasAllQuorums
def has_all_quorums(qvs: Sequence[QuorumVerifier], votes: Mapping[int, Vote], candidate: Vote) -> bool:
    """Do the entries agreeing with the candidate form a quorum of voters in every tracked verifier?"""
    agree = agreeing_sids(votes, candidate)
    return all(qv.contains_quorum(acks_of(qv, agree)) for qv in qvs)


# FastLeaderElection.checkLeader
def check_leader(
    votes: Mapping[int, Vote], leader: int, election_epoch: int, *, myid: int, logicalclock: int
) -> bool:
    """Has the leader itself said it leads (another sid), or is this my own round (me as leader)?"""
    if leader != myid:
        entry = votes.get(leader)
        return entry is not None and entry.state == LEADING
    return logicalclock == election_epoch
