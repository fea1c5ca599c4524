"""The seed's two stories, played by several cores wired together through the in-process harness.

Story 1 (first start of three servers): 1 and 2 start, 2 leads and 1 follows; 3 starts late and follows 2.
Story 2 (re-election): five servers ran in epoch 1 under leader 3; 3 and 5 go down; 1, 2 and 4 elect 4, which
has the largest zxid, with the vote (peerEpoch 1, zxid, 4).
Each story runs over several seeds (different latencies and interleavings) and has a negative twin: the same
story with a deliberately broken totalOrderPredicate must not come out as the seed tells it.
"""

from __future__ import annotations

import pytest

from zkfle.impl.election import FastLeaderElection
from zkfle.impl.events import FOLLOWING, LEADING, LOOKING, OBSERVER, OBSERVING, PARTICIPANT, Vote
from zkfle.impl.harness import Ensemble
from zkfle.impl.vote import LONG_MIN
from zkfle.quorum import QuorumMaj

SEEDS = range(6)
EPOCH1 = 1 << 32  # zxids of epoch 1: (1 << 32) | counter


class SmallerSidWins(FastLeaderElection):
    """Mutant: the sid comparison is reversed."""

    def _better(self, ni: int, nz: int, ne: int, ci: int, cz: int, ce: int) -> bool:
        return (ne, nz, -ni) > (ce, cz, -ci)


class SmallerZxidWins(FastLeaderElection):
    """Mutant: the zxid comparison is reversed."""

    def _better(self, ni: int, nz: int, ne: int, ci: int, cz: int, ce: int) -> bool:
        return (ne, -nz, ni) > (ce, -cz, ci)


def cores(cls: type[FastLeaderElection], n: int) -> list[FastLeaderElection]:
    qv = QuorumMaj(frozenset(range(1, n + 1)))
    return [cls(s, qv, last_zxid=0, current_epoch=0, learner_type=PARTICIPANT) for s in range(1, n + 1)]


def story_one(cls: type[FastLeaderElection], seed: int) -> dict[int, tuple[int, Vote | None]]:
    ens = Ensemble(cores(cls, 3), seed=seed, latency_ms=(1, 20))
    ens.start(1, 2)
    assert ens.run(lambda e: e.all_decided({1, 2}))
    assert ens.cores[3].state == LOOKING  # not started yet
    ens.start(3)
    assert ens.run(lambda e: e.all_decided({1, 2, 3}))
    return {sid: (c.state, c.current_vote) for sid, c in ens.cores.items()}


@pytest.mark.parametrize("seed", SEEDS)
def test_story_one_first_start(seed: int) -> None:
    end = story_one(FastLeaderElection, seed)
    vote = Vote(2, 0, 1, 0)
    assert end == {1: (FOLLOWING, vote), 2: (LEADING, vote), 3: (FOLLOWING, vote)}


def test_story_one_late_server_joins_through_the_leaders_reply() -> None:
    """Server 3 decides from the FOLLOWING/LEADING replies of 1 and 2 (no finalize wait): §1.5 L1147-1160."""
    ens = Ensemble(cores(FastLeaderElection, 3), seed=0)
    ens.start(1, 2)
    ens.run(lambda e: e.all_decided({1, 2}))
    ens.start(3)
    ens.run(lambda e: e.all_decided({1, 2, 3}))
    step = next(s for s in ens.steps if s.sid == 3 and any(type(a).__name__ == "Decided" for a in s.actions))
    assert type(step.event).__name__ == "Received" and step.event.n.state in (FOLLOWING, LEADING)


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_story_one_negative_twin(seed: int) -> None:
    end = story_one(SmallerSidWins, seed)
    assert end[2][0] != LEADING and end[1][0] == LEADING


ZXIDS = {1: EPOCH1 | 100, 2: EPOCH1 | 110, 3: EPOCH1 | 120, 4: EPOCH1 | 120, 5: EPOCH1 | 90}


def ran_epoch_one(cls: type[FastLeaderElection], seed: int, *, settle: bool) -> Ensemble:
    """Five servers ran epoch 1 under leader 3; then 3 and 5 go down and 1, 2, 4 lose their leader."""
    ens = Ensemble(cores(cls, 5), seed=seed, latency_ms=(1, 20))
    # epoch 0 -> 1: 1, 2, 3 start first and elect 3; 4 and 5 join it.
    ens.start(1, 2, 3)
    assert ens.run(lambda e: e.all_decided({1, 2, 3}))
    assert {s: c.state for s, c in ens.cores.items() if s <= 3} == {1: FOLLOWING, 2: FOLLOWING, 3: LEADING}
    ens.start(4, 5)
    assert ens.run(lambda e: e.all_decided({1, 2, 3, 4, 5}))
    assert all(c.current_vote is not None and c.current_vote.leader == 3 for c in ens.cores.values())
    if settle:
        assert ens.run()  # the replies of the join are all delivered: the ensemble runs quietly for a while
    for sid, core in ens.cores.items():
        ens.establish(sid, 1)  # Zab: epoch 1 established, currentEpoch file = 1
        core.set_persistent(ZXIDS[sid], 1)
    ens.crash(3, 5)
    for sid in (1, 2, 4):
        ens.lose(sid, "leader 3 down")
    assert ens.run(lambda e: e.all_decided({1, 2, 4}))
    return ens


def story_two(cls: type[FastLeaderElection], seed: int) -> tuple[dict[int, int], dict[int, Vote | None]]:
    ens = ran_epoch_one(cls, seed, settle=True)
    return ({s: ens.cores[s].state for s in (1, 2, 4)}, {s: ens.cores[s].current_vote for s in (1, 2, 4)})


@pytest.mark.parametrize("seed", SEEDS)
def test_story_two_reelection(seed: int) -> None:
    states, votes = story_two(FastLeaderElection, seed)
    assert states == {1: FOLLOWING, 2: FOLLOWING, 4: LEADING}
    assert set(votes.values()) == {Vote(4, EPOCH1 | 120, 2, 1)}  # (peerEpoch 1, zxid, sid 4), round 2


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_story_two_negative_twin(seed: int) -> None:
    states, _ = story_two(SmallerZxidWins, seed)
    assert states[4] != LEADING and states[1] == LEADING


def test_stale_leading_message_from_a_dead_leader() -> None:
    """§5.6 + §5.11: if the crash comes while the join's replies are still in flight, server 4 (LOOKING in
    round 2) takes 1's and 2's FOLLOWING and 3's LEADING of round 1 through the out-of-election path, follows
    the dead leader 3 and sets its clock *down* to 1.  As in ZooKeeper it then fails to reach 3 (``Lost``);
    its next round is 2 again, where 1 and 2 already follow 4, and their replies make it lead."""
    ens = ran_epoch_one(FastLeaderElection, 1, settle=False)
    four = ens.cores[4]
    assert (four.state, four.current_vote, four.logicalclock) == (FOLLOWING, Vote(3, 0, 1, 0), 1)
    assert ens.cores[1].current_vote == ens.cores[2].current_vote == Vote(4, EPOCH1 | 120, 2, 1)
    ens.lose(4, "cannot reach leader 3")
    assert four.logicalclock == 2
    assert ens.run(lambda e: e.all_decided({1, 2, 4}))
    assert (four.state, four.current_vote) == (LEADING, Vote(4, EPOCH1 | 120, 2, 1))


class ObserverFollows(FastLeaderElection):
    """Mutant: learningState() ignores the learner type."""

    def _learning_state(self) -> int:
        return FOLLOWING


def observer_story(cls: type[FastLeaderElection], seed: int) -> Ensemble:
    qv = QuorumMaj(frozenset({1, 2, 3}), frozenset({4}))
    cs = [
        FastLeaderElection(s, qv, last_zxid=0, current_epoch=0, learner_type=PARTICIPANT) for s in (1, 2, 3)
    ]
    cs.append(cls(4, qv, last_zxid=0, current_epoch=0, learner_type=OBSERVER))
    ens = Ensemble(cs, seed=seed, latency_ms=(1, 20))
    ens.start(1, 2, 3, 4)
    assert ens.run(lambda e: e.all_decided())
    return ens


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_observer_observes_and_is_never_counted(seed: int) -> None:
    """§1.7: the observer proposes Long.MIN_VALUE, is answered but never counted, and ends OBSERVING."""
    ens = observer_story(FastLeaderElection, seed)
    assert ens.states() == {1: FOLLOWING, 2: FOLLOWING, 3: LEADING, 4: OBSERVING}
    assert ens.cores[4].current_vote is not None and ens.cores[4].current_vote.leader == 3
    assert all(4 not in ens.cores[s].recvset and 4 not in ens.cores[s].outofelection for s in (1, 2, 3))
    first = next(s for s in ens.sent if s.src == 4)
    assert (first.n.leader, first.n.zxid, first.n.peer_epoch) == (LONG_MIN, LONG_MIN, LONG_MIN)


def test_observer_story_negative_twin() -> None:
    assert observer_story(ObserverFollows, 0).states()[4] == FOLLOWING
