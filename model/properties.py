"""The properties the FLE model is checked against (their exact statements are in docs/properties.md).

Rules:

- Invariants look at one state; action properties look at one step ``(before, action, after)``; liveness
  goals must hold in every state of every bottom strongly connected component (spec.Liveness).
- Each property reads the server fields through ``zkfle.model.fle``'s layout constants and nothing else.
- ``AtMostOneLeadingPerRound`` is *not* guaranteed by ZooKeeper's FLE; it is in the catalogue so the checker
  can show a counterexample (``zkfle check --invariant AtMostOneLeadingPerRound`` exits 12). It is not part of
  the default set (``DEFAULT``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from zkfle.model.explorer.spec import Liveness
from zkfle.model.vote import FOLLOWING, LEADING, LOOKING, MIN_VALUE, OBSERVING

if TYPE_CHECKING:
    from zkfle.model.fle import FleModel

State = tuple[Any, ...]
Action = tuple[Any, ...]

INVARIANTS = ("OneLeaderPerEpoch", "Agreement", "ValidVote", "VoteIsBestSeen", "AtMostOneLeadingPerRound")
ACTION_PROPERTIES = ("LeaderCompleteness", "NoVoteCircle")
LIVENESS = ("Termination",)
ALL = INVARIANTS + ACTION_PROPERTIES + LIVENESS
# Not guaranteed by FLE on its own: checked only when asked for.
NOT_GUARANTEED = frozenset({"AtMostOneLeadingPerRound"})
DEFAULT = tuple(p for p in ALL if p not in NOT_GUARANTEED)
# Properties that need the ghost fields (vote history, quorum ghosts) in the state.
NEEDS_TRACKING = frozenset({"LeaderCompleteness", "NoVoteCircle"})


Invariants = dict[str, Callable[[State], bool]]


def reads_servers_only(invariant: Callable[[State], bool]) -> Callable[[State], bool]:
    """Mark an invariant that reads ``state[0]`` (the servers) and nothing else: the explorer may then judge
    it once per distinct tuple of servers (``FleModel.invariant_reads``)."""
    setattr(invariant, SERVERS_ONLY, True)
    return invariant


SERVERS_ONLY = "zkfle_reads_servers_only"
FLAGGED_BY = "zkfle_flagged_by"
CHANGED_ONLY = "zkfle_reads_changed_only"


def reads_changed_only(prop: Any) -> Any:
    """Mark an action property that reads only the servers a step changes (it skips, by identity, every
    server the step keeps): its verdict is then a function of the step's footprint, which lets the
    explorer's step memo remember it with the step (``FleModel.action_reads_changed_only``)."""
    setattr(prop, CHANGED_ONLY, True)
    return prop


def flagged_only_by(*actions: str) -> Callable[[Any], Any]:
    """Mark an action property that only steps of these actions can violate: the explorer then skips it on
    every other step (``FleModel.flagged_by``). The sets below follow fle.py: a LOOKING server changes
    its proposal within one round only in lookForLeader (``Deliver``, ``ProcessRequeued``), and a server
    becomes LEADING only in ``_decide`` (those two and ``FinalizeExpire``)."""

    def mark(prop: Any) -> Any:
        setattr(prop, FLAGGED_BY, frozenset(actions))
        return prop

    return mark
ActionProperties = dict[str, Callable[[State, Action, State], bool]]


def catalogue(m: FleModel) -> tuple[Invariants, ActionProperties, dict[str, Liveness]]:
    """Every property, bound to model ``m``."""
    from zkfle.model import fle

    alive, st_, rnd_, pl_, pz_, pe_, cv_ = fle.ALIVE, fle.ST, fle.RND, fle.PL, fle.PZ, fle.PE, fle.CV
    cep_, zx_, zab_, hist_, vs_ = fle.CEP, fle.ZX, fle.ZAB, fle.HIST, fle.VS
    up = fle.UP
    sids = m.sids

    @reads_servers_only
    def one_leader_per_epoch(state: State) -> bool:
        epochs = [s[zab_] for s in state[0] if s[alive] == up and s[st_] == LEADING and s[zab_] > 0]
        return len(epochs) == len(set(epochs))

    @reads_servers_only
    def agreement(state: State) -> bool:
        servers = state[0]
        leader_of = {s[zab_]: sids[k] for k, s in enumerate(servers)
                     if s[alive] == up and s[st_] == LEADING and s[zab_] > 0}
        for s in servers:
            if s[alive] == up and s[st_] in (FOLLOWING, OBSERVING) and s[zab_] > 0:
                leader = leader_of.get(s[zab_])
                if leader is not None and s[cv_][0] != leader:
                    return False
        return True

    @reads_servers_only
    def valid_vote(state: State) -> bool:
        servers = state[0]
        for s in servers:
            if s[alive] != up or s[pl_] == MIN_VALUE:
                continue
            k = m.idx.get(s[pl_])
            if k is None or not m.is_voter[k]:
                return False
            owner = servers[k]
            if (s[pe_], s[pz_]) > (owner[cep_], owner[zx_]):
                return False
        return True

    top = m.top

    @reads_servers_only
    def vote_is_best_seen(state: State) -> bool:
        for s in state[0]:
            if s[alive] != up or s[st_] != LOOKING:
                continue
            for e in s[fle.RS]:
                if e[5] == LOOKING and e[3] == s[rnd_] and top(e[1], e[2], e[4], s[pl_], s[pz_], s[pe_]):
                    return False
        return True

    @reads_servers_only
    def at_most_one_leading_per_round(state: State) -> bool:
        rounds = [s[cv_][2] for s in state[0] if s[alive] == up and s[st_] == LEADING]
        return len(rounds) == len(set(rounds))

    @reads_changed_only
    @flagged_only_by("Deliver", "ProcessRequeued", "FinalizeExpire")
    def leader_completeness(before: State, action: Action, after: State) -> bool:
        old = before[0]
        if after[0] is old:
            return True  # no server changed (a step keeps the servers' tuple then)
        for k, t in enumerate(after[0]):
            if t is old[k]:
                continue  # a step copies the servers it does not touch by reference
            if t[st_] == LEADING and old[k][st_] != LEADING and t[vs_] is not None:
                ghost = t[vs_][1]
                if ghost is not None and (t[cep_], t[zx_]) < ghost:
                    return False
        return True

    @reads_changed_only
    @flagged_only_by("Deliver", "ProcessRequeued")
    def no_vote_circle(before: State, action: Action, after: State) -> bool:
        old = before[0]
        if after[0] is old:
            return True
        for k, t in enumerate(after[0]):
            s = old[k]
            if s is t:
                continue
            if s[alive] != up or t[alive] != up or s[rnd_] != t[rnd_]:
                continue
            if s[st_] != LOOKING or t[st_] != LOOKING:
                continue
            new = (t[pl_], t[pz_], t[pe_])
            if new != (s[pl_], s[pz_], s[pe_]) and new in s[hist_]:
                return False
        return True

    invariants: dict[str, Callable[[State], bool]] = {
        "OneLeaderPerEpoch": one_leader_per_epoch,
        "Agreement": agreement,
        "ValidVote": valid_vote,
        "VoteIsBestSeen": vote_is_best_seen,
        "AtMostOneLeadingPerRound": at_most_one_leading_per_round,
    }
    actions: dict[str, Callable[[State, Action, State], bool]] = {
        "LeaderCompleteness": leader_completeness,
        "NoVoteCircle": no_vote_circle,
    }
    liveness = {
        "Termination": Liveness(
            goal=lambda state: settled(m, state) or m.bound_hit(state),
            description="once faults stop, every live voter of a live quorum decides, all on one live leader",
        )
    }
    return invariants, actions, liveness


def settled(m: FleModel, state: State) -> bool:
    """Every live server decided on one live, LEADING leader; vacuously true without a live quorum."""
    from zkfle.model import fle

    servers = state[0]
    up_mask = 0
    for k in m.voter_idx:
        if servers[k][fle.ALIVE] == fle.UP:
            up_mask |= 1 << k
    if not m.qtable[up_mask]:
        return True
    leaders = set()
    for s in servers:
        if s[fle.ALIVE] != fle.UP:
            continue
        if s[fle.ST] == LOOKING:
            return False
        leaders.add(s[fle.CV][0])
    if len(leaders) != 1:
        return False
    k = m.idx.get(leaders.pop())
    if k is None:
        return False
    ls = servers[k]
    return ls[fle.ALIVE] == fle.UP and ls[fle.ST] == LEADING
