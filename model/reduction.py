"""Reductions of the FLE model's state graph: partial-order reduction and observer symmetry.

Rules:

- ``ample(model, state, succ)`` returns the positions (into ``succ``) of a *persistent* set of steps, all
  *invisible* to every checked invariant and action property, or None to expand every successor. The
  engine adds the cycle proviso (C3, ``model/explorer/partition.py``). ``canonical(model, state)`` returns
  one representative of the state's class under renaming of interchangeable observers.
- Both only ever answer "no reduction" when in doubt: an unknown property reads everything, the ``zk``
  channel gets no partial-order reduction, a config with unguarded faults gets none, and symmetry is the
  identity unless every checked property is known to treat observers alike.
- Nothing here changes the model: ``model/fle.py`` calls in through ``FleModel.ample``/``canonical``.

Theory of operation (the full argument, with the cases, is in docs/reductions.md).

*Partial-order reduction, fifo channel.* The steps of server ``j`` are ``Deliver(*, j)``,
``ProcessRequeued(j)`` and ``FinalizeExpire(j)``; each pops one head of a channel into ``j`` (or j's
re-queued slot), rewrites only ``servers[j]`` and appends to channels out of ``j``. Appending to a
non-empty FIFO commutes with popping its head, so a step of ``j`` and a step of ``k != j`` commute whenever
both are enabled. Everything else is either a timer that needs a quiet network (Timeout, LeaderQuit,
FollowerQuit, and Crash/Restart when ``faults_when_quiet``), which cannot fire while ``j`` still has
input, or a Zab step (Establish, Join, Commit), which is checked case by case below. Two candidate sets:

1. *A decided server* (FOLLOWING, LEADING, OBSERVING): a delivery only answers or drops, ``servers[j]`` is
   unchanged, so deliveries to ``j`` commute with each other too, and the single step ``{Deliver(i, j)}``
   is persistent, provided no Zab step can rewrite ``j`` before it (``j`` established and no commit can
   change the zxid its answer carries, or its leader can never be established before ``j`` acts).
2. *A LOOKING server*: all its enabled steps ``A_j``. C1 needs that no other server can send to ``j`` on a
   channel that is empty now (that would enable a new, dependent step of ``j``): a fixed point computes
   which servers may still receive before ``j`` acts, and the (round, vote) pairs that can still be sent
   tell which LOOKING ones may still change their vote (and so broadcast). No step of ``j`` may be cut by the
   ``max_in_flight`` bound (another server's delivery from ``j`` would uncut it). A step that makes ``j``
   FOLLOWING ``l`` must not race an ``Establish(l)`` that could read ``j``.

C2: each property has a declared footprint (the server fields it reads, ``FOOTPRINTS``); a step is visible
if it changes one of them. Action properties that look at the action name (``FollowsOnlyDecidedLeaders``)
are safe because a reduced path keeps every visible step, with its name, in order.

*Symmetry.* Observers are never counted, never proposed, never recorded in a ``recvset``; nothing in the
model compares their sids (no tie-break, and the model's ``zk`` connections are symmetric). An observer's
sid appears in exactly one place: its own ``currentVote`` before it first decides (QuorumPeer's initial
vote). So observers with the same ``ServerStart`` may be renamed: server tuples and channel rows and
columns are permuted, and the moved observer's own sid in its vote is renamed. Voters never move.
"""

from __future__ import annotations

import marshal
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zkfle.model.fle import (
    ALIVE,
    CEP,
    CRASHES,
    CV,
    DOWN_STARTABLE,
    FW,
    HIST,
    INFL,
    OOE,
    PE,
    PEND,
    PL,
    PZ,
    RND,
    RS,
    ST,
    TXNS,
    UP,
    VS,
    ZAB,
    ZX,
)
from zkfle.model.vote import FOLLOWING, LEADING, LOOKING

if TYPE_CHECKING:
    from zkfle.model.fle import FleModel

State = tuple[Any, ...]
Action = tuple[Any, ...]
Succ = list[tuple[Action, State]]

# The server fields each property reads (properties.py, scenarios.py, probes.py). A step that changes none of
# a property's fields cannot change its verdict; a property not listed here counts as reading everything.
FOOTPRINTS: dict[str, frozenset[int]] = {
    "OneLeaderPerEpoch": frozenset({ALIVE, ST, ZAB}),
    "Agreement": frozenset({ALIVE, ST, ZAB, CV}),
    "ValidVote": frozenset({ALIVE, PL, PZ, PE, CEP, ZX}),
    "VoteIsBestSeen": frozenset({ALIVE, ST, RS, RND, PL, PZ, PE}),
    "AtMostOneLeadingPerRound": frozenset({ALIVE, ST, CV}),
    "LeaderCompleteness": frozenset({ST, VS, CEP, ZX}),
    "NoVoteCircle": frozenset({ALIVE, RND, ST, PL, PZ, PE, HIST}),
    "ExpectedDecision": frozenset({ALIVE, ST, CV}),
    "ExpectedOutcome": frozenset({ALIVE, ST}),  # the invariant form (a sid never LEADING)
    "LeaderKeepsItsRound": frozenset({ST, CV, RND}),
    "QuorumHeeded": frozenset({ALIVE, ST, OOE, RND}),
    "FollowsOnlyDecidedLeaders": frozenset({ALIVE, ST, CV, RND}),  # and the action name (see above)
    "JoinerNeverLeads": frozenset({ALIVE, ST}),  # and the crash counter, which no candidate step bumps
}

# Properties that treat observers with equal starting points alike (none names an observer's sid).
# ExpectedOutcome is left out: its invariant form names one server.
OBSERVER_SYMMETRIC = frozenset(FOOTPRINTS) - {"ExpectedOutcome"}

# Mutation switches for the tests' negative twins only (an unsound reduction must be seen to lose a finding).
CHECK_C1 = True  # the channel and Zab conditions of persistence
CHECK_C2 = True  # visibility
PERMUTE_VOTERS = False  # symmetry over every server, voters included (unsound: FLE breaks ties by sid)


@dataclass(frozen=True)
class _Plan:
    """What one model's checked properties allow, computed once per property selection."""

    footprint: frozenset[int] | None  # None: some property reads everything, no step is invisible
    groups: tuple[tuple[int, ...], ...]  # indices of interchangeable observers (groups of 2 or more)


_LAST_PLAN: list[Any] = []  # [model, invariants, actions, PERMUTE_VOTERS, plan] of the last model asked


def _plan(model: FleModel) -> _Plan:
    """The model's plan; recomputed when its property mappings are replaced (probes.with_probes does)."""
    invariants, actions = model.invariants, model.action_properties
    last = _LAST_PLAN
    same = bool(last) and last[0] is model and last[1] is invariants and last[2] is actions
    if same and last[3] is PERMUTE_VOTERS:
        cached: _Plan = last[4]
        return cached
    names = [*invariants, *actions]
    footprint: frozenset[int] | None = frozenset()
    for name in names:
        fields = FOOTPRINTS.get(name)
        footprint = None if fields is None or footprint is None else footprint | fields
    plan = _Plan(footprint, _observer_groups(model, names))
    _LAST_PLAN[:] = [model, invariants, actions, PERMUTE_VOTERS, plan]
    return plan


# ---------------------------------------------------------------------------------------------- POR
def ample(model: FleModel, state: State, succ: Succ) -> list[int] | None:
    """A persistent set of invisible steps of one server (positions into ``succ``), or None."""
    if model.zk or len(succ) < 2:
        return None  # zk: a send slot overwritten by a newer message makes sends and deliveries dependent
    if not model.variant.atomic_decision:
        return None  # SetCurrentVote changes what a decided server answers: not covered by the argument
    plan = _plan(model)
    if plan.footprint is None and CHECK_C2:
        return None
    if CHECK_C1 and not _faults_wait_for_quiet(model, state):
        return None
    own: dict[int, list[int]] = {}
    idx = model.idx
    for pos, (action, _) in enumerate(succ):
        name = action[0]
        if name == "Deliver":
            own.setdefault(idx[action[2]], []).append(pos)
        elif name in ("ProcessRequeued", "FinalizeExpire"):
            own.setdefault(idx[action[1]], []).append(pos)
    servers = state[0]
    looking = []
    for j, positions in own.items():
        if servers[j][ST] != LOOKING:
            chosen = _decided_step(model, state, succ, j, positions, plan)
            if chosen is not None:
                return chosen  # a single step: nothing smaller
        elif len(positions) < len(succ):
            looking.append((len(positions), j, positions))
    changers: list[frozenset[int]] = []  # computed once, and only if needed
    for _, j, positions in sorted(looking):
        chosen = _looking_set(model, state, succ, j, positions, plan, changers)
        if chosen is not None:
            return chosen
    return None


def _faults_wait_for_quiet(model: FleModel, state: State) -> bool:
    """No crash or restart can happen while a message is in flight (they need a quiet network)."""
    bounds = model.bounds
    if bounds.faults_when_quiet:
        return True  # Crash and Restart need a quiet network, which no server with input allows
    servers, _, counters = state
    if counters[CRASHES] < bounds.crashes:
        return False
    sids = model.sids
    late = model.start_when_decided  # these start only on a quiet network
    return not any(s[ALIVE] == DOWN_STARTABLE and sids[k] not in late for k, s in enumerate(servers))


def _invisible(plan: _Plan, before: tuple[Any, ...], after: tuple[Any, ...]) -> bool:
    if not CHECK_C2:
        return True
    if before is after:
        return True
    footprint = plan.footprint
    assert footprint is not None
    return all(before[f] == after[f] for f in footprint)


def _decided_step(
    model: FleModel, state: State, succ: Succ, j: int, positions: list[int], plan: _Plan
) -> list[int] | None:
    """Case 1: one delivery to a decided server, which only answers or drops (docs/reductions.md)."""
    servers = state[0]
    sj = servers[j]
    if CHECK_C1 and not _zab_leaves_alone(model, state, j):
        return None
    for pos in positions:
        after = succ[pos][1][0]
        if _invisible(plan, sj, after[j]):
            return [pos]
    return None


def _zab_leaves_alone(model: FleModel, state: State, j: int) -> bool:
    """Can no Establish, Join or Commit rewrite decided ``j`` (what its answers carry) before it acts?"""
    servers, _, counters = state
    sj = servers[j]
    if sj[ZAB] > 0:
        # Established or joined: Establish and Join pass it by; a Commit changes only its zxid, which its
        # answers carry only as the ghost of vote tracking.
        return not model.track or counters[TXNS] >= model.bounds.txns
    if sj[ST] == LEADING:
        return False  # Establish(j) may run
    return _never_established(model, state, sj[CV][0])


def _never_established(model: FleModel, state: State, leader_sid: int) -> bool:
    """Can server ``leader_sid`` neither establish nor be joined before the pending input is handled?

    True when it is not a server, is down (restarts wait for a quiet network), or is decided for another
    server (only a quiet-network quit would make it LOOKING again)."""
    ls = _live_server(model, state, leader_sid)
    if ls is None:
        return True
    return ls[ST] != LOOKING and ls[CV][0] != leader_sid


def _live_server(model: FleModel, state: State, sid: int) -> tuple[Any, ...] | None:
    """Server ``sid``'s fields if it is a server of the config and up, else None."""
    k = model.idx.get(sid)
    if k is None or state[0][k][ALIVE] != UP:
        return None
    server: tuple[Any, ...] = state[0][k]
    return server


def _looking_set(
    model: FleModel, state: State, succ: Succ, j: int, positions: list[int], plan: _Plan,
    changers: list[frozenset[int]],
) -> list[int] | None:
    """Case 2: every enabled step of a LOOKING server (docs/reductions.md); cheap tests first."""
    sj = state[0][j]
    for pos in positions:
        after = succ[pos][1][0][j]
        if not _invisible(plan, sj, after):
            return None
        if CHECK_C1 and after[ST] == FOLLOWING and not _establish_cannot_race(model, state, after[CV][0]):
            return None
    if CHECK_C1:
        if not _nothing_cut(model, state, j, len(positions)):
            return None
        if sj[PEND] is None:
            if not changers:
                changers.append(_vote_changers(model, state))
            if _may_get_new_input(model, state, j, changers[0]):
                return None
    return positions


def _nothing_cut(model: FleModel, state: State, j: int, enabled: int) -> bool:
    """Every step of ``j`` the model would take is in ``succ`` (none was cut by ``max_in_flight``)."""
    servers, channels, _ = state
    if servers[j][PEND] is not None:
        return enabled == 1  # ProcessRequeued alone
    n = model.n
    wanted = sum(1 for i in range(n) if channels[i * n + j][INFL])
    if servers[j][FW]:
        wanted += 1  # FinalizeExpire, which never sends
    return enabled == wanted


def _establish_cannot_race(model: FleModel, state: State, leader_sid: int) -> bool:
    """``j`` is about to follow ``leader_sid``: is Establish(leader), counting ``j``, out of reach?"""
    ls = _live_server(model, state, leader_sid)
    if ls is None:
        return True
    if ls[ST] == LEADING and ls[ZAB] > 0:
        return True  # already established: Establish is not enabled again before a (quiet) quit
    return ls[ST] not in (LOOKING, LEADING)


def _may_get_new_input(model: FleModel, state: State, j: int, changers: frozenset[int]) -> bool:
    """Could some server send to ``j``, before ``j`` acts, on a channel into ``j`` that is empty now?"""
    channels = state[1]
    n = model.n
    busy = _busy_servers(model, state, j, changers)
    j_votes = model.is_voter[j]
    for k in busy:
        if channels[k * n + j][INFL]:
            continue  # that delivery is already in the set; later messages queue behind it
        if k in changers and j_votes:
            return True  # k may change its vote and broadcast to every voter
        if channels[j * n + k][INFL]:
            return True  # k may answer a notification of j's
    return False


def _busy_servers(model: FleModel, state: State, j: int, changers: frozenset[int]) -> set[int]:
    """The servers other than ``j`` that may receive a notification before ``j`` acts (a fixed point)."""
    servers, channels, _ = state
    n = model.n
    voters = model.voter_idx
    up = [s[ALIVE] == UP for s in servers]
    busy = set()
    for k in range(n):
        if k != j and up[k] and (
            servers[k][PEND] is not None or any(channels[i * n + k][INFL] for i in range(n))
        ):
            busy.add(k)
    todo = list(busy)
    while todo:
        k = todo.pop()
        reached: list[int] = []
        if k in changers:
            reached.extend(voters)  # a new vote goes to every voter
        reached.extend(i for i in range(n) if channels[i * n + k][INFL])  # answers go back to senders
        for i in reached:
            if i != j and up[i] and i not in busy:
                busy.add(i)
                todo.append(i)
    return busy


def _vote_changers(model: FleModel, state: State) -> frozenset[int]:
    """The LOOKING servers that may still change their proposal or round (and so broadcast) before the
    network is quiet again: some LOOKING notification that can still exist is newer or better than theirs.

    Every LOOKING notification that can be sent from here carries a (round, vote) pair already in flight or
    re-queued, some LOOKING server's present (round, proposal), or, after a round jump to a round already in
    flight, that server's initial vote or present proposal in the new round (``round_jump``'s three modes).
    No step makes a new round or a new vote out of anything else until a quiet-network timer fires."""
    servers, channels, _ = state
    looking = [k for k, s in enumerate(servers) if s[ALIVE] == UP and s[ST] == LOOKING]
    if not looking:
        return frozenset()
    seen: set[tuple[int, int, int, int]] = set()
    for ch in channels:
        for msg in ch[INFL]:
            if msg[0] == LOOKING:
                seen.add((msg[3], msg[1], msg[2], msg[4]))
    for s in servers:
        pend = s[PEND]
        if pend is not None and pend[1] == LOOKING:
            seen.add((pend[4], pend[2], pend[3], pend[5]))
    for k in looking:
        s = servers[k]
        seen.add((s[RND], s[PL], s[PZ], s[PE]))
    rounds = {r for r, _, _, _ in seen}
    for k in looking:
        s = servers[k]
        il, iz, ie = model._init_vote(k, s[ZX], s[CEP])
        for r in rounds:
            if r > s[RND]:
                seen.add((r, il, iz, ie))
                seen.add((r, s[PL], s[PZ], s[PE]))
    top = model.top
    changers = set()
    for k in looking:
        s = servers[k]
        rnd, pl, pz, pe = s[RND], s[PL], s[PZ], s[PE]
        if any(r > rnd or (r == rnd and top(ml, mz, mpe, pl, pz, pe)) for r, ml, mz, mpe in seen):
            changers.add(k)
    return frozenset(changers)


# ---------------------------------------------------------------------------------------------- symmetry
def _observer_groups(model: FleModel, names: list[str]) -> tuple[tuple[int, ...], ...]:
    """Interchangeable servers: observers with equal starting points (everyone, for the unsound twin)."""
    if PERMUTE_VOTERS:
        return (tuple(range(model.n)),)
    if any(name not in OBSERVER_SYMMETRIC for name in names):
        return ()
    by_start: dict[Any, list[int]] = {}
    for k in range(model.n):
        if not model.is_voter[k]:
            by_start.setdefault(model.starts[k], []).append(k)
    return tuple(tuple(g) for g in by_start.values() if len(g) > 1)


def canonical(model: FleModel, state: State) -> State:
    """The state with each group of interchangeable observers sorted into a canonical order."""
    groups = _plan(model).groups
    if not groups or not model.variant.atomic_decision:
        return state  # a non-atomic decision keeps an observer's own sid in its OLDCV too: not renamed
    perm: list[int] | None = None  # perm[new position] = old position
    for group in groups:
        ranked = _ranked(model, state, group)
        if ranked != group:
            if perm is None:
                perm = list(range(model.n))
            for pos, k in zip(group, ranked, strict=True):
                perm[pos] = k
    return state if perm is None else permute(model, state, perm)


def _ranked(model: FleModel, state: State, group: tuple[int, ...]) -> tuple[int, ...]:
    """The group's members in canonical order: by their own tuple, then (on a tie) by their channels."""
    servers, sids = state[0], model.sids
    fifo = not model.zk
    own = [_rename_own(servers[k], sids[k], 0) for k in group]
    if fifo:
        down = True
        for k in group:
            if servers[k][ALIVE] == UP:
                down = False
                break
        if down and own.count(own[0]) == len(own):
            return group  # identical, with blank channels (below): every order gives the same state
    keys = {k: marshal.dumps(t) for k, t in zip(group, own, strict=True)}
    if len(set(keys.values())) < len(group):
        # Under fifo every channel of a server that is not up is (None, (), None, False): a crash empties
        # both directions and disconnects, and messages to a down server are lost. Only the others' channels
        # can tell tied members apart.
        keys = {k: keys[k] if fifo and servers[k][ALIVE] != UP
                else keys[k] + _channel_key(model, state, k, group) for k in group}
    return tuple(sorted(group, key=keys.__getitem__))


def _channel_key(model: FleModel, state: State, k: int, group: tuple[int, ...]) -> bytes:
    """Observer ``k``'s loop-back channel and its channels to and from the servers outside its group."""
    channels = state[1]
    n = model.n
    outside = [i for i in range(n) if i not in group]
    rows = tuple(channels[k * n + i] for i in outside)
    cols = tuple(channels[i * n + k] for i in outside)
    return marshal.dumps((channels[k * n + k], rows, cols))


def _rename_own(server: tuple[Any, ...], old: int, new: int) -> tuple[Any, ...]:
    """An observer's tuple with its own sid in currentVote (its initial vote) renamed."""
    cv = server[CV]
    if cv[0] != old:
        return server
    return (*server[:CV], (new, *cv[1:]), *server[CV + 1 :])


def permute(model: FleModel, state: State, perm: list[int]) -> State:
    """Server ``perm[p]`` moved to position ``p``: server tuples, channel rows and columns, own sids."""
    servers, channels, counters = state
    n = model.n
    sids = model.sids
    moved = tuple(
        servers[old] if old == p else _rename_own(servers[old], sids[old], sids[p])
        for p, old in enumerate(perm)
    )
    chans = tuple(channels[perm[a] * n + perm[b]] for a in range(n) for b in range(n))
    return (moved, chans, counters)
