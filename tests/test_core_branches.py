"""lookForLeader and WorkerReceiver, branch by branch: hand-built situations, the exact actions expected.

Each case cites the line of /work/shared/reference/zookeeper-3.8-fle.md §1.5-1.6 (FLE =
FastLeaderElection.java at release-3.8.0) it checks.  A case is (core, events fed first, the event under
test, the exact actions it must return, and a check of the state after).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from zkfle.errors import InternalError
from zkfle.impl.election import FastLeaderElection
from zkfle.impl.events import (
    FOLLOWING,
    LEADING,
    LOOKING,
    OBSERVER,
    OBSERVING,
    PARTICIPANT,
    Action,
    ArmTimer,
    CancelTimer,
    ChangeState,
    ConnectAll,
    Decided,
    Established,
    Event,
    FinalizeTimeout,
    Lost,
    Notification,
    PollTimeout,
    Received,
    Send,
    StartElection,
    Vote,
)
from zkfle.impl.vote import LONG_MIN
from zkfle.quorum import QuorumHierarchical, QuorumMaj, QuorumVerifier

V3 = QuorumMaj(frozenset({1, 2, 3}))
V3O = QuorumMaj(frozenset({1, 2, 3}), frozenset({4}))
V5 = QuorumMaj(frozenset({1, 2, 3, 4, 5}))
Z = 0x1_0000_0003  # a zxid of epoch 1


def looking(leader: int, zxid: int, rnd: int, pe: int, version: int = 2) -> Notification:
    return Notification(LOOKING, leader, zxid, rnd, pe, version)


def following(leader: int, zxid: int, rnd: int, pe: int, version: int = 2) -> Notification:
    return Notification(FOLLOWING, leader, zxid, rnd, pe, version)


def leading(leader: int, zxid: int, rnd: int, pe: int, version: int = 2) -> Notification:
    return Notification(LEADING, leader, zxid, rnd, pe, version)


def bcast(leader: int, zxid: int, rnd: int, pe: int, voters: tuple[int, ...] = (1, 2, 3)) -> list[Action]:
    """sendNotifications(): the proposal to every voter, myid included, ascending."""
    return [Send(s, looking(leader, zxid, rnd, pe)) for s in voters]


POLL200: list[Action] = [ArmTimer("poll", 200)]


def at_once(state: int, vote: Vote) -> list[Action]:
    """A decision taken while polling (no finalize wait): the poll timer goes, the state changes."""
    return [CancelTimer("poll"), ChangeState(state, vote), Decided(vote, state)]
START = StartElection()


@dataclass
class Case:
    name: str
    cites: str
    event: Event
    expected: list[Action]
    setup: list[Event] = field(default_factory=list)
    myid: int = 1
    qv: QuorumVerifier = V3
    zxid: int = 0
    epoch: int = 0
    learner: str = PARTICIPANT
    check: Callable[[FastLeaderElection], bool] = lambda c: True


def make(case: Case) -> FastLeaderElection:
    return FastLeaderElection(
        case.myid, case.qv, last_zxid=case.zxid, current_epoch=case.epoch, learner_type=case.learner
    )


# core 1 of {1,2,3} at round 1 whose recvset holds a quorum {2,3} for (2,0,1,0): it is in the finalize wait.
FINALIZING_ON_2 = [START, Received(1, looking(1, 0, 1, 0)), Received(2, looking(2, 0, 1, 0)),
                   Received(3, looking(2, 0, 1, 0))]  # fmt: skip
# core 1 that followed 2 in round 1
FOLLOWED_2 = [*FINALIZING_ON_2, FinalizeTimeout()]

CASES: list[Case] = [
    # ---- lookForLeader start, L941-950 ---------------------------------------------------------------------
    Case("start", "L941-950 logicalclock+1, updateProposal(initial), sendNotifications", START,
         [*bcast(1, 0, 1, 0), *POLL200],
         check=lambda c: c.logicalclock == 1 and c.proposal == (1, 0, 0) and c.state == LOOKING),
    Case("start-persistent", "§1.2 getInitLastLoggedZxid/getPeerEpoch", START, [*bcast(1, Z, 1, 1), *POLL200],
         zxid=Z, epoch=1),
    Case("start-observer", "§1.2 getInitId = Long.MIN_VALUE; sends to voters only", START,
         [*bcast(LONG_MIN, LONG_MIN, 1, LONG_MIN), *POLL200], myid=4, qv=V3O, learner=OBSERVER),
    Case("queued-before-start", "§1.6 recvqueue.offer while LOOKING; handled once lookForLeader polls", START,
         [*bcast(1, 0, 1, 0), *bcast(2, 0, 1, 0), *POLL200], setup=[Received(2, looking(2, 0, 1, 0))],
         check=lambda c: dict(c.recvset) == {2: Vote(2, 0, 1, 0)}),
    # ---- timeout branch, L969-997 --------------------------------------------------------------------------
    Case("timeout-redeliver", "L971-972 haveDelivered -> sendNotifications; L979 notTimeout*2",
         PollTimeout(True), [*bcast(1, 0, 1, 0), ArmTimer("poll", 400)], setup=[START],
         check=lambda c: c.not_timeout_ms == 400),
    Case("timeout-connect", "L973-975 !haveDelivered -> connectAll only", PollTimeout(False),
         [ConnectAll(), ArmTimer("poll", 400)], setup=[START]),
    Case("timeout-not-reset-by-traffic", "L939/L979 notTimeout is never reset within lookForLeader",
         Received(2, looking(1, 0, 1, 0)), [ArmTimer("poll", 400)], setup=[START, PollTimeout(False)]),
    Case("timeout-stale-before-start", "no poll pending: a stale timer is ignored", PollTimeout(True), []),
    # ---- validity, L998 ------------------------------------------------------------------------------------
    Case("leader-observer", "L998/L1122 !validVoter(n.leader): ignored", Received(2, looking(4, 0, 1, 0)),
         POLL200, setup=[START], qv=V3O, check=lambda c: not c.recvset),
    Case("leader-unknown", "L998/L1127 leader not a voter: ignored", Received(2, following(9, 0, 1, 0)),
         POLL200, setup=[START], check=lambda c: not c.recvset and not c.outofelection),
    # ---- case LOOKING, L1004-1067 --------------------------------------------------------------------------
    Case("my-zxid-minus-1", "L1005-1007 getInitLastLoggedZxid() == -1: ignore",
         Received(2, looking(2, 0, 1, 0)), POLL200, setup=[START], zxid=-1,
         check=lambda c: not c.recvset and c.proposal == (1, -1, 0)),
    Case("n-zxid-minus-1", "L1008-1010 n.zxid == -1: ignore", Received(2, looking(2, -1, 1, 0)), POLL200,
         setup=[START], check=lambda c: not c.recvset),
    Case("newer-round-adopt", "L1011-1020 newer round: clock := n.round, better than initial -> adopt",
         Received(2, looking(2, 0, 5, 0)), [*bcast(2, 0, 5, 0), *POLL200], setup=[START],
         check=lambda c: c.logicalclock == 5 and dict(c.recvset) == {2: Vote(2, 0, 5, 0)}),
    Case("newer-round-clears-recvset", "L1013 recvset.clear()", Received(2, looking(1, 0, 5, 0)),
         [*bcast(1, 0, 5, 0), *POLL200], setup=[START, Received(1, looking(1, 0, 1, 0))],
         check=lambda c: dict(c.recvset) == {2: Vote(1, 0, 5, 0)}),
    Case("newer-round-vs-initial", "L1014-1017 compared with the INITIAL vote, not the proposal",
         Received(2, looking(2, 0, 2, 0)), [*bcast(2, 0, 2, 0), *POLL200],
         setup=[START, Received(3, looking(3, 0, 1, 0))], check=lambda c: c.proposal == (2, 0, 0)),
    Case("newer-round-back-to-initial", "L1018-1020 not better than initial -> own initial vote again",
         Received(1, looking(1, 0, 2, 0)), [*bcast(2, 0, 2, 0), *POLL200], myid=2,
         setup=[START, Received(3, looking(3, 0, 1, 0))], check=lambda c: c.proposal == (2, 0, 0)),
    Case("older-round", "L1026-1030 older round dropped; §1.6 L416-428 reply with live proposal and clock",
         Received(3, looking(3, 9, 1, 0)), [Send(3, looking(2, 0, 3, 0)), *POLL200],
         setup=[START, Received(2, looking(2, 0, 3, 0))],
         check=lambda c: 3 not in c.recvset and c.proposal == (2, 0, 0)),
    Case("same-round-better", "L1031-1037 same round, better: adopt and sendNotifications",
         Received(2, looking(2, 0, 1, 0)), [*bcast(2, 0, 1, 0), *POLL200], setup=[START]),
    Case("same-round-not-better", "L1042 not better: recorded, nothing sent",
         Received(1, looking(1, 0, 1, 0)), POLL200, myid=2, setup=[START],
         check=lambda c: dict(c.recvset) == {1: Vote(1, 0, 1, 0)}),
    Case("same-round-equal", "§1.3 the predicate is strict: an equal triple is not better",
         Received(2, looking(1, 0, 1, 0)), POLL200, setup=[START]),
    Case("peer-epoch-first", "§1.3 peerEpoch outranks zxid", Received(1, looking(1, 5, 1, 1)),
         [*bcast(1, 5, 1, 1), *POLL200], myid=3, zxid=100, setup=[START]),
    Case("zxid-before-sid", "§1.3 zxid outranks sid", Received(3, looking(3, 4, 1, 0)), POLL200,
         myid=1, zxid=5, setup=[START]),
    Case("signed-zxid", "§1.3 signed long: a negative zxid is smaller", Received(2, looking(2, -7, 1, 0)),
         POLL200, setup=[START]),
    Case("quorum-finalize", "L1044-1046 hasAllQuorums -> the finalize wait begins",
         Received(3, looking(2, 0, 1, 0)), [CancelTimer("poll"), ArmTimer("finalize", 200)],
         setup=FINALIZING_ON_2[:-1], check=lambda c: c.finalizing),
    Case("same-leader-other-zxid", "Vote.equals L113-117: votes for one leader, other zxids: no sum",
         Received(3, looking(2, 0, 1, 0)), POLL200, setup=[START, Received(2, looking(2, 5, 1, 0))],
         check=lambda c: not c.finalizing and len(c.recvset) == 2),
    # ---- finalize wait, L1049-1065 -------------------------------------------------------------------------
    Case("finalize-follow", "L1060-1065 200 ms with nothing better: setPeerState, return endVote",
         FinalizeTimeout(), [ChangeState(FOLLOWING, Vote(2, 0, 1, 0)), Decided(Vote(2, 0, 1, 0), FOLLOWING)],
         setup=FINALIZING_ON_2,
         check=lambda c: c.state == FOLLOWING and c.current_vote == Vote(2, 0, 1, 0) and not c.running),
    Case("finalize-lead", "L899-905 setPeerState: proposedLeader == myid -> LEADING", FinalizeTimeout(),
         [ChangeState(LEADING, Vote(2, 0, 1, 0)), Decided(Vote(2, 0, 1, 0), LEADING)], myid=2,
         setup=[START, Received(2, looking(2, 0, 1, 0)), Received(1, looking(2, 0, 1, 0))]),
    Case("finalize-discard", "L1049-1054 not better: discarded, the 200 ms wait restarts",
         Received(3, looking(1, 0, 1, 0)), [ArmTimer("finalize", 200)], setup=FINALIZING_ON_2,
         check=lambda c: c.finalizing and c.recvset[3] == Vote(2, 0, 1, 0)),
    Case("finalize-discard-following", "L1050 the drain ignores state: an F/L vote not better is discarded",
         Received(3, leading(2, 0, 1, 0)), [ArmTimer("finalize", 200)], setup=FINALIZING_ON_2,
         check=lambda c: c.finalizing and not c.outofelection),
    Case("finalize-better", "L1050-1053 better: re-queued at the tail, processed by the loop",
         Received(3, looking(3, 0, 1, 0)), [CancelTimer("finalize"), *bcast(3, 0, 1, 0), *POLL200],
         setup=FINALIZING_ON_2, check=lambda c: not c.finalizing and c.proposal == (3, 0, 0)),
    Case("finalize-better-older-round", "L1050 the drain ignores the round; re-processed, dropped by L1026",
         Received(3, looking(3, 0, 1, 0)),
         [Send(3, looking(2, 0, 4, 0)), CancelTimer("finalize"), *POLL200],
         setup=[START, Received(2, looking(2, 0, 4, 0)), Received(3, looking(2, 0, 4, 0))],
         check=lambda c: not c.finalizing and c.proposal == (2, 0, 0) and c.recvset[3] == Vote(2, 0, 4, 0)),
    Case("finalize-stale", "no finalize wait pending: a stale timer is ignored", FinalizeTimeout(), [],
         setup=[START]),
    Case("observer-observes", "§1.7 learningState() = OBSERVING", FinalizeTimeout(),
         [ChangeState(OBSERVING, Vote(3, 0, 1, 0)), Decided(Vote(3, 0, 1, 0), OBSERVING)], myid=4, qv=V3O,
         learner=OBSERVER, setup=[START, Received(1, looking(3, 0, 1, 0)), Received(2, looking(3, 0, 1, 0))]),
    # ---- FOLLOWING / LEADING, L1097-1117, receivedFollowingNotification L1145-1182 -------------------------
    Case("same-round-follow", "L1147-1160 recvset quorum + checkLeader: no finalize wait",
         Received(3, leading(3, 0, 1, 0)),
         at_once(FOLLOWING, Vote(3, 0, 1, 0)),
         setup=[START, Received(2, following(3, 0, 1, 0))], check=lambda c: c.logicalclock == 1),
    Case("quorum-without-leader", "L792-814 checkLeader: the leader itself must say LEADING",
         Received(5, following(3, 0, 1, 0)), POLL200, qv=V5,
         setup=[START, Received(2, following(3, 0, 1, 0)), Received(4, following(3, 0, 1, 0))],
         check=lambda c: c.state == LOOKING and len(c.recvset) == 3 and len(c.outofelection) == 3),
    Case("leader-entry-looking", "L792-814 the leader's recvset entry is LOOKING: checkLeader fails",
         Received(2, following(3, 0, 1, 0)), POLL200, setup=[START, Received(3, looking(3, 0, 1, 0))],
         check=lambda c: c.state == LOOKING),
    Case("same-round-me-leader", "L808-812 checkLeader(leader == myid): logicalclock == n.round",
         Received(2, following(3, 0, 1, 0)),
         at_once(LEADING, Vote(3, 0, 1, 0)),
         myid=3, setup=[START, Received(1, following(3, 0, 1, 0))]),
    Case("recvset-version-0", "L1151 F/L entries stored with version 0: XOR rule, leader id only",
         Received(3, leading(3, 0, 1, 1)),
         at_once(FOLLOWING, Vote(3, 0, 1, 1)),
         setup=[START, Received(2, following(3, 0, 1, 9))]),
    Case("outofelection-peer-epoch", "L1166-1169 outofelection keeps n.version: (leader, peerEpoch) agree",
         Received(3, leading(3, 0, 7, 1)), POLL200, setup=[START, Received(2, following(3, 0, 7, 9))],
         check=lambda c: c.state == LOOKING and c.logicalclock == 1),
    Case("outofelection-follow", "L1165-1175 any round: outofelection quorum + checkLeader; clock := round",
         Received(3, leading(3, 0, 7, 1)),
         at_once(FOLLOWING, Vote(3, 0, 7, 1)),
         setup=[START, Received(2, following(3, 0, 7, 1))], check=lambda c: c.logicalclock == 7),
    Case("outofelection-clock-down", "L1171-1172 logicalclock.set(n.electionEpoch) may go DOWN",
         Received(3, leading(3, 0, 3, 1)),
         at_once(FOLLOWING, Vote(3, 0, 3, 1)),
         setup=[START, Received(2, looking(2, 0, 10, 0)), Received(2, following(3, 0, 3, 1))],
         check=lambda c: c.logicalclock == 3),
    Case("outofelection-xor", "Vote.equals L119-121: version 0 vs version 2 -> leader id only",
         Received(3, leading(3, 0, 7, 1, version=0)),
         at_once(FOLLOWING, Vote(3, 0, 7, 1)),
         setup=[START, Received(2, following(3, 0, 7, 9, version=2))]),
    Case("observing-ignored", "L1068-1070 OBSERVING notifications are ignored",
         Received(2, Notification(OBSERVING, 3, 0, 1, 0)), POLL200, setup=[START],
         check=lambda c: not c.recvset and not c.outofelection),
    # ---- WorkerReceiver, L232-474 --------------------------------------------------------------------------
    Case("follower-answers-looking", "L431-466 not LOOKING: reply with currentVote (its own round)",
         Received(3, looking(3, 0, 2, 0)), [Send(3, following(2, 0, 1, 0))], setup=FOLLOWED_2),
    Case("established-peer-epoch", "QuorumPeer.updateElectionVote: the reply carries the new peerEpoch",
         Received(3, looking(3, 0, 2, 0)), [Send(3, following(2, 0, 1, 1))],
         setup=[*FOLLOWED_2, Established(1)]),
    Case("leader-answers-looking", "L431-466 the reply says LEADING", Received(1, looking(1, 0, 2, 0)),
         [Send(1, leading(2, 0, 1, 0))], myid=2,
         setup=[START, Received(2, looking(2, 0, 1, 0)), Received(1, looking(2, 0, 1, 0)),
                FinalizeTimeout()]),
    Case("not-looking-drops-fl", "L431-466 F/L notifications while not LOOKING are dropped",
         Received(3, leading(3, 0, 1, 0)), [], setup=FOLLOWED_2),
    Case("non-voter-answered", "L343-356 non-voter: currentVote + logicalclock, never queued",
         Received(4, looking(4, 0, 9, 0)), [Send(4, looking(1, 0, 5, 0))], qv=V3O,
         setup=[START, Received(2, looking(2, 0, 5, 0))], check=lambda c: 4 not in c.recvset),
    Case("unknown-sid-answered", "L343-356 unknown sid: same as a non-voter",
         Received(9, looking(9, 0, 1, 0)), [Send(9, following(2, 0, 1, 0))], setup=FOLLOWED_2),
    Case("unknown-state-dropped", "L363-378 state outside 0..3: silently dropped (never queued)",
         Received(2, Notification(7, 2, 0, 1, 0)), [], setup=[START], check=lambda c: not c.recvset),
    # ---- Lost / Established --------------------------------------------------------------------------------
    Case("lost", "QuorumPeer.run: updateServerState -> LOOKING, lookForLeader again (round+1)", Lost("test"),
         [ChangeState(LOOKING, Vote(2, 0, 1, 0)), *bcast(1, 0, 2, 0), *POLL200],
         setup=[*FOLLOWED_2, PollTimeout(True)],
         check=lambda c: c.logicalclock == 2 and not c.recvset and c.not_timeout_ms == 200 and c.running),
    Case("lost-while-looking", "already LOOKING: nothing to lose", Lost("test"), [], setup=[START]),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_branch(case: Case) -> None:
    core = make(case)
    for event in case.setup:
        core.handle(event)
    assert core.handle(case.event) == case.expected, case.cites
    assert case.check(core), case.cites


def test_backoff_doubles_to_sixty_seconds() -> None:
    """L979: notTimeout = min(notTimeout * 2, maxNotificationInterval)."""
    core = FastLeaderElection(1, V3, last_zxid=0, current_epoch=0, learner_type=PARTICIPANT)
    core.handle(START)
    armed = []
    for _ in range(10):
        armed += [a.ms for a in core.handle(PollTimeout(False)) if isinstance(a, ArmTimer)]
    assert armed == [400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000]


def test_lost_uses_new_persistent_values() -> None:
    """§5.9: zxid and currentEpoch are read afresh at each (re)start of the vote."""
    core = FastLeaderElection(1, V3, last_zxid=0, current_epoch=0, learner_type=PARTICIPANT)
    for event in FOLLOWED_2:
        core.handle(event)
    core.set_persistent(Z, 1)
    assert core.handle(Lost("leader gone"))[1:] == [*bcast(1, Z, 2, 1), *POLL200]


def test_weight_zero_never_adopted() -> None:
    """§1.3 totalOrderPredicate: getWeight(newId) == 0 -> never better; its twin with weight 1 adopts."""
    def run(weight3: int) -> tuple[int, int, int]:
        qv = QuorumHierarchical(groups={1: frozenset({1, 2, 3})}, weights={1: 1, 2: 1, 3: weight3},
                                voters=frozenset({1, 2, 3}))  # fmt: skip
        core = FastLeaderElection(1, qv, last_zxid=0, current_epoch=0, learner_type=PARTICIPANT)
        core.handle(START)
        core.handle(Received(3, looking(3, 9, 1, 5)))
        return core.proposal

    assert run(0) == (1, 0, 0)
    assert run(1) == (3, 9, 5)


def test_start_twice_is_a_bug() -> None:
    core = FastLeaderElection(1, V3, last_zxid=0, current_epoch=0, learner_type=PARTICIPANT)
    core.handle(START)
    with pytest.raises(InternalError, match="StartElection"):
        core.handle(START)


@pytest.mark.parametrize("bad", [2**63, -(2**63) - 1])
def test_out_of_range_long_is_the_callers_bug(bad: int) -> None:
    core = FastLeaderElection(1, V3, last_zxid=0, current_epoch=0, learner_type=PARTICIPANT)
    core.handle(START)
    with pytest.raises(InternalError, match="signed 64-bit"):
        core.handle(Received(2, looking(bad, 0, 1, 0)))
    assert core.handle(Received(2, looking(2**63 - 1, 0, 1, 0)))  # the largest long is fine


def test_bad_learner_type() -> None:
    with pytest.raises(InternalError, match="learner_type"):
        FastLeaderElection(1, V3, last_zxid=0, current_epoch=0, learner_type="voter")
