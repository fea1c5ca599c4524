"""The core's event/action vocabulary: the fixed contract between the sans-I/O election core and the node.

Rules:
  * Everything here is a frozen, slotted dataclass: values, never behaviour.
  * Integers carry Java semantics where ZooKeeper uses ``long``: ``leader``, ``zxid``, ``election_epoch`` and
    ``peer_epoch`` are signed 64-bit values (the node range-checks them when it decodes the wire).
  * State ordinals are ``QuorumPeer.ServerState`` ordinals, exactly as they travel on the wire.

Theory of operation:
  The node (``zkfle.impl`` I/O side) feeds the core one *event* at a time through
  ``FastLeaderElection.handle(event)`` and carries out the returned *actions* in order.  Events are what
  ``lookForLeader`` and ``WorkerReceiver`` react to in ZooKeeper (a notification arrived, ``recvqueue.poll``
  timed out, the finalize wait elapsed, Zab established an epoch, the leader or the quorum was lost); actions
  are what they do (queue a notification for a peer, change the peer state, wait on the queue with a timeout,
  ``QuorumCnxManager.connectAll``, return the end vote).  Sends addressed to ``myid`` are the loop-back: the
  node delivers them back as ``Received(myid, n)``, preserving order.
"""

from __future__ import annotations

from dataclasses import dataclass

# QuorumPeer.ServerState ordinals, as on the wire.
LOOKING, FOLLOWING, LEADING, OBSERVING = 0, 1, 2, 3

# QuorumPeer.LearnerType, as spelled in zoo.cfg.
PARTICIPANT, OBSERVER = "participant", "observer"


@dataclass(frozen=True, slots=True)
class Notification:
    """One election message, as decoded from / encoded to the wire (FastLeaderElection.Notification)."""

    state: int  # 0..3
    leader: int  # proposed/known leader sid (signed 64-bit)
    zxid: int  # signed 64-bit
    election_epoch: int  # the round (logicalclock)
    peer_epoch: int
    version: int = 2  # 0 for the 28-byte and 40-byte formats
    config: bytes = b""  # the config text bytes (version >= 2)


@dataclass(frozen=True, slots=True)
class Vote:
    """Vote.java: id, zxid, electionEpoch, peerEpoch, state, version."""

    leader: int
    zxid: int
    election_epoch: int
    peer_epoch: int
    state: int = LOOKING
    version: int = 0


# ---------------------------------------------------------------------------------------------------------
# Events: inputs to FastLeaderElection.handle(event) -> list[Action]
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartElection:
    """lookForLeader() begins (also after Lost)."""


@dataclass(frozen=True, slots=True)
class Received:
    """A notification from sid (including the node's own loop-back: sid == myid)."""

    sid: int
    n: Notification


@dataclass(frozen=True, slots=True)
class PollTimeout:
    """recvqueue.poll(notTimeout) timed out; have_delivered is manager.haveDelivered()."""

    have_delivered: bool


@dataclass(frozen=True, slots=True)
class FinalizeTimeout:
    """finalizeWait (200 ms) passed with nothing better arriving."""


@dataclass(frozen=True, slots=True)
class Established:
    """Zab is done: updateElectionVote(epoch)."""

    epoch: int


@dataclass(frozen=True, slots=True)
class Lost:
    """The leader or the quorum was lost: back to LOOKING, a new lookForLeader (round + 1)."""

    reason: str


# ---------------------------------------------------------------------------------------------------------
# Actions: outputs of FastLeaderElection.handle
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    """Queue notification n for sid (including sid == myid: the loop-back)."""

    sid: int
    n: Notification


@dataclass(frozen=True, slots=True)
class ChangeState:
    """Peer state changed: the peer now is in state with this vote."""

    state: int
    vote: Vote


@dataclass(frozen=True, slots=True)
class ArmTimer:
    """Arm timer name ("poll" or "finalize") for ms milliseconds; re-arming replaces the pending one."""

    name: str
    ms: int


@dataclass(frozen=True, slots=True)
class CancelTimer:
    """Disarm timer name if it is pending."""

    name: str


@dataclass(frozen=True, slots=True)
class ConnectAll:
    """manager.connectAll(): (re)connect to every voter."""


@dataclass(frozen=True, slots=True)
class Decided:
    """lookForLeader returned endVote; the peer is now in state."""

    vote: Vote
    state: int


Event = StartElection | Received | PollTimeout | FinalizeTimeout | Established | Lost
Action = Send | ChangeState | ArmTimer | CancelTimer | ConnectAll | Decided

__all__ = [
    "FOLLOWING",
    "LEADING",
    "LOOKING",
    "OBSERVER",
    "OBSERVING",
    "PARTICIPANT",
    "Action",
    "ArmTimer",
    "CancelTimer",
    "ChangeState",
    "ConnectAll",
    "Decided",
    "Established",
    "Event",
    "FinalizeTimeout",
    "Lost",
    "Notification",
    "PollTimeout",
    "Received",
    "Send",
    "StartElection",
    "Vote",
]
