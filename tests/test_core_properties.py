"""Hypothesis: random delivery orders, drops, duplicates, timer firings, leader losses and restarts among 3-5
cores.  The invariants below must hold in every run, and each has a deliberately broken core that breaks it.

Invariants (all hold in ZooKeeper 3.8.0 whatever the network does; "two leaders in one round" does NOT,
since a dropped message can hide a better vote from a deciding server, so it is not claimed):
  backing     every decision is backed by a quorum of voters whose notifications were delivered to the
              decider: through the finalize wait, a quorum of notifications equal to the end vote on
              (leader, zxid, round, peerEpoch) -- LOOKING ones, or same-round FOLLOWING/LEADING ones, which
              recvset also holds and Vote.equals compares on the full tuple; at once, a quorum of
              notifications naming the leader plus, if the leader is another server, that server's own
              LEADING notification.
  monotone    within one lookForLeader and one round, a server's proposal only increases in (peerEpoch, zxid,
              sid) order.  (Not per round across elections: the out-of-election path may set the clock down
              and a later lookForLeader can come back to the same round with a smaller proposal.)
  clock       within one lookForLeader, logicalclock never decreases while LOOKING.
  timers      a server inside lookForLeader has exactly one timer armed: "finalize" when in the finalize wait,
              else "poll"; a server that decided has none.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from zkfle.impl.election import FastLeaderElection
from zkfle.impl.events import (
    FOLLOWING,
    LEADING,
    LOOKING,
    OBSERVER,
    PARTICIPANT,
    Decided,
    FinalizeTimeout,
    Notification,
    Received,
    Vote,
)
from zkfle.impl.harness import Ensemble
from zkfle.impl.vote import total_order_predicate
from zkfle.quorum import QuorumHierarchical, QuorumMaj, QuorumVerifier, acks_of

Proposal = tuple[int, int, int]


def as_vote(n: Notification) -> Vote:
    return Vote(n.leader, n.zxid, n.election_epoch, n.peer_epoch)


def real_better(qv: QuorumVerifier, new: Proposal, cur: Proposal) -> bool:
    return total_order_predicate(qv, new[0], new[1], new[2], cur[0], cur[1], cur[2])


class ElectionMachine(RuleBasedStateMachine):
    """Drives an Ensemble by hand; checks the invariants after every step."""

    core_class: type[FastLeaderElection] = FastLeaderElection

    def __init__(self) -> None:
        super().__init__()
        self.ens: Ensemble | None = None
        self.qv: QuorumVerifier = QuorumMaj(frozenset())
        self.instance: dict[int, int] = {}
        self.marks: dict[int, tuple[int, int, Proposal]] = {}
        self.delivered: dict[int, set[tuple[int, Notification]]] = defaultdict(set)
        self.seen_steps = 0
        self.checked_decisions = 0

    def _core(self, sid: int, zxid: int, epoch: int) -> FastLeaderElection:
        learner = OBSERVER if sid in self.qv.observing_members else PARTICIPANT
        return self.core_class(sid, self.qv, last_zxid=zxid, current_epoch=epoch, learner_type=learner)

    @initialize(n=st.integers(3, 5), data=st.data())
    def start(self, n: int, data: st.DataObject) -> None:
        voters = frozenset(range(1, n + 1))
        observers = frozenset({n + 1}) if data.draw(st.booleans(), label="observer") else frozenset()
        if data.draw(st.booleans(), label="hierarchical"):
            # two groups; a weight may be 0 (never adopted, but still proposes itself)
            weights = dict(zip(sorted(voters), data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)),
                               strict=True))  # fmt: skip
            groups = {1: frozenset(s for s in voters if s % 2), 2: frozenset(s for s in voters if not s % 2)}
            self.qv = QuorumHierarchical(groups=groups, weights=weights, voters=voters, observers=observers)
        else:
            self.qv = QuorumMaj(voters, observers)
        sids = sorted(voters | observers)
        zx = data.draw(st.lists(st.integers(0, 3), min_size=len(sids), max_size=len(sids)), label="zxids")
        ep = data.draw(st.lists(st.integers(0, 1), min_size=len(sids), max_size=len(sids)), label="epochs")
        self.ens = Ensemble([self._core(s, zx[s - 1], ep[s - 1]) for s in sids])
        self.instance = dict.fromkeys(sids, 1)
        self.ens.start(*sids)

    @property
    def e(self) -> Ensemble:
        assert self.ens is not None
        return self.ens

    # ---- the network and the clock -------------------------------------------------------------------------
    @rule(data=st.data())
    def deliver(self, data: st.DataObject) -> None:
        inflight = self.e.inflight()
        if not inflight:
            return
        env = inflight[data.draw(st.integers(0, len(inflight) - 1), label="message")]
        how = data.draw(st.sampled_from(["deliver"] * 5 + ["duplicate", "drop"]), label="how")
        if how == "drop":
            self.e.drop_message(env)
        else:
            self.e.deliver(env, keep=how == "duplicate")

    @rule(steps=st.integers(1, 80))
    def settle(self, steps: int) -> None:
        """Let the harness run its own seeded agenda (deliveries in latency order, timers when due)."""
        for _ in range(steps):
            if not self.e.step():
                return

    @rule(data=st.data())
    def fire_timer(self, data: st.DataObject) -> None:
        armed = self.e.armed()
        if not armed:
            return
        timer = data.draw(st.sampled_from(armed), label="timer")
        self.e.have_delivered = data.draw(st.booleans(), label="have_delivered")
        self.e.fire(timer.sid, timer.name)

    @rule(data=st.data())
    def lose_leader(self, data: st.DataObject) -> None:
        decided = sorted(s for s, c in self.e.cores.items() if c.state != LOOKING)
        if not decided:
            return
        sid = data.draw(st.sampled_from(decided), label="loses")
        core = self.e.cores[sid]
        if data.draw(st.booleans(), label="new epoch") and core.learner_type == PARTICIPANT:
            cv = core.current_vote
            assert cv is not None
            core.set_persistent(cv.zxid + 1, cv.peer_epoch + 1)
        self.instance[sid] += 1
        self.e.lose(sid)

    @rule(data=st.data())
    def restart(self, data: st.DataObject) -> None:
        sid = data.draw(st.sampled_from(sorted(self.e.cores)), label="restarts")
        old = self.e.cores[sid]
        cv = old.current_vote
        assert cv is not None
        self.e.crash(sid)
        self.e.cores[sid] = self._core(sid, max(cv.zxid, 0), max(cv.peer_epoch, 0))
        self.instance[sid] += 1
        self.e.start(sid)

    # ---- invariants ----------------------------------------------------------------------------------------
    def _index_steps(self) -> None:
        for step in self.e.steps[self.seen_steps :]:
            if isinstance(step.event, Received):
                self.delivered[step.sid].add((step.event.sid, step.event.n))
        self.seen_steps = len(self.e.steps)

    @invariant()
    def backing(self) -> None:
        if self.ens is None:
            return
        self._index_steps()
        for d in self.e.decisions[self.checked_decisions :]:
            self._check_backing(d.sid, d.decided, d.time)
        self.checked_decisions = len(self.e.decisions)

    def _check_backing(self, sid: int, decided: Decided, _time: int) -> None:
        step = next(s for s in reversed(self.e.steps) if s.sid == sid and decided in s.actions)
        v = decided.vote
        got = self.delivered[sid]
        if isinstance(step.event, FinalizeTimeout):
            want = Vote(v.leader, v.zxid, v.election_epoch, v.peer_epoch)
            # same-round F/L entries sit in recvset too (L1151); they match a LOOKING candidate in full
            agree = {s for s, n in got if n.state in (LOOKING, FOLLOWING, LEADING) and as_vote(n) == want}
            assert self.qv.contains_quorum(acks_of(self.qv, agree)), f"backing: {sid} decided {v} on {agree}"
        else:
            named = {s for s, n in got if n.leader == v.leader and n.state in (LOOKING, FOLLOWING, LEADING)}
            assert self.qv.contains_quorum(acks_of(self.qv, named)), f"backing: {sid} joined {v} on {named}"
            if v.leader != sid:
                assert (v.leader, v.leader) in {(s, n.leader) for s, n in got if n.state == LEADING}, (
                    f"backing: {sid} joined {v.leader} without its LEADING notification"
                )

    @invariant()
    def monotone_and_clock(self) -> None:
        if self.ens is None:
            return
        for sid, core in self.e.cores.items():
            if not core.running:
                continue
            key = (self.instance[sid], core.logicalclock, core.proposal)
            prev = self.marks.get(sid)
            if prev is not None and prev[0] == key[0]:
                assert core.logicalclock >= prev[1], f"clock: {sid} went from round {prev[1]} to {key[1]}"
                if prev[1] == key[1]:
                    assert key[2] == prev[2] or real_better(self.qv, key[2], prev[2]), (
                        f"monotone: {sid} went from {prev[2]} to {key[2]} in round {key[1]}"
                    )
            self.marks[sid] = key

    @invariant()
    def timers(self) -> None:
        if self.ens is None:
            return
        armed: dict[int, set[str]] = defaultdict(set)
        for t in self.e.armed():
            armed[t.sid].add(t.name)
        for sid, core in self.e.cores.items():
            if sid not in self.e.up:
                continue
            want = ({"finalize"} if core.finalizing else {"poll"}) if core.running else set()
            assert armed[sid] == want, f"timers: {sid} has {armed[sid]}, expected {want}"


SETTINGS = settings(
    max_examples=200,
    stateful_step_count=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TWIN_SETTINGS = settings(SETTINGS, max_examples=300, phases=[Phase.generate])


def test_invariants_hold() -> None:
    run_state_machine_as_test(ElectionMachine, settings=SETTINGS)


# ---- negative twins: each broken core must make its invariant fail ----
class AnyVotesAreAQuorum(FastLeaderElection):
    """Breaks ``backing``: recvset entries count whatever they vote for."""

    def _has_all_quorums(self, votes: Mapping[int, Vote], candidate: Vote) -> bool:
        return self.qv.contains_quorum(acks_of(self.qv, votes))


class SmallerZxidIsBetter(FastLeaderElection):
    """Breaks ``monotone``: the zxid comparison is reversed."""

    def _better(self, ni: int, nz: int, ne: int, ci: int, cz: int, ce: int) -> bool:
        return (ne, -nz, ni) > (ce, -cz, ci)


class OlderRoundRewindsClock(FastLeaderElection):
    """Breaks ``clock``: an older-round LOOKING notification sets logicalclock back."""

    def _looking(self, sid: int, n: Notification) -> list[Any]:
        if n.election_epoch < self.logicalclock:
            self._logicalclock = n.election_epoch
        return super()._looking(sid, n)


class KeepsPollTimerWhileFinalizing(FastLeaderElection):
    """Breaks ``timers``: never cancels the poll timer."""

    def _cancel(self, name: str) -> list[Any]:
        return [] if name == "poll" else super()._cancel(name)


@pytest.mark.parametrize(
    ("broken", "invariant_name"),
    [
        (AnyVotesAreAQuorum, "backing"),
        (SmallerZxidIsBetter, "monotone"),
        (OlderRoundRewindsClock, "clock"),
        (KeepsPollTimerWhileFinalizing, "timers"),
    ],
)
def test_broken_core_breaks_its_invariant(broken: type[FastLeaderElection], invariant_name: str) -> None:
    machine = type(f"{broken.__name__}Machine", (ElectionMachine,), {"core_class": broken})
    with pytest.raises(AssertionError, match=f"^{invariant_name}:"):
        run_state_machine_as_test(machine, settings=TWIN_SETTINGS)


# ---- agreement when the network is timely and reliable ----
def timely_outcome(
    cls: type[FastLeaderElection], n: int, zxids: list[int], epochs: list[int], seed: int
) -> set[Any]:
    qv = QuorumMaj(frozenset(range(1, n + 1)))
    ens = Ensemble(
        [cls(s, qv, last_zxid=zxids[s - 1], current_epoch=epochs[s - 1], learner_type=PARTICIPANT)
         for s in range(1, n + 1)],
        seed=seed, latency_ms=(0, 150),
    )  # fmt: skip
    ens.start(*range(1, n + 1))
    assert ens.run(lambda e: e.all_decided())
    return {(c.current_vote, c.state == LEADING) for c in ens.cores.values()}


@st.composite
def ensembles(draw: st.DrawFn) -> tuple[int, list[int], list[int], int]:
    n = draw(st.integers(3, 5))
    zxids = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    epochs = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    return n, zxids, epochs, draw(st.integers(0, 2**16))


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(ensembles())
def test_timely_reliable_network_elects_the_best_vote(ens: tuple[int, list[int], list[int], int]) -> None:
    """All start together, every message arrives within 150 ms < finalizeWait: every server decides the best
    (peerEpoch, zxid, sid) vote of round 1, and exactly the best server leads."""
    n, zxids, epochs, seed = ens
    best = max(range(1, n + 1), key=lambda s: (epochs[s - 1], zxids[s - 1], s))
    vote = Vote(best, zxids[best - 1], 1, epochs[best - 1])
    outcome = timely_outcome(FastLeaderElection, n, zxids, epochs, seed)
    assert outcome == ({(vote, True), (vote, False)})


def test_timely_agreement_twin() -> None:
    """The same check rejects a core whose predicate prefers smaller zxids."""
    zxids, epochs = [3, 1, 0], [0, 0, 0]
    outcome = timely_outcome(SmallerZxidIsBetter, 3, zxids, epochs, 7)
    assert outcome != {(Vote(1, 3, 1, 0), True), (Vote(1, 3, 1, 0), False)}
