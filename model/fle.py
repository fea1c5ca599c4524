"""A small-step model of Fast Leader Election as ZooKeeper 3.8.0 runs it (``FastLeaderElection.java``).

Rules:

- States are flat immutable tuples ``(servers, channels, counters)``; every step is a pure function of the
  state, named by an action tuple such as ``("Deliver", 2, 1)`` (sender 2, receiver 1).
- ``servers[k]`` is one server's fields, indexed by the constants below: liveness, ``ServerState``,
  ``logicalclock``, the proposal (leader, zxid, peerEpoch), ``currentVote``, ``recvset``, ``outofelection``,
  the finalize-wait flag and its re-queued notification, the persistent ``currentEpoch``/``acceptedEpoch``/
  last zxid, the Zab epoch it is established in (0: not yet), the ghost fields the properties need and
  ``OLDCV``: QuorumPeer's ``currentVote`` while a decided server has not run ``setCurrentVote`` yet (only
  under a non-atomic decision; ``CV`` always holds the decision's end vote).
- ``channels[i * n + j]`` carries notifications from server i to server j as ``(slot, in_flight, last,
  connected)``. Under ``fifo`` only ``in_flight`` is used (a reliable FIFO per ordered pair); under ``zk``
  ``slot`` is QuorumCnxManager's capacity-1 send queue, ``last`` is ``lastMessageSent`` and ``connected``
  says whether the pair's TCP connection is up (the loop-back channel i -> i is always a plain FIFO).
- A notification is ``(state, leader, zxid, round, peerEpoch, ghost_epoch, ghost_zxid)``; the two ghosts are
  the sender's own ``currentEpoch`` and zxid when it sent it (0 unless vote tracking is on).

Theory of operation. One ``Deliver`` step is WorkerReceiver's receipt *and* lookForLeader's handling of the
notification, atomically (the receiver's replies go out in the same step). The only explicit receive queue
is the finalize-wait re-queue: a better notification seen during the drain is parked in the server's
``pending`` slot and handled by ``ProcessRequeued`` before anything else reaches that server. Timers
(notification timeout, a leader or follower giving up) fire only when the network is quiet: no message in
flight or waiting to be sent to a live server, nobody in the finalize wait. ``FinalizeExpire`` may fire at any
time (a message can always be slower than 200 ms). Zab is abstracted into ``Establish``, ``Join``,
``Commit``, ``LeaderQuit`` and ``FollowerQuit``; see docs/model.md for why each abstraction is sound.

Speed without a change of meaning. A delivery's effect on its receiver is a pure function
(``_receive``: the receiver's tuple, the sender, the notification -> the receiver's new tuple and what it
sends); ``_deliver`` caches it under the receiver tuple's ``id()`` (the entry keeps that tuple alive and a
hit is checked with ``is``, so a recycled address never matches) and then sends through ``_send`` as
before. A step that leaves a tuple equal to what it was keeps the very tuple (``_same_or_new``), so the
properties skip unchanged servers by identity. For the explorer's collapse compression the model names
its parts (``components``/``assemble``) and which of them each invariant reads (``invariant_reads``). For
its step memo (``explorer/steps.py``) ``successors`` is the guards (``_enabled``) then the effects, and the
model declares what each side reads: ``guard_reads`` (``_server_guard``, ``_channel_guard``) and
``footprint(action)``. A guard or effect that starts reading another field must widen those in the same
change; ``tests/test_explorer_steps.py`` compares the memo with ``successors`` to catch a missed read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from zkfle.errors import InternalError
from zkfle.model.config import ModelConfig, ServerStart, zxid_of, zxid_text
from zkfle.model.explorer.spec import Liveness
from zkfle.model.vote import (
    FOLLOWING,
    LEADING,
    LOOKING,
    MIN_VALUE,
    OBSERVING,
    STATE_NAMES,
    make_predicate,
)
from zkfle.quorum import minimal_quorums

# Liveness of a server.
DOWN, DOWN_STARTABLE, UP = 0, 1, 2
# Fields of a server tuple.
ALIVE, ST, RND, PL, PZ, PE, CV, RS, OOE, FW, PEND, CEP, AEP, ZX, ZAB, HIST, VS, OLDCV = range(18)
# Fields of a channel entry.
SLOT, INFL, LAST, CONN = range(4)
# Counters.
CRASHES, TXNS, TIMEOUTS = range(3)
EMPTY_CHANNEL: tuple[Any, ...] = (None, (), None, False)
# Receipts (``_receive`` results) cached per model; the cache is emptied when it holds this many.
RECEIPTS_KEPT = 1 << 16

State = tuple[Any, ...]
Action = tuple[Any, ...]
Server = tuple[Any, ...]
Outgoing = tuple[tuple[int, tuple[int, ...]], ...]  # (receiver index, notification), in sending order
Step = tuple[Action, Callable[..., None], tuple[int, ...]]  # an enabled step: action, effect, arguments


class _Overflow(Exception):
    """A step would put more than ``max_in_flight`` messages in one channel: it is not explored."""


class FleModel:
    """Fast Leader Election over one ``ModelConfig`` (spec.py's ``Model``)."""

    def __init__(
        self,
        mc: ModelConfig,
        *,
        name: str | None = None,
        extra_invariants: Mapping[str, Callable[[State], bool]] | None = None,
        extra_action_properties: Mapping[str, Callable[[State, Action, State], bool]] | None = None,
        extra_liveness: Mapping[str, Liveness] | None = None,
        selected: frozenset[str] | None = None,
    ) -> None:
        from zkfle.model import properties  # the property catalogue reads this module's field layout

        self.mc = mc
        self.name = name or mc.describe()
        self.variant = mc.variant
        qv = mc.qv
        self.sids: tuple[int, ...] = mc.sids
        self.n = len(self.sids)
        self.idx: dict[int, int] = {sid: k for k, sid in enumerate(self.sids)}
        self.voter_sids = frozenset(qv.voting_members)
        self.is_voter: tuple[bool, ...] = tuple(sid in self.voter_sids for sid in self.sids)
        self.voter_idx: tuple[int, ...] = tuple(k for k in range(self.n) if self.is_voter[k])
        self.bit: dict[int, int] = {sid: 1 << k for k, sid in enumerate(self.sids)}
        self.qtable: tuple[bool, ...] = tuple(
            qv.contains_quorum([self.sids[k] for k in self.voter_idx if mask >> k & 1])
            for mask in range(1 << self.n)
        )
        self.minimal_quorums: tuple[int, ...] = tuple(
            sum(self.bit[s] for s in q) for q in minimal_quorums(qv)
        )
        self.weights = {sid: qv.weight(sid) for sid in self.voter_sids}
        self.top = make_predicate(self.variant, self.weights)
        self.zk = mc.channel == "zk"
        self.reconnects = self.zk and mc.bounds.crashes > 0
        self.bounds = mc.bounds
        self.track = mc.track_votes
        self.starts: tuple[ServerStart, ...] = tuple(mc.start_of(sid) for sid in self.sids)
        # Precomputed per receiver j: (i, channel index i -> j, the Deliver action), so the hot loop of
        # successors builds no action tuples and does no index arithmetic.
        self.inbound: tuple[tuple[tuple[int, int, Action], ...], ...] = tuple(
            tuple((i, i * self.n + j, ("Deliver", self.sids[i], self.sids[j])) for i in range(self.n))
            for j in range(self.n)
        )
        # ... and per sender j under zk: (i, channel index j -> i, the Transmit action), loop-back excluded.
        self.outbound: tuple[tuple[tuple[int, int, Action], ...], ...] = tuple(
            tuple(
                (i, j * self.n + i, ("Transmit", self.sids[j], self.sids[i])) for i in range(self.n) if i != j
            )
            for j in range(self.n)
        )
        # _deliver's cache: (id(receiver tuple), i, j, notification) -> (receiver tuple, new tuple, sent)
        self._receipts: dict[tuple[int, int, int, tuple[int, ...]], tuple[Server, Server, Outgoing]] = {}
        self.always_up = mc.bounds.crashes == 0 and all(st.running for st in self.starts)
        self.start_when_decided = frozenset(sid for sid, st in zip(self.sids, self.starts, strict=True)
                                            if st.after_decision)
        invariants, action_properties, liveness = properties.catalogue(self)
        invariants.update(extra_invariants or {})
        action_properties.update(extra_action_properties or {})
        liveness.update(extra_liveness or {})
        if selected is None:  # the default: everything except what FLE does not promise
            selected = frozenset(invariants) | set(action_properties) | set(liveness)
            selected -= properties.NOT_GUARANTEED
        if selected is not None:
            invariants = {k: v for k, v in invariants.items() if k in selected}
            action_properties = {k: v for k, v in action_properties.items() if k in selected}
            liveness = {k: v for k, v in liveness.items() if k in selected}
        self._invariants = invariants
        self._action_properties = action_properties
        self._liveness = liveness

    # ------------------------------------------------------------------ spec.Model
    @property
    def invariants(self) -> Mapping[str, Callable[[State], bool]]:
        return self._invariants

    @property
    def action_properties(self) -> Mapping[str, Callable[[State, Action, State], bool]]:
        return self._action_properties

    @property
    def liveness(self) -> Mapping[str, Liveness]:
        return self._liveness

    def init_states(self) -> list[State]:
        servers: list[Server] = []
        for k, sid in enumerate(self.sids):
            st = self.starts[k]
            alive = UP if st.running else (DOWN_STARTABLE if st.starts_later else DOWN)
            server = self._fresh_server(k, sid, alive, st.current_epoch, st.accepted_epoch, st.zxid)
            if alive == UP and st.round != 1:
                server = (*server[:RND], st.round, *server[RND + 1 :])
            servers.append(server)
        up = [s[ALIVE] == UP for s in servers]
        channels = [(None, (), None, up[c // self.n] and up[c % self.n]) for c in range(self.n * self.n)]
        w = _World(servers, channels, (0, 0, 0))
        for k in range(self.n):
            if servers[k][ALIVE] == UP:
                self._send_notifications(w, k, servers[k])
        return [w.freeze()]

    def successors(self, state: State) -> Iterator[tuple[Action, State]]:
        return self._transitions(state, None)

    def bound_hit(self, state: State) -> bool:
        """Was a step enabled here cut by ``max_in_flight``, ``epochs`` or ``max_round``? (the edge of the
        explored space)"""
        cut: list[Action] = []
        for _ in self._transitions(state, cut):
            pass
        return bool(cut)

    def _transitions(self, state: State, cut: list[Action] | None) -> Iterator[tuple[Action, State]]:
        """Every enabled step, run: the guards (``_enabled``) then each effect (``_emit``)."""
        emit = self._emit
        for action, effect, args in self._enabled(state, cut):
            found = emit(cut, state, action, effect, *args)
            if found is not None:
                yield found

    # ------------------------------------------------------------------ guards
    def _enabled(self, state: State, cut: list[Action] | None) -> list[Step]:
        """The steps whose guards hold, in the order ``successors`` yields them: (action, effect, args).

        Guards read the counters, of each server only ``_server_guard`` and of each channel only
        ``_channel_guard`` (whether something is in flight and, under ``zk``, whether the send slot is
        taken and the wire has room). ``steps.py`` relies on that: it remembers this list per distinct
        combination of those, so a guard that reads more must widen the projection.
        """
        servers, channels, counters = state
        n = self.n
        sids = self.sids
        inbound = self.inbound
        outbound = self.outbound if self.zk else None
        bounds = self.bounds
        max_in_flight = bounds.max_in_flight
        quiet = self._quiet(state)
        steps: list[Step] = []
        add = steps.append
        for j in range(n):
            sj = servers[j]
            if sj[ALIVE] != UP:
                if sj[ALIVE] == DOWN_STARTABLE and self._may_start(state, j, quiet):
                    add((("Restart", sids[j]), self._restart, (j,)))
                continue
            if sj[PEND] is not None:
                add((("ProcessRequeued", sids[j]), self._process_requeued, (j,)))
            else:
                for i, c, action in inbound[j]:
                    if channels[c][INFL]:
                        add((action, self._deliver, (i, j)))
            if sj[FW] and sj[PEND] is None:
                add((("FinalizeExpire", sids[j]), self._finalize_expire, (j,)))
            if outbound is not None:
                for i, c, transmit in outbound[j]:
                    ch = channels[c]
                    if ch[SLOT] is not None and servers[i][ALIVE] == UP and len(ch[INFL]) < max_in_flight:
                        add((transmit, self._transmit, (j, i)))
            st = sj[ST]
            if sj[OLDCV] is not None:
                # lookForLeader has returned; QuorumPeer.run sets currentVote before it leads or follows
                add((("SetCurrentVote", sids[j]), self._set_current_vote, (j,)))
            elif st == LOOKING:
                if quiet and self._timeout_allowed(counters) and self._have_delivered(state, j):
                    add((("Timeout", sids[j]), self._timeout, (j,)))
            elif st == LEADING:
                if sj[ZAB] == 0:
                    epoch = self._establish_epoch(state, j)
                    if epoch is not None and epoch <= bounds.epochs:
                        add((("Establish", sids[j]), self._establish, (j,)))
                    elif epoch is not None and cut is not None:
                        cut.append(("Establish", sids[j]))  # the epoch bound, not the protocol, stops it
                if sj[ZAB] > 0 and counters[TXNS] < bounds.txns:
                    for qmask in self._commit_quorums(state, j):
                        add((("Commit", sids[j], qmask), self._commit, (j, qmask)))
                if quiet and not self._leader_has_quorum(state, j):
                    self._quit_unless_capped(add, cut, ("LeaderQuit", sids[j]), sj, j)
            else:
                if self._may_join(state, j):
                    add((("Join", sids[j]), self._join, (j,)))
                if quiet and self._leader_lost(state, j):
                    self._quit_unless_capped(add, cut, ("FollowerQuit", sids[j]), sj, j)
            if counters[CRASHES] < bounds.crashes and (quiet or not bounds.faults_when_quiet):
                add((("Crash", sids[j]), self._crash, (j,)))
        return steps

    def _quit_unless_capped(
        self, add: Callable[[Step], None], cut: list[Action] | None, action: Action, sj: Server, j: int
    ) -> None:
        """A leader or follower gives up (round + 1), unless its round is at ``max_round``: then the round
        bound, not the protocol, stops it, and the state is at the edge of the explored space (``cut``)."""
        if sj[RND] < self.bounds.max_round:
            add((action, self._quit, (j,)))
        elif cut is not None:
            cut.append(action)

    @staticmethod
    def _emit(
        cut: list[Action] | None, state: State, action: Action, step: Callable[..., None], *args: int
    ) -> tuple[Action, State] | None:
        """Run one step on a scratch copy; None when it would overflow a channel (recorded in ``cut``)."""
        servers, channels, counters = state
        w = _World(list(servers), list(channels), counters)
        try:
            step(w, *args)
        except _Overflow:
            if cut is not None:
                cut.append(action)
            return None
        return action, (_same_or_new(servers, w.srv), tuple(w.ch), w.ctr)

    # ------------------------------------------------------------------ helpers
    def _fresh_server(self, k: int, sid: int, alive: int, cep: int, aep: int, zx: int) -> Server:
        """A server right after (re)start: FLE object new, logicalclock 0 (+1 if running), initial vote."""
        il, iz, ie = self._init_vote(k, zx, cep)
        rnd = 1 if alive == UP else 0
        vote = (sid, zx, -1, cep)  # QuorumPeer's currentVote before any election (electionEpoch -1)
        return (alive, LOOKING, rnd, il, iz, ie, vote, (), (), False, None, cep, aep, zx, 0, (), None, None)

    def _init_vote(self, k: int, zx: int, cep: int) -> tuple[int, int, int]:
        """getInitId / getInitLastLoggedZxid / getPeerEpoch."""
        if self.is_voter[k]:
            return self.sids[k], zx, cep
        return MIN_VALUE, MIN_VALUE, MIN_VALUE

    def _quiet(self, state: State) -> bool:
        """No notification in flight or queued to a live server, and nobody in the finalize wait."""
        servers, channels, _ = state
        n = self.n
        for s in servers:
            if s[FW] or s[PEND] is not None:
                return False
        for c, ch in enumerate(channels):
            if ch[INFL]:
                return False
            if ch[SLOT] is not None and servers[c % n][ALIVE] == UP and servers[c // n][ALIVE] == UP:
                return False
        return True

    def _have_delivered(self, state: State, k: int) -> bool:
        """QuorumCnxManager.haveDelivered: some peer's send queue is empty (else connectAll: a no-op)."""
        if not self.zk:
            return True
        channels = state[1]
        return any(channels[k * self.n + j][SLOT] is None for j in self.voter_idx if j != k)

    def _timeout_allowed(self, counters: tuple[int, ...]) -> bool:
        limit = self.bounds.timeouts
        return limit is None or counters[TIMEOUTS] < limit

    def _may_start(self, state: State, k: int, quiet: bool) -> bool:
        if self.sids[k] not in self.start_when_decided:
            return quiet or not self.bounds.faults_when_quiet
        servers = state[0]
        return quiet and all(
            servers[i][ST] != LOOKING for i in self.voter_idx if i != k and servers[i][ALIVE] == UP
        )

    def _msg(
        self, s: Server | list[Any], st: int, leader: int, zxid: int, rnd: int, pe: int
    ) -> tuple[int, ...]:
        if self.track:
            return (st, leader, zxid, rnd, pe, s[CEP], s[ZX])
        return (st, leader, zxid, rnd, pe, 0, 0)

    def _send(self, w: _World, i: int, j: int, msg: tuple[int, ...]) -> None:
        """QuorumCnxManager.toSend: the loop-back queue, a fifo channel, or the capacity-1 send slot."""
        c = i * self.n + j
        slot, infl, last, conn = w.ch[c]
        if self.zk and i != j:
            if slot is None and len(infl) < self.bounds.max_in_flight and (conn or not self.reconnects):
                # The SendWorker takes it at once: on the wire, and remembered as lastMessageSent.
                w.ch[c] = (None, (*infl, msg), msg if self.reconnects else None, conn)
            else:
                w.ch[c] = (msg, infl, last, conn)  # CircularBlockingQueue(1): a newer message overwrites
            return
        if w.srv[j][ALIVE] != UP:
            return  # nobody listening: the message is lost
        if len(infl) >= self.bounds.max_in_flight:
            raise _Overflow
        w.ch[c] = (slot, (*infl, msg), last, conn)

    def _send_notifications(self, w: _World, k: int, s: Server | list[Any]) -> None:
        """FastLeaderElection.sendNotifications: the proposal, as LOOKING, to every voter (self included)."""
        for j, msg in self._notifications(s):
            self._send(w, k, j, msg)

    def _notifications(self, s: Server | list[Any]) -> list[tuple[int, tuple[int, ...]]]:
        """What sendNotifications sends: (receiver index, notification) for every voter."""
        msg = self._msg(s, LOOKING, s[PL], s[PZ], s[RND], s[PE])
        return [(j, msg) for j in self.voter_idx]

    def _set_proposal(self, s: list[Any], leader: int, zxid: int, pe: int) -> None:
        """FastLeaderElection.updateProposal (recording the abandoned vote for NoVoteCircle)."""
        old = (s[PL], s[PZ], s[PE])
        new = (leader, zxid, pe)
        if self.track and old != new and old not in s[HIST]:
            s[HIST] = tuple(sorted((*s[HIST], old)))
        s[PL], s[PZ], s[PE] = new

    def _decide(self, s: list[Any], k: int, leader: int, zxid: int, rnd: int, pe: int, acks: int) -> None:
        """FastLeaderElection.setPeerState + leaveInstance + QuorumPeer.setCurrentVote (the last one later,
        in its own ``SetCurrentVote`` step, unless the variant keeps the decision atomic)."""
        if not self.variant.atomic_decision:
            s[OLDCV] = s[CV]  # QuorumPeer.currentVote until setCurrentVote(endVote) runs
        if leader == self.sids[k]:
            s[ST] = LEADING
        else:
            s[ST] = FOLLOWING if self.is_voter[k] else OBSERVING
        s[CV] = (leader, zxid, rnd, pe)
        s[PL], s[PZ], s[PE] = leader, zxid, pe  # the proposal is not read again until the next lookForLeader
        s[RS] = ()
        s[OOE] = ()
        s[FW] = False
        s[PEND] = None
        s[ZAB] = 0
        s[HIST] = ()
        s[VS] = acks if (self.track and s[ST] == LEADING) else None

    # ------------------------------------------------------------------ vote tracking (getVoteTracker)
    def _acks_looking(self, s: list[Any]) -> tuple[int, tuple[int, int] | None]:
        """Voters whose recvset entry equals the LOOKING candidate (full Vote.equals); their max ghost."""
        pl, pz, rnd, pe = s[PL], s[PZ], s[RND], s[PE]
        bit = self.bit
        mask = 0
        ghost: tuple[int, int] | None = None
        for e in s[RS]:  # an inlined _acks: this runs on nearly every delivery
            if e[1] == pl and e[2] == pz and e[3] == rnd and e[4] == pe:
                mask |= bit[e[0]]
                g = (e[6], e[7])
                if ghost is None or g > ghost:
                    ghost = g
        return mask, ghost

    def _acks(self, entries: tuple[Any, ...], match: Callable[[tuple[Any, ...]], bool]) -> tuple[int, Any]:
        mask = 0
        ghost: tuple[int, int] | None = None
        for e in entries:
            if match(e):
                mask |= self.bit[e[0]]
                g = (e[6], e[7])
                if ghost is None or g > ghost:
                    ghost = g
        return mask, ghost

    @staticmethod
    def _put(entries: tuple[Any, ...], entry: tuple[Any, ...]) -> tuple[Any, ...]:
        """recvset.put / outofelection.put: one entry per sender sid, kept sorted."""
        if not entries:
            return (entry,)
        sid = entry[0]
        kept = [e for e in entries if e[0] != sid]
        kept.append(entry)
        kept.sort()
        return tuple(kept)

    def _check_leader(self, s: list[Any], k: int, votes: tuple[Any, ...], leader: int, rnd: int) -> bool:
        """FastLeaderElection.checkLeader."""
        v = self.variant
        if not v.check_leader:
            return True
        if leader != self.sids[k]:
            return any(e[0] == leader and e[5] == LEADING for e in votes)
        if v.check_leader_self_needs_leading and not any(e[0] == leader and e[5] == LEADING for e in votes):
            return False
        return (not v.check_leader_round_for_self) or s[RND] == rnd

    # ------------------------------------------------------------------ actions: the election
    def _deliver(self, w: _World, i: int, j: int) -> None:
        """WorkerReceiver.run receives one notification from i at j, then lookForLeader handles it."""
        c = i * self.n + j
        slot, infl, last, conn = w.ch[c]
        msg = infl[0]
        if slot is None:  # always under fifo: just the head leaves the channel
            w.ch[c] = (None, infl[1:], last, conn)
        elif conn or not self.reconnects:
            # The blocked SendWorker moves on: the queued message goes on the wire behind the others.
            w.ch[c] = (None, (*infl[1:], slot), slot if self.reconnects else None, conn)
        else:
            w.ch[c] = (slot, infl[1:], last, conn)
        sj = w.srv[j]
        memo = self._receipts
        key = (id(sj), i, j, msg)
        known = memo.get(key)
        if known is not None and known[0] is sj:  # the same receiver tuple, not one at a recycled address
            _, receiver, sent = known
        else:
            receiver, sent = self._receive(sj, i, j, msg)
            if len(memo) >= RECEIPTS_KEPT:
                memo.clear()
            memo[key] = (sj, receiver, sent)  # keeps sj alive, so its id is not reused while cached
        w.srv[j] = receiver
        for target, reply in sent:
            self._send(w, j, target, reply)

    def _receive(self, sj: Server, i: int, j: int, msg: tuple[int, ...]) -> tuple[Server, Outgoing]:
        """What a notification from i does at j: j's new fields and what j sends, in order (a pure function,
        cached by ``_deliver``)."""
        out: list[tuple[int, tuple[int, ...]]] = []
        mst = msg[0]
        if not self.is_voter[i]:
            # WorkerReceiver: a non-voter gets currentVote and logicalclock, and is never counted.
            cl, cz, _, cpe = _current_vote(sj)
            out.append((i, self._msg(sj, sj[ST], cl, cz, sj[RND], cpe)))
            return sj, tuple(out)
        if sj[ST] == LOOKING:
            if mst == LOOKING and msg[3] < sj[RND]:
                # WorkerReceiver: a LOOKING sender from an older round gets the live proposal and round.
                out.append((i, self._msg(sj, LOOKING, sj[PL], sj[PZ], sj[RND], sj[PE])))
            s = list(sj)
            if s[FW]:
                self._drain(s, self.sids[i], msg)
            else:
                self._look_for_leader(out, j, s, self.sids[i], msg)
            return _same_or_new(sj, s), tuple(out)
        if mst == LOOKING:
            # WorkerReceiver: a decided server answers a LOOKING sender with its currentVote.
            cl, cz, crnd, cpe = _current_vote(sj)
            rnd = crnd if self.variant.update_election_vote else sj[RND]
            out.append((i, self._msg(sj, sj[ST], cl, cz, rnd, cpe)))
        # FOLLOWING/LEADING/OBSERVING notifications to a decided server are dropped.
        return sj, tuple(out)

    def _drain(self, s: list[Any], sender: int, msg: tuple[int, ...]) -> None:
        """lookForLeader's finalizeWait loop: a better vote is re-queued (ending the wait), others dropped."""
        _, ml, mz, _, mpe, _, _ = msg
        if self.top(ml, mz, mpe, s[PL], s[PZ], s[PE]):
            s[PEND] = (sender, *msg)
            s[FW] = False

    def _process_requeued(self, w: _World, j: int) -> None:
        """lookForLeader polls the notification it re-queued during the finalize wait."""
        s = list(w.srv[j])
        sender, *msg = s[PEND]
        s[PEND] = None
        out: list[tuple[int, tuple[int, ...]]] = []
        self._look_for_leader(out, j, s, sender, tuple(msg))
        w.srv[j] = tuple(s)
        for target, notification in out:
            self._send(w, j, target, notification)

    def _set_current_vote(self, w: _World, j: int) -> None:
        """QuorumPeer.run: setCurrentVote(endVote), right after lookForLeader returned it."""
        s = list(w.srv[j])
        s[OLDCV] = None
        w.srv[j] = tuple(s)

    def _finalize_expire(self, w: _World, j: int) -> None:
        """finalizeWait passed with nothing better: setPeerState(proposedLeader) and return the end vote."""
        s = list(w.srv[j])
        acks, ghost = self._acks_looking(s)
        self._decide(s, j, s[PL], s[PZ], s[RND], s[PE], self._ack_record(acks, ghost))
        w.srv[j] = tuple(s)

    def _ack_record(self, acks: int, ghost: tuple[int, int] | None) -> Any:
        return (acks, ghost) if self.track else None

    def _look_for_leader(
        self, out: list[tuple[int, tuple[int, ...]]], j: int, s: list[Any], sender: int, msg: tuple[int, ...]
    ) -> None:
        """One iteration of FastLeaderElection.lookForLeader's loop for a received notification (what j sends
        is appended to ``out``)."""
        mst, ml, mz, mrnd, mpe, _, _ = msg
        if ml not in self.voter_sids:
            return  # validVoter(n.leader): "Ignoring notification for non-cluster member sid"
        if mst == OBSERVING:
            return  # "Notification from observer"
        if mst != LOOKING:
            self._received_following(j, s, sender, msg)
            return
        if mz == -1:
            return  # "Ignoring notification from member with -1 zxid"
        top = self.top
        if mrnd > s[RND]:
            # (a) newer round: adopt it, clear recvset, compare with the initial vote (round_jump knob)
            s[RND] = mrnd
            s[RS] = ()
            s[HIST] = ()
            il, iz, ie = self._init_vote(j, s[ZX], s[CEP])
            mode = self.variant.round_jump
            if mode == "initial":
                if top(ml, mz, mpe, il, iz, ie):
                    self._set_proposal(s, ml, mz, mpe)
                else:
                    self._set_proposal(s, il, iz, ie)
            elif mode == "keep":
                if top(ml, mz, mpe, s[PL], s[PZ], s[PE]):
                    self._set_proposal(s, ml, mz, mpe)
            else:  # "self": ZK-275
                self._set_proposal(s, il, iz, ie)
            s[HIST] = ()  # NoVoteCircle looks within one round: the previous round's votes are forgotten
            out += self._notifications(s)
        elif mrnd < s[RND]:
            return  # (b) older round: dropped (WorkerReceiver already replied)
        elif top(ml, mz, mpe, s[PL], s[PZ], s[PE]):
            # (c) same round, better vote: adopt and re-broadcast
            self._set_proposal(s, ml, mz, mpe)
            out += self._notifications(s)
        s[RS] = self._put(s[RS], (sender, ml, mz, mrnd, mpe, LOOKING, msg[5], msg[6]))
        acks, ghost = self._acks_looking(s)
        if self.variant.all_votes_shortcut and self._heard_from_all(s):
            # ZK-975 (3.3.x lookForLeader): recvset.size() == votingView.size() -> decide the own proposal
            self._decide(s, j, s[PL], s[PZ], s[RND], s[PE], self._ack_record(acks, ghost))
            return
        if self.qtable[acks]:
            if self.variant.finalize_wait:
                s[FW] = True
            else:
                self._decide(s, j, s[PL], s[PZ], s[RND], s[PE], self._ack_record(acks, ghost))

    def _heard_from_all(self, s: list[Any]) -> bool:
        """ZK-975's test: recvset has an entry from every voter and the proposed leader has weight."""
        heard = {e[0] for e in s[RS]}
        return self.voter_sids <= heard and self.weights.get(s[PL], 0) != 0

    def _received_following(self, j: int, s: list[Any], sender: int, msg: tuple[int, ...]) -> None:
        """FastLeaderElection.receivedFollowingNotification (receivedLeadingNotification is the same here)."""
        mst, ml, mz, mrnd, mpe, g1, g2 = msg
        entry = (sender, ml, mz, mrnd, mpe, mst, g1, g2)
        if mrnd == s[RND]:
            fixed_3537 = self.variant.same_round_check_recvset
            # before 3.6.0 (ZK-3537): recvset.put(sid, new Vote(leader, zxid, round, peerEpoch)): LOOKING
            s[RS] = self._put(s[RS], entry if fixed_3537 else (*entry[:5], LOOKING, *entry[6:]))
            full = (ml, mz, mrnd, mpe)
            acks, ghost = self._acks(
                s[RS], lambda e: e[1] == ml if e[5] != LOOKING else (e[1], e[2], e[3], e[4]) == full
            )
            # checkLeader(recvset, ...) from 3.6.0; checkLeader(outofelection, ...) before (ZK-3537)
            if self.qtable[acks] and self._check_leader(s, j, s[RS] if fixed_3537 else s[OOE], ml, mrnd):
                self._decide(s, j, ml, mz, mrnd, mpe, self._ack_record(acks, ghost))
                return
        s[OOE] = self._put(s[OOE], entry)
        if self.variant.update_election_vote:
            acks, ghost = self._acks(s[OOE], lambda e: e[1] == ml and e[4] == mpe)
        else:  # ZK-1732: every field must match
            acks, ghost = self._acks(s[OOE], lambda e: (e[1], e[2], e[3], e[4]) == (ml, mz, mrnd, mpe))
        if self.qtable[acks] and self._check_leader(s, j, s[OOE], ml, mrnd):
            s[RND] = mrnd  # logicalclock := n.electionEpoch (it may go down)
            self._decide(s, j, ml, mz, mrnd, mpe, self._ack_record(acks, ghost))

    def _timeout(self, w: _World, j: int) -> None:
        """lookForLeader's poll timed out: haveDelivered() ? sendNotifications() : connectAll()."""
        if self.bounds.timeouts is not None:
            w.bump(TIMEOUTS)
        s = w.srv[j]
        self._send_notifications(w, j, s)

    def _transmit(self, w: _World, i: int, j: int) -> None:
        """QuorumCnxManager.SendWorker: the slot's message goes on the wire (connecting first if needed)."""
        n = self.n
        c, back = i * n + j, j * n + i
        slot, infl, _, conn = w.ch[c]
        if not self.reconnects:
            # Without crashes a connection, once up, stays up: no re-send, and lastMessageSent is never read.
            w.ch[c] = (None, (*infl, slot), None, True)
            return
        if not conn:
            # A new connection (one per pair): the other side's SendWorker re-sends its last message
            # when its queue is empty (SendWorker.run, lastMessageSent).
            bslot, binfl, blast, _ = w.ch[back]
            if bslot is None and blast is not None:
                if len(binfl) >= self.bounds.max_in_flight:
                    raise _Overflow
                binfl = (*binfl, blast)
            w.ch[back] = (bslot, binfl, blast, True)
        w.ch[c] = (None, (*infl, slot), slot, True)

    # ------------------------------------------------------------------ actions: Zab, abstracted
    def _followers(self, state: State, k: int, epoch: int | None) -> int:
        """Live voters FOLLOWING server k (joined in ``epoch``, or not yet joined when epoch is 0)."""
        servers = state[0]
        sid = self.sids[k]
        mask = 0
        for i in self.voter_idx:
            s = servers[i]
            following = s[ST] == FOLLOWING and s[CV][0] == sid and s[OLDCV] is None  # in followLeader
            if i != k and s[ALIVE] == UP and following and (epoch is None or s[ZAB] == epoch):
                mask |= 1 << i
        return mask

    def _establish_epoch(self, state: State, k: int) -> int | None:
        """Leader.getEpochToPropose once a quorum has joined: max acceptedEpoch + 1 (None: no quorum yet)."""
        servers = state[0]
        if servers[k][CV][0] != self.sids[k]:
            return None
        mask = self._followers(state, k, 0) | (1 << k)
        if not self.qtable[mask]:
            return None
        return 1 + max(servers[i][AEP] for i in range(self.n) if mask >> i & 1)

    def _establish(self, w: _World, k: int) -> None:
        """Leader.lead through discovery and sync: the leader and its quorum take the new epoch."""
        state = w.freeze()
        epoch = self._establish_epoch(state, k)
        if epoch is None or epoch > self.bounds.epochs:  # pragma: no cover - guarded by successors
            raise InternalError("Establish fired without a quorum")
        mask = self._followers(state, k, 0) | (1 << k)
        lzx = w.srv[k][ZX]
        for i in range(self.n):
            if mask >> i & 1:
                self._take_epoch(w, i, epoch, lzx)

    def _take_epoch(self, w: _World, i: int, epoch: int, zxid: int) -> None:
        """Discovery + sync of one member: both epochs, the leader's history, its vote's peerEpoch."""
        s = list(w.srv[i])
        s[AEP] = s[CEP] = s[ZAB] = epoch
        s[ZX] = zxid
        if self.variant.update_election_vote:
            cl, cz, crnd, _ = s[CV]
            s[CV] = (cl, cz, crnd, epoch)  # QuorumPeer.updateElectionVote
        w.srv[i] = tuple(s)

    def _may_join(self, state: State, j: int) -> bool:
        servers = state[0]
        s = servers[j]
        if s[ZAB] != 0:
            return False
        leader = self.idx.get(s[CV][0])
        if leader is None:
            return False
        ls = servers[leader]
        if not (ls[ALIVE] == UP and ls[ST] == LEADING and ls[ZAB] > 0 and ls[CV][0] == self.sids[leader]):
            return False
        return not self._epoch_refused(s, ls)

    @staticmethod
    def _epoch_refused(s: Server, ls: Server) -> bool:
        """Learner.registerWithLeader: "Leaders epoch, X is less than accepted epoch, Y" (an IOException)."""
        return ls[ZAB] < s[AEP]

    def _join(self, w: _World, j: int) -> None:
        """Learner.registerWithLeader + syncWithLeader against an established leader."""
        ls = w.srv[self.idx[w.srv[j][CV][0]]]
        self._take_epoch(w, j, ls[ZAB], ls[ZX])

    def _commit_quorums(self, state: State, k: int) -> list[int]:
        servers = state[0]
        joined = self._followers(state, k, servers[k][ZAB]) | (1 << k)
        return [q for q in self.minimal_quorums if q >> k & 1 and q & joined == q]

    def _commit(self, w: _World, k: int, qmask: int) -> None:
        """A transaction proposed by the leader and acked by quorum ``qmask``: their zxid advances."""
        epoch = w.srv[k][ZAB]
        lzx = w.srv[k][ZX]
        counter = (lzx & 0xFFFFFFFF) + 1 if lzx >> 32 == epoch else 1
        zxid = zxid_of(epoch, counter)
        for i in range(self.n):
            if qmask >> i & 1:
                s = list(w.srv[i])
                s[ZX] = zxid
                w.srv[i] = tuple(s)
        w.bump(TXNS)

    def _leader_has_quorum(self, state: State, k: int) -> bool:
        s = state[0][k]
        epoch = s[ZAB] if s[ZAB] > 0 else None
        return self.qtable[self._followers(state, k, epoch) | (1 << k)]

    def _leader_lost(self, state: State, j: int) -> bool:
        """A follower (or observer) whose leader is gone, not leading, or leading another epoch."""
        servers = state[0]
        s = servers[j]
        leader = self.idx.get(s[CV][0])
        if leader is None:
            return True
        ls = servers[leader]
        if ls[ALIVE] != UP or ls[ST] != LEADING or ls[CV][0] != self.sids[leader]:
            return True
        if s[ZAB] == 0:  # not joined yet: lost only when the leader's epoch is one it refuses
            return ls[ZAB] > 0 and self._epoch_refused(s, ls)
        return ls[ZAB] != s[ZAB]

    def _quit(self, w: _World, k: int) -> None:
        """QuorumPeer.run: lead()/followLeader() returned; back to LOOKING, lookForLeader with round + 1."""
        s = list(w.srv[k])
        s[ST] = LOOKING
        s[RND] += 1
        il, iz, ie = self._init_vote(k, s[ZX], s[CEP])
        s[PL], s[PZ], s[PE] = il, iz, ie
        s[RS] = ()
        s[OOE] = ()
        s[ZAB] = 0
        s[HIST] = ()
        s[VS] = None
        self._send_notifications(w, k, s)
        w.srv[k] = tuple(s)

    # ------------------------------------------------------------------ actions: the environment
    def _crash(self, w: _World, k: int) -> None:
        """The process dies: volatile state and every connection of k are lost; disk state survives."""
        s = w.srv[k]
        w.srv[k] = self._fresh_server(k, self.sids[k], DOWN_STARTABLE, s[CEP], s[AEP], s[ZX])
        n = self.n
        for i in range(n):
            w.ch[k * n + i] = EMPTY_CHANNEL
            slot, _, last, _ = w.ch[i * n + k]
            w.ch[i * n + k] = (slot, (), last, False)
        w.bump(CRASHES)

    def _restart(self, w: _World, k: int) -> None:
        """The process (re)starts: a new FLE object (logicalclock 0), lookForLeader (round 1), broadcast."""
        s = w.srv[k]
        fresh = self._fresh_server(k, self.sids[k], UP, s[CEP], s[AEP], s[ZX])
        w.srv[k] = fresh
        self._send_notifications(w, k, fresh)

    # ------------------------------------------------------------------ spec.Model extras
    def is_terminal(self, state: State) -> bool:
        """Accepted final states: everyone decided on one live leader, no quorum up, or a bound hit."""
        from zkfle.model.properties import settled

        return settled(self, state) or self.bound_hit(state)

    def components(self, state: State) -> tuple[Any, ...]:
        """The parts the explorer stores once each (collapse.py): each server, each channel, the counters."""
        servers, channels, counters = state
        return (*servers, *channels, counters)

    def assemble(self, parts: list[Any]) -> State:
        """The state made of ``parts`` (the inverse of ``components``)."""
        n = self.n
        return (tuple(parts[:n]), tuple(parts[n:-1]), parts[-1])

    # ------------------------------------------------------------------ for the step memo (steps.py)
    def enabled(self, state: State) -> list[Step]:
        """The enabled steps (guards only), in ``successors`` order; ``fire`` runs one."""
        return self._enabled(state, None)

    def fire(self, state: State, step: Step) -> State | None:
        """The state one enabled step leads to, or None where ``max_in_flight`` cuts it."""
        action, effect, args = step
        found = self._emit(None, state, action, effect, *args)
        return None if found is None else found[1]

    def guard_reads(self) -> tuple[Callable[[Any], Any] | None, ...]:
        """Per component, what ``_enabled`` reads of it: a projection (servers: ``_server_guard``, channels:
        ``_channel_guard``), or None for all of it (the counters)."""
        n = self.n
        return (*([_server_guard] * n), *([self._channel_guard] * (n * n)), None)

    def _channel_guard(self, ch: tuple[Any, ...]) -> Any:
        """All the guards read of a channel: something in flight; under zk also whether the slot is taken
        and, if so, whether the wire has room for it (``Transmit``)."""
        if not self.zk:
            return bool(ch[INFL])
        taken = ch[SLOT] is not None
        return (bool(ch[INFL]), taken, taken and len(ch[INFL]) < self.bounds.max_in_flight)

    def footprint(self, action: Action) -> tuple[tuple[int, Callable[[Any], Any] | None], ...]:
        """The components the step ``action`` reads, as (position in ``components``, projection or None for
        all of it). Every component it may change is read whole. ``steps.py`` remembers a step's effect
        per distinct footprint, so this must cover every read of the step's effect function."""
        n = self.n
        name = action[0]
        everything = tuple(range(n + n * n + 1))
        counters = n + n * n
        if name in ("Deliver", "ProcessRequeued", "Timeout", "LeaderQuit", "FollowerQuit", "Restart"):
            k = self.idx[action[2] if name == "Deliver" else action[1]]
            whole = [k, *(n + k * n + t for t in range(n))]  # the receiver or actor, and what it sends on
            if name == "Deliver":
                whole.append(n + self.idx[action[1]] * n + k)  # the channel delivered from
            if name == "Timeout":
                whole.append(counters)
            # _send drops a message to a dead server (nobody can be down without crashes or late starts)
            alive = [] if self.always_up else [(i, _alive) for i in range(n) if i != k]
            return (*((p, None) for p in sorted(whole)), *alive)
        if name in ("FinalizeExpire", "SetCurrentVote"):
            return ((self.idx[action[1]], None),)
        if name == "Transmit":
            j, i = self.idx[action[1]], self.idx[action[2]]
            return ((n + j * n + i, None), (n + i * n + j, None))
        if name in ("Establish", "Join"):
            return tuple((i, None) for i in range(n))
        if name == "Commit":
            return (*((i, None) for i in range(n)), (counters, None))
        if name == "Crash":
            k = self.idx[action[1]]
            links = {n + k * n + t for t in range(n)} | {n + t * n + k for t in range(n)}
            return ((k, None), *((p, None) for p in sorted(links)), (counters, None))
        return tuple((p, None) for p in everything)

    def action_reads_changed_only(self, name: str) -> bool:
        """Does action property ``name`` read only the components a step changes? (then ``steps.py`` may
        remember its verdict with the step's effect). FLE's two compare each changed server's before
        and after, skipping the servers a step keeps by identity."""
        from zkfle.model.properties import CHANGED_ONLY

        return bool(getattr(self._action_properties.get(name), CHANGED_ONLY, False))

    def invariant_reads(self, name: str) -> tuple[int, ...] | None:
        """The positions in ``components`` invariant ``name`` reads (the servers), or None (all of it)."""
        from zkfle.model.properties import SERVERS_ONLY

        if getattr(self._invariants.get(name), SERVERS_ONLY, False):
            return tuple(range(self.n))
        return None

    def flagged_by(self, name: str) -> frozenset[str] | None:
        """The names of the actions whose steps can violate action property ``name`` (None: any step)."""
        from zkfle.model.properties import FLAGGED_BY

        flagged: frozenset[str] | None = getattr(self._action_properties.get(name), FLAGGED_BY, None)
        return flagged

    def is_fault(self, action: Action) -> bool:
        return action[0] in ("Crash", "Restart")

    def actor(self, action: Action) -> int | None:
        name = action[0]
        if name == "Deliver":
            return int(action[2])
        if name in ("Establish", "Commit"):
            return None  # touches a quorum
        return int(action[1])

    def canonical(self, state: State) -> State:
        """The representative of ``state`` under the symmetries the model has (model/reduction.py)."""
        from zkfle.model import reduction

        return reduction.canonical(self, state)

    def ample(self, state: State, succ: list[tuple[Action, State]]) -> list[int] | None:
        """A persistent, invisible subset of ``succ`` (positions), or None (model/reduction.py)."""
        from zkfle.model import reduction

        return reduction.ample(self, state, succ)

    def state_to_itf(self, state: State) -> dict[str, Any]:
        from zkfle.model import itf_view

        return itf_view.state_to_itf(self, state)

    def action_to_itf(self, action: Action) -> dict[str, Any]:
        from zkfle.model import itf_view

        return itf_view.action_to_itf(action)

    def describe(self, action: Action, before: State | None = None, after: State | None = None) -> str:
        from zkfle.model import itf_view

        return itf_view.describe(self, action, before, after)

    def server(self, state: State, sid: int) -> Server:
        """The fields of server ``sid`` (for tests and properties)."""
        return state[0][self.idx[sid]]

    def vote_text(self, leader: int, zxid: int, pe: int) -> str:
        if leader == MIN_VALUE:
            return "(none)"
        return f"(sid {leader}, zxid {zxid_text(zxid)}, peerEpoch {pe})"

    @staticmethod
    def state_name(st: int) -> str:
        return STATE_NAMES[st]


def _server_guard(s: Server) -> tuple[Any, ...]:
    """All ``_enabled`` and its helpers read of a server: liveness, state, round, the finalize wait, a
    re-queued notification, a pending ``setCurrentVote``, the Zab epoch, the voted leader, acceptedEpoch.
    (Not the proposal, recvset, outofelection, zxid or ghosts: only the effects read those.)"""
    pending, unset = s[PEND] is not None, s[OLDCV] is not None
    return (s[ALIVE], s[ST], s[RND], s[FW], pending, unset, s[ZAB], s[CV][0], s[AEP])


def _alive(s: Server) -> int:
    """What ``_send`` reads of a server it does not step: whether it is up."""
    alive: int = s[ALIVE]
    return alive


def _current_vote(s: Server) -> tuple[int, int, int, int]:
    """QuorumPeer.currentVote: the end vote of the last decision, or the previous vote while a decided
    server has not run setCurrentVote yet (only when the variant's decision is not atomic)."""
    vote: tuple[int, int, int, int] = s[CV] if s[OLDCV] is None else s[OLDCV]
    return vote


def _same_or_new(old: tuple[Any, ...], fields: list[Any]) -> tuple[Any, ...]:
    """``tuple(fields)``, or ``old`` itself if that is equal: a step that changes nothing keeps the very
    tuple, which the properties and the explorer's component table then recognise by identity."""
    new = tuple(fields)
    return old if new == old else new


class _World:
    """A step's scratch copy of a state (lists), frozen back into tuples when the step is done."""

    __slots__ = ("ch", "ctr", "srv")

    def __init__(self, srv: list[Server], ch: list[tuple[Any, ...]], ctr: tuple[int, ...]) -> None:
        self.srv = srv
        self.ch = ch
        self.ctr = ctr  # a tuple, shared with the old state until a step bumps a counter

    def bump(self, k: int) -> None:
        """counters[k] += 1 (copy on write: most steps touch no counter)."""
        ctr = list(self.ctr)
        ctr[k] += 1
        self.ctr = tuple(ctr)

    def freeze(self) -> State:
        return (tuple(self.srv), tuple(self.ch), self.ctr)
