"""Probes: safety properties that catch historical liveness faults at the step where they happen.

Rules:

- A probe states, about one state or one step, exactly what a ZooKeeper fix guarantees; ZooKeeper 3.8.0's
  model satisfies it in every reachable state of the probe scenarios (checked exhaustively by the tests),
  and the mutant that undoes the fix violates it within a few dozen steps.
- Probes read server fields through ``zkfle.model.fle``'s layout constants and count votes only with the
  model's quorum table (``FleModel.qtable``, built from ``zkfle.quorum``).
- The probe scenarios (``register_scenarios``) are ordinary entries of the scenario registry whose models
  carry the probes; their bounds are small (one message in flight per channel, election rounds up to 2), so
  their Termination and Deadlock are not checked there (a bounded round cannot always recover, and a state
  without successors is where the bounds stop the run: that is the bound, not FLE).

Theory of operation. The faults undo a *guard* (ZK-1514: checkLeader's round test for self; ZK-159: the
whole checkLeader; ZK-480 and ZK-1732: over-strict matching that blocks a decision). A missing guard lets a
server decide when it must not (``LeaderKeepsItsRound``, ``FollowsOnlyDecidedLeaders``); an over-strict one
keeps a server LOOKING although the votes it holds settle the election (``QuorumHeeded``). The historical
symptom (a server that never joins, an election that keeps restarting) follows from that one step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from zkfle.model import fle
from zkfle.model.config import Bounds, ServerStart, default_config, zxid_of
from zkfle.model.fle import FleModel
from zkfle.model.scenarios import SCENARIOS, Scenario
from zkfle.model.variant import Variant
from zkfle.model.vote import FOLLOWING, LEADING, LOOKING

State = tuple[Any, ...]
Action = tuple[Any, ...]

RESTART_SCENARIO = "leader-restart-small"
FRESH_SCENARIO = "fresh-3-small"
SAME_ROUND_SCENARIO = "same-round-small"
JOINER_SCENARIO = "joiner-after-decision"

PROBE_DESCRIPTIONS = {
    "LeaderKeepsItsRound": "a server that decides to lead does so in its own round (logicalclock), never in "
                           "an older one (ZK-1514's FLEBackwardElectionRoundTest)",
    "QuorumHeeded": "no LOOKING server holds a quorum of out-of-election votes for one (leader, peerEpoch) "
                    "backed by the leader's LEADING vote (or, for itself, all of its own round) and stays "
                    "LOOKING (ZK-1732, ZK-480)",
    "FollowsOnlyDecidedLeaders": "without crashes, nobody decides to follow a server that is still LOOKING "
                                 "in the round of that decision (ZK-159's checkLeader)",
    "JoinerNeverLeads": "until a crash happens, a server that starts after the others decided never becomes "
                        "LEADING (ZK-975's FLETest.testJoin)",
    "SameRoundLeaderHeeded": "a same-round FOLLOWING/LEADING vote that completes a quorum in recvset, with "
                             "the leader's own LEADING vote there, ends the election at that step "
                             "(receivedFollowingNotification's checkLeader(recvset, ...), ZK-3537)",
}


# ---------------------------------------------------------------------------------------------- probes
def leader_keeps_its_round(before: State, action: Action, after: State) -> bool:
    """LOOKING -> LEADING happens only in the deciding server's own logicalclock (checkLeader, ZK-1514)."""
    for k, t in enumerate(after[0]):
        s = before[0][k]
        if s[fle.ST] == LOOKING and t[fle.ST] == LEADING and t[fle.CV][2] != s[fle.RND]:
            return False
    return True


def quorum_heeded(m: FleModel) -> Callable[[State], bool]:
    """Out-of-election votes that settle the election are acted upon (outofelection + checkLeader)."""

    def holds(state: State) -> bool:
        for k, s in enumerate(state[0]):
            if s[fle.ALIVE] == fle.UP and s[fle.ST] == LOOKING and m.is_voter[k] and _settled_by(m, k, s):
                return False
        return True

    return holds


def _settled_by(m: FleModel, k: int, s: tuple[Any, ...]) -> bool:
    """Does server k's outofelection hold a quorum that 3.8.0 decides on?"""
    me = m.sids[k]
    groups: dict[tuple[int, int], list[tuple[Any, ...]]] = {}
    for e in s[fle.OOE]:
        groups.setdefault((e[1], e[4]), []).append(e)  # Vote.equals, FOLLOWING/LEADING: (leader, peerEpoch)
    for (leader, _), entries in groups.items():
        if leader == me:
            entries = [e for e in entries if e[3] == s[fle.RND]]  # checkLeader: logicalclock == electionEpoch
        elif not any(e[0] == leader and e[5] == LEADING for e in entries):
            continue  # checkLeader: the leader must have said LEADING
        mask = 0
        for e in entries:
            mask |= m.bit[e[0]]
        if m.qtable[mask]:
            return True
    return False


def follows_only_decided_leaders(m: FleModel) -> Callable[[State, Action, State], bool]:
    """A notification never makes a server follow a live leader that is LOOKING in the decision's round."""

    def holds(before: State, action: Action, after: State) -> bool:
        if action[0] not in ("Deliver", "ProcessRequeued"):
            return True
        for k, t in enumerate(after[0]):
            if before[0][k][fle.ST] != LOOKING or t[fle.ST] != FOLLOWING:
                continue
            leader = m.idx.get(t[fle.CV][0])
            if leader is None:
                continue
            ls = after[0][leader]
            if ls[fle.ALIVE] == fle.UP and ls[fle.ST] == LOOKING and ls[fle.RND] == t[fle.CV][2]:
                return False
        return True

    return holds


def same_round_leader_heeded(m: FleModel) -> Callable[[State, Action, State], bool]:
    """A LOOKING voter given a same-round F/L vote for another server L decides at once when recvset, with the
    vote put in (with its state), holds a quorum matching it (Vote.equals) and L's LEADING vote (3.6.0 on)."""

    def holds(before: State, action: Action, after: State) -> bool:
        if action[0] != "Deliver" or action[1] == action[2]:
            return True
        i, j = m.idx[action[1]], m.idx[action[2]]
        s = before[0][j]
        waiting = before[1][i * m.n + j][fle.INFL]
        if s[fle.ALIVE] != fle.UP or s[fle.ST] != LOOKING or s[fle.FW] or not waiting:
            return True
        if not (m.is_voter[i] and m.is_voter[j]):
            return True
        mst, ml, mz, mrnd, mpe = waiting[0][:5]
        if mst not in (FOLLOWING, LEADING) or mrnd != s[fle.RND] or ml == m.sids[j] or ml not in m.voter_sids:
            return True
        votes = {e[0]: (e[1], e[2], e[3], e[4], e[5]) for e in s[fle.RS]}
        votes[action[1]] = (ml, mz, mrnd, mpe, mst)  # recvset.put(n.sid, vote with n.state)
        mask = 0
        for sid, (leader, zxid, rnd, pe, st) in votes.items():
            if (leader == ml) if st != LOOKING else ((leader, zxid, rnd, pe) == (ml, mz, mrnd, mpe)):
                mask |= m.bit[sid]
        leader_said = votes.get(ml, (0, 0, 0, 0, LOOKING))[4] == LEADING
        return not (m.qtable[mask] and leader_said) or after[0][j][fle.ST] != LOOKING

    return holds


def joiner_never_leads(m: FleModel) -> Callable[[State], bool]:
    """A late joiner (``after_decision``) stays out of LEADING while no crash has happened (ZK-975)."""
    joiners = [m.idx[sid] for sid in sorted(m.start_when_decided)]

    def holds(state: State) -> bool:
        if state[2][fle.CRASHES] > 0:
            return True
        return not any(state[0][k][fle.ALIVE] == fle.UP and state[0][k][fle.ST] == LEADING for k in joiners)

    return holds


# ---------------------------------------------------------------------------------------------- scenarios
@dataclass(frozen=True)
class ProbeScenario(Scenario):
    """A scenario whose models also check some probes (by default) and never Termination."""

    probes: tuple[str, ...] = field(default=())

    def build(
        self,
        *,
        channel: str = "fifo",
        bounds: Bounds | None = None,
        variant: Variant | None = None,
        selected: frozenset[str] | None = None,
        track_votes: bool = True,
    ) -> FleModel:
        if selected is not None:
            selected = selected - {"Termination"}
        model = super().build(channel=channel, bounds=bounds, variant=variant, selected=selected,
                              track_votes=track_votes)
        return with_probes(model, self.probes)


def with_probes(model: FleModel, names: tuple[str, ...]) -> FleModel:
    """Add the named probes to a freshly built model (before it is explored)."""
    invariants: dict[str, Callable[[State], bool]] = dict(model.invariants)
    actions: dict[str, Callable[[State, Action, State], bool]] = dict(model.action_properties)
    for name in names:
        if name == "LeaderKeepsItsRound":
            actions[name] = leader_keeps_its_round
        elif name == "QuorumHeeded":
            invariants[name] = quorum_heeded(model)
        elif name == "FollowsOnlyDecidedLeaders":
            actions[name] = follows_only_decided_leaders(model)
        elif name == "JoinerNeverLeads":
            invariants[name] = joiner_never_leads(model)
        elif name == "SameRoundLeaderHeeded":
            actions[name] = same_round_leader_heeded(model)
        else:
            raise KeyError(name)
    model._invariants = invariants  # FleModel keeps its checks in these two mappings
    model._action_properties = actions
    model._liveness = {k: v for k, v in model.liveness.items() if k != "Termination"}
    model.is_terminal = _bounded_end
    return model


def _bounded_end(state: State) -> bool:
    """In a probe scenario a state without successors is where the bounds end the run, not a deadlock."""
    return True


_SMALL = Bounds(crashes=1, epochs=1, max_round=2, max_in_flight=1)
_E1 = 1


def _fresh_small(name: str, expected: str, probe: str) -> ProbeScenario:
    """Three fresh servers, no crash, rounds up to 2, one message in flight per channel, one probe."""
    return ProbeScenario(
        name,
        "three servers start fresh, no crash, rounds up to 2, one message in flight per channel",
        expected,
        cfg=lambda: default_config(3),
        bounds=Bounds(epochs=1, max_round=2, max_in_flight=1),
        probes=(probe,),
    )


def register_scenarios() -> None:
    """Add the probe scenarios to ``zkfle.model.scenarios.SCENARIOS`` (idempotent)."""
    new = (
        ProbeScenario(
            RESTART_SCENARIO,
            "leader-crash's start (1 and 2 in epoch 1, 3 down and restartable), one crash, rounds up to 2, "
            "one message in flight per channel",
            "every decision passes checkLeader's guards exactly as 3.8.0 states them (the probes hold)",
            cfg=lambda: default_config(3),
            starts={
                1: ServerStart(_E1, _E1, zxid_of(_E1, 2)),
                2: ServerStart(_E1, _E1, zxid_of(_E1, 1)),
                3: ServerStart(_E1, _E1, zxid_of(_E1, 2), running=False, starts_later=True),
            },
            bounds=_SMALL,
            probes=("LeaderKeepsItsRound", "QuorumHeeded"),
        ),
        _fresh_small(FRESH_SCENARIO, "nobody follows a leader that has not decided to lead (the probe holds)",
                     "FollowsOnlyDecidedLeaders"),
        _fresh_small(SAME_ROUND_SCENARIO,
                     "a same-round LEADING vote that completes a quorum in recvset is acted upon (the probe "
                     "holds)", "SameRoundLeaderHeeded"),
        ProbeScenario(
            JOINER_SCENARIO,
            "1 and 2 start fresh and elect 2; 3 (the largest sid) starts once they have decided (ZK-975's "
            "FLETest.testJoin); one crash is allowed, which on the zk channel also turns on "
            "QuorumCnxManager's connection model (notifications for a peer that is down wait in its queue)",
            "3 joins as a follower: until a crash, it never becomes LEADING (the probe holds)",
            cfg=lambda: default_config(3),
            starts={3: ServerStart(running=False, starts_later=True, after_decision=True)},
            bounds=Bounds(crashes=1, epochs=0, max_round=1, max_in_flight=1, faults_when_quiet=True),
            probes=("JoinerNeverLeads",),
        ),
    )
    for sc in new:
        SCENARIOS.setdefault(sc.name, sc)
