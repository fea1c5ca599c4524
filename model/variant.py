"""The model's variant knobs: ZooKeeper 3.8.0 by default, historical faults on demand.

Rules:

- A ``Variant`` is frozen and hashable; its default value *is* ZooKeeper 3.8.0's Fast Leader Election.
- Each knob flips exactly one historical decision in the code, named after the JIRA that changed it, so a
  mutant (``zkfle.model.mutants``) is just a ``Variant`` with one or two knobs turned.
- The model reads the knobs once, when it builds its per-config tables; nothing else looks at them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from zkfle.errors import UserInputError

PREDICATES = ("3.8.0", "ZK-1419")
ROUND_JUMPS = ("initial", "keep", "self")


@dataclass(frozen=True)
class Variant:
    """Which FLE the model runs. Every default is what ZooKeeper 3.8.0 does, except ``atomic_decision``."""

    # totalOrderPredicate: "3.8.0" = (peerEpoch, zxid, sid) lexicographic; "ZK-1419" = 3.4.0-3.4.3, whose
    # third clause compares zxid and sid without requiring newEpoch == curEpoch.
    predicate: str = "3.8.0"
    # lookForLeader's quorum branch waits finalizeWait for a better vote (False: decide at once).
    finalize_wait: bool = True
    # A LOOKING notification from a newer round: "initial" = compare with the recomputed initial vote (3.8.0);
    # "keep" = compare with the current proposal; "self" = reset to the own vote without comparing (ZK-275).
    round_jump: str = "initial"
    # checkLeader runs on the FOLLOWING/LEADING exits (False: ZK-159, follow without the leader's word).
    check_leader: bool = True
    # checkLeader for a self-leader requires logicalclock == n.electionEpoch (False: ZK-1514).
    check_leader_round_for_self: bool = True
    # checkLeader for a self-leader also needs a LEADING entry from self (True: ZK-480's over-strict check).
    check_leader_self_needs_leading: bool = False
    # totalOrderPredicate's weight-0 rule (False: ZK-498, a weight-0 server can win).
    weight_zero_guard: bool = True
    # QuorumPeer.updateElectionVote after discovery plus (leader, peerEpoch) matching of outofelection
    # (False: ZK-1732, stale peerEpoch in replies and full-vote matching).
    update_election_vote: bool = True
    # lookForLeader's pre-3.4.0 shortcut: once recvset holds a vote from every voter (and the proposed leader
    # has a non-zero weight), decide on the own proposal at once (True: ZK-975, removed in 3.4.0).
    all_votes_shortcut: bool = False
    # receivedFollowingNotification's same-round path: the vote goes into recvset with its state and
    # checkLeader reads recvset (3.6.0 on). False: ZK-3537 (before 3.6.0): recvset gets the vote as a LOOKING
    # one and checkLeader reads outofelection.
    same_round_check_recvset: bool = True
    # The one default that is an abstraction, not 3.8.0: the decision sets currentVote in the same step.
    # False: as in 3.8.0, lookForLeader only sets the state; QuorumPeer.run's setCurrentVote(endVote) is a
    # step of its own, and until it runs WorkerReceiver answers with the previous vote (divergence D1).
    atomic_decision: bool = True

    def __post_init__(self) -> None:
        if self.predicate not in PREDICATES:
            raise UserInputError(f"unknown predicate {self.predicate!r}; valid: {', '.join(PREDICATES)}")
        if self.round_jump not in ROUND_JUMPS:
            raise UserInputError(f"unknown round_jump {self.round_jump!r}; valid: {', '.join(ROUND_JUMPS)}")

    def changes(self) -> dict[str, object]:
        """The knobs that differ from ZooKeeper 3.8.0 (empty for the default)."""
        default = asdict(Variant())
        return {k: v for k, v in asdict(self).items() if default[k] != v}


ZK_3_8_0 = Variant()
