"""WorkerReceiver's rules: what happens to a notification before ``lookForLeader`` sees it, and the replies.

Rules (FastLeaderElection.WorkerReceiver.run, L232-474):
  * A notification from a *non-voter* (an observer, an unknown sid) is answered at once with the stored
    ``currentVote``, the live ``logicalclock`` and my state, and goes no further: non-voters never reach
    ``lookForLeader`` and are never counted.
  * A state code outside 0..3 is dropped silently (after the non-voter check).
  * While I am LOOKING every voter's notification is queued for ``lookForLeader`` (every state, every round);
    if it is a LOOKING notification from an older round, the sender also gets my *live* proposal and round.
  * While I am FOLLOWING/LEADING/OBSERVING, a voter's LOOKING notification is answered with my stored
    ``currentVote`` (its own round, and the peerEpoch updated by ``updateElectionVote``); FOLLOWING, LEADING
    and OBSERVING notifications are dropped.
  * Config bytes are carried but not acted on: zkfle runs static configs only (no ``processReconfig``).

Theory of operation:
  :func:`worker_receive` is a pure function of the receiver's view of the peer (a :class:`ReceiverView`), so
  the election can call it first for every ``Received`` event and then queue the notification.  ZooKeeper
  runs WorkerReceiver in its own thread; zkfle runs it synchronously, *before* ``lookForLeader`` handles the
  same notification (the one ordering choice here: the reply reflects the state before that notification was
  processed, which is also what ZooKeeper's receiver sees, since it replies right after ``recvqueue.offer``).
"""

from __future__ import annotations

from dataclasses import dataclass

from zkfle.impl.events import LOOKING, OBSERVING, Notification, Send, Vote

_KNOWN_STATES = range(LOOKING, OBSERVING + 1)


@dataclass(frozen=True, slots=True)
class ReceiverView:
    """What WorkerReceiver reads from its QuorumPeer and FLE when a message comes in."""

    myid: int
    state: int  # self.getPeerState()
    voters: frozenset[int]  # getCurrentAndNextConfigVoters()
    logicalclock: int
    current_vote: Vote  # self.getCurrentVote(): the stored vote of the last finished election
    proposal: Vote  # getVote(): the live (proposedLeader, proposedZxid, proposedEpoch)
    config: bytes  # qv.toString() as UTF-8, sent in every reply


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the receiver did with one message: replies sent, and whether lookForLeader gets it."""

    replies: tuple[Send, ...]
    enqueue: bool


def _reply(view: ReceiverView, to: int, state: int, vote: Vote, election_epoch: int) -> Send:
    # FastLeaderElection.buildMsg via ToSend: (state, leader, zxid, round, peerEpoch, config) on the wire.
    n = Notification(
        state=state,
        leader=vote.leader,
        zxid=vote.zxid,
        election_epoch=election_epoch,
        peer_epoch=vote.peer_epoch,
        config=view.config,
    )
    return Send(to, n)


# FastLeaderElection.WorkerReceiver.run
def worker_receive(view: ReceiverView, sid: int, n: Notification) -> Receipt:
    """Apply WorkerReceiver's rules to a notification n that arrived from sid."""
    if sid not in view.voters:  # !validVoter(response.sid), L343-356
        return Receipt((_reply(view, sid, view.state, view.current_vote, view.logicalclock),), enqueue=False)
    if n.state not in _KNOWN_STATES:  # switch (rstate) default: continue, L363-378
        return Receipt((), enqueue=False)
    if view.state == LOOKING:  # L408-430
        replies: tuple[Send, ...] = ()
        if n.state == LOOKING and n.election_epoch < view.logicalclock:
            replies = (_reply(view, sid, LOOKING, view.proposal, view.logicalclock),)
        return Receipt(replies, enqueue=True)
    if n.state == LOOKING:  # L431-466: answer a LOOKING voter with the stored currentVote
        cur = view.current_vote
        return Receipt((_reply(view, sid, view.state, cur, cur.election_epoch),), enqueue=False)
    return Receipt((), enqueue=False)
