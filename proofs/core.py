"""The FLE model's election core as a Z3 transition relation (what ``induction`` reasons about).

Rules: one function per step of ``zkfle.model.fle.FleModel``, written in the same order and with the
same ZooKeeper names, over Z3 terms instead of tuples. An ``Action`` has a pre-state of fresh variables,
a guard, the post-state as *terms* of the pre-state (no post variables), the notifications it sends
(each with the condition under which it is sent) and, for deliveries, the received notification (fresh
variables). Abstractions (see ``induction``'s docstring for why they are sound): no channels (the network is
a message invariant), no re-queued notification, no bounds, no quiet-network guards, Zab's leader and
follower "gave up" conditions replaced by "may give up at any time". ``abstract`` maps an explicit model
state onto concrete values of these fields, which is how the tests pin this module to ``zkfle.model.fle``.

Vocabulary: servers are indexed 0..n-1 and have sids 1..n (``default_config``); all are voters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeAlias

import z3

from zkfle.model import vote as mvote
from zkfle.proofs.quorum_system import SymbolicQuorum
from zkfle.quorum import QuorumVerifier, minimal_quorums

Bool: TypeAlias = z3.BoolRef
EPOCH_SHIFT = 1 << 32  # ZxidUtils.makeZxid: the epoch in the high 32 bits


def lex_lt(a: Sequence[Any], b: Sequence[Any]) -> Bool:
    """``a < b`` lexicographically (tuples of the same length)."""
    if not a:
        return z3.BoolVal(False)
    return z3.Or(a[0] < b[0], z3.And(a[0] == b[0], lex_lt(a[1:], b[1:])))


def lex_le(a: Sequence[Any], b: Sequence[Any]) -> Bool:
    return z3.Not(lex_lt(b, a))


@dataclass(frozen=True)
class Msg:
    """A notification: (state, leader, zxid, round, peerEpoch) and the sender's ghost (currentEpoch, zxid)."""

    st: Any
    l: Any  # noqa: E741 - the notification's leader field
    z: Any
    r: Any
    pe: Any
    g1: Any
    g2: Any

    @classmethod
    def fresh(cls, prefix: str) -> Msg:
        return cls(
            *(
                z3.Int(f"{prefix}.{f}")
                for f in ("state", "leader", "zxid", "round", "peerEpoch", "ghostEpoch", "ghostZxid")
            )
        )

    def fields(self) -> tuple[Any, ...]:
        return (self.st, self.l, self.z, self.r, self.pe, self.g1, self.g2)


@dataclass(frozen=True)
class Entry:
    """One ``recvset``/``outofelection`` slot: is there a vote from this sender, and which."""

    has: Any
    st: Any
    l: Any  # noqa: E741
    z: Any
    r: Any
    pe: Any
    g1: Any
    g2: Any

    @classmethod
    def fresh(cls, prefix: str) -> Entry:
        names = ("state", "leader", "zxid", "round", "peerEpoch", "ghostEpoch", "ghostZxid")
        return cls(z3.Bool(f"{prefix}.has"), *(z3.Int(f"{prefix}.{f}") for f in names))

    @classmethod
    def of(cls, m: Msg, st: Any | None = None) -> Entry:
        return cls(z3.BoolVal(True), m.st if st is None else st, m.l, m.z, m.r, m.pe, m.g1, m.g2)

    def msg(self) -> Msg:
        return Msg(self.st, self.l, self.z, self.r, self.pe, self.g1, self.g2)

    def cleared(self) -> Entry:
        return replace(self, has=z3.BoolVal(False))


@dataclass(frozen=True)
class Srv:
    """One server's fields (``zkfle.model.fle``'s server tuple, minus the re-queue slot and the history)."""

    k: int
    up: Any
    st: Any
    rnd: Any
    pl: Any
    pz: Any
    pe: Any
    cvl: Any
    cvz: Any
    cvr: Any
    cvpe: Any
    cep: Any
    aep: Any
    zx: Any
    zab: Any
    fw: Any
    vs: Any
    vg1: Any
    vg2: Any
    rs: tuple[Entry, ...] = field(default=())
    oo: tuple[Entry, ...] = field(default=())

    SCALARS = (
        "up",
        "st",
        "rnd",
        "pl",
        "pz",
        "pe",
        "cvl",
        "cvz",
        "cvr",
        "cvpe",
        "cep",
        "aep",
        "zx",
        "zab",
        "fw",
        "vs",
        "vg1",
        "vg2",
    )
    BOOLS = frozenset({"up", "fw", "vs"})

    @classmethod
    def fresh(cls, prefix: str, k: int, n: int) -> Srv:
        values = {f: (z3.Bool if f in cls.BOOLS else z3.Int)(f"{prefix}.s{k + 1}.{f}") for f in cls.SCALARS}
        rs = tuple(Entry.fresh(f"{prefix}.s{k + 1}.recvset[{i + 1}]") for i in range(n))
        oo = tuple(Entry.fresh(f"{prefix}.s{k + 1}.outofelection[{i + 1}]") for i in range(n))
        return cls(k, rs=rs, oo=oo, **values)

    def with_entry(self, which: str, i: int, entry: Entry) -> Srv:
        entries = list(getattr(self, which))
        entries[i] = entry
        if which == "rs":
            return replace(self, rs=tuple(entries))
        return replace(self, oo=tuple(entries))


def _ite(c: Any, x: Any, y: Any) -> Any:
    """``If(c, x, y)``, without the If when both sides are the same term (most fields of a step)."""
    return x if x is y or x.eq(y) else z3.If(c, x, y)


def ite_entry(c: Any, a: Entry, b: Entry) -> Entry:
    if a is b:
        return a
    return Entry(*(_ite(c, x, y) for x, y in zip(_entry_fields(a), _entry_fields(b), strict=True)))


def _entry_fields(e: Entry) -> tuple[Any, ...]:
    return (e.has, e.st, e.l, e.z, e.r, e.pe, e.g1, e.g2)


def ite_srv(c: Any, a: Srv, b: Srv) -> Srv:
    """Field-wise ``If(c, a, b)``."""
    if a is b:
        return a
    scalars = {f: _ite(c, getattr(a, f), getattr(b, f)) for f in Srv.SCALARS}
    rs = tuple(ite_entry(c, x, y) for x, y in zip(a.rs, b.rs, strict=True))
    oo = tuple(ite_entry(c, x, y) for x, y in zip(a.oo, b.oo, strict=True))
    return Srv(a.k, rs=rs, oo=oo, **scalars)


@dataclass
class Action:
    """One step of the abstract model: guard, post-state terms, sent notifications, received notification."""

    name: str
    kind: str
    args: tuple[int, ...]
    pre: list[Srv]
    guard: Any
    post: list[Srv]
    sends: list[tuple[Any, Msg]]
    received: Msg | None = None


class Core:
    """The election core of ``FleModel`` for one quorum verifier (all servers voters, sids 1..n)."""

    LOOKING, FOLLOWING, LEADING, OBSERVING = mvote.LOOKING, mvote.FOLLOWING, mvote.LEADING, mvote.OBSERVING

    def __init__(
        self, qv: QuorumVerifier, *, join_epoch_check: bool = True, predicate: str = "3.8.0"
    ) -> None:
        self.qv = qv
        # Learner.registerWithLeader refuses a leader whose epoch is below our acceptedEpoch, and so does the
        # model's Join (FleModel._epoch_refused): True mirrors the model; False is the negative twin.
        self.join_epoch_check = join_epoch_check
        self.predicate = predicate
        self.sids = tuple(sorted(qv.voting_members))
        self.n = len(self.sids)
        if self.sids != tuple(range(1, self.n + 1)) or qv.observing_members:
            raise ValueError("the election core expects voters 1..n and no observers")
        self.sq = SymbolicQuorum(qv)
        self.zero_weight = frozenset(s for s in self.sids if qv.weight(s) == 0)
        self.minimal = [sorted(s - 1 for s in q) for q in minimal_quorums(qv)]

    # ------------------------------------------------------------ helpers
    def sid(self, k: int) -> int:
        return self.sids[k]

    def is_sid(self, x: Any) -> Bool:
        return z3.Or([x == s for s in self.sids])

    def some_quorum(self, members: Sequence[Any]) -> Bool:
        """``containsQuorum`` of the servers whose flag is true (the shared symbolic verifier)."""
        return self.sq.contains_quorum({self.sid(k): members[k] for k in range(self.n)})

    def state_of(self, s: Sequence[Srv], sid: Any) -> tuple[Any, Any]:
        """(currentEpoch, zxid) of the server with this (symbolic) sid."""
        cep, zx = s[-1].cep, s[-1].zx
        for k in range(self.n - 2, -1, -1):
            cep = z3.If(sid == self.sid(k), s[k].cep, cep)
            zx = z3.If(sid == self.sid(k), s[k].zx, zx)
        return cep, zx

    def top(self, nl: Any, nz: Any, ne: Any, cl: Any, cz: Any, ce: Any) -> Bool:
        # FastLeaderElection.totalOrderPredicate (3.8.0; zkfle.model.vote.make_predicate)
        guard = z3.And([nl != z for z in self.zero_weight]) if self.zero_weight else z3.BoolVal(True)
        if self.predicate == "ZK-1419":  # 3.4.0-3.4.3: the third clause lacks newEpoch == curEpoch
            return z3.And(guard, z3.Or(ne > ce, z3.And(ne == ce, nz > cz), z3.And(nz == cz, nl > cl)))
        return z3.And(guard, lex_lt((ce, cz, cl), (ne, nz, nl)))

    def entries(self, s: Sequence[Srv]) -> list[Entry]:
        return [e for v in s for e in (*v.rs, *v.oo)]

    def notification(self, v: Srv) -> Msg:
        """FastLeaderElection.sendNotifications: the proposal as LOOKING, with the sender's ghost."""
        return Msg(z3.IntVal(self.LOOKING), v.pl, v.pz, v.rnd, v.pe, v.cep, v.zx)

    def fresh_server(self, k: int, up: Any, cep: Any, aep: Any, zx: Any) -> Srv:
        """FleModel._fresh_server: a new FLE object, logicalclock 0 (1 when up), the initial vote."""
        sid = z3.IntVal(self.sid(k))
        zero = z3.IntVal(0)
        empty = Entry(z3.BoolVal(False), zero, zero, zero, zero, zero, zero, zero)
        return Srv(
            k,
            up=up,
            st=z3.IntVal(self.LOOKING),
            rnd=z3.If(up, z3.IntVal(1), zero),
            pl=sid,
            pz=zx,
            pe=cep,
            cvl=sid,
            cvz=zx,
            cvr=z3.IntVal(-1),
            cvpe=cep,
            cep=cep,
            aep=aep,
            zx=zx,
            zab=zero,
            fw=z3.BoolVal(False),
            vs=z3.BoolVal(False),
            vg1=zero,
            vg2=zero,
            rs=(empty,) * self.n,
            oo=(empty,) * self.n,
        )

    # ------------------------------------------------------------ vote tracking
    def ghost(self, entries: Sequence[Entry], acks: Sequence[Any]) -> tuple[Any, Any, Any]:
        """The largest ghost (currentEpoch, zxid) among the acks, and whether there is one."""
        has: Any = z3.BoolVal(False)
        g1: Any = z3.IntVal(0)
        g2: Any = z3.IntVal(0)
        for e, ack in zip(entries, acks, strict=True):
            take = z3.And(ack, z3.Or(z3.Not(has), lex_lt((g1, g2), (e.g1, e.g2))))
            g1, g2, has = z3.If(take, e.g1, g1), z3.If(take, e.g2, g2), z3.Or(has, ack)
        return has, g1, g2

    def acks_looking(self, v: Srv) -> list[Any]:
        """recvset entries equal to the LOOKING candidate (full Vote.equals)."""
        return [z3.And(e.has, e.l == v.pl, e.z == v.pz, e.r == v.rnd, e.pe == v.pe) for e in v.rs]

    def check_leader(self, j: int, v: Srv, votes: Sequence[Entry], leader: Any, rnd: Any) -> Bool:
        # FastLeaderElection.checkLeader
        other = z3.Or(
            [z3.And(e.has, leader == self.sid(i), e.st == self.LEADING) for i, e in enumerate(votes)]
        )
        return z3.If(leader != self.sid(j), other, v.rnd == rnd)

    def decide(
        self, j: int, v: Srv, leader: Any, zxid: Any, rnd: Any, pe: Any, ghost: tuple[Any, Any, Any]
    ) -> Srv:
        # FastLeaderElection.setPeerState + leaveInstance + QuorumPeer.setCurrentVote
        leading = leader == self.sid(j)
        return replace(
            v,
            st=z3.If(leading, z3.IntVal(self.LEADING), z3.IntVal(self.FOLLOWING)),
            cvl=leader,
            cvz=zxid,
            cvr=rnd,
            cvpe=pe,
            pl=leader,
            pz=zxid,
            pe=pe,
            rs=tuple(e.cleared() for e in v.rs),
            oo=tuple(e.cleared() for e in v.oo),
            fw=z3.BoolVal(False),
            zab=z3.IntVal(0),
            vs=z3.And(leading, ghost[0]),
            vg1=ghost[1],
            vg2=ghost[2],
        )

    # ------------------------------------------------------------ the election
    def look_for_leader(self, j: int, v: Srv, i: int, m: Msg) -> tuple[Srv, list[tuple[Any, Msg]]]:
        """One iteration of FastLeaderElection.lookForLeader's loop (FleModel._look_for_leader)."""
        follow_post, follow_sends = self.received_following(j, v, i, m)
        # LOOKING notification
        newer, older = m.r > v.rnd, m.r < v.rnd
        init = (z3.IntVal(self.sid(j)), v.zx, v.cep)
        better_init = self.top(m.l, m.z, m.pe, *init)
        better_cur = self.top(m.l, m.z, m.pe, v.pl, v.pz, v.pe)
        adopt = z3.If(newer, better_init, better_cur)
        base = replace(
            v, rnd=z3.If(newer, m.r, v.rnd), rs=tuple(ite_entry(newer, e.cleared(), e) for e in v.rs)
        )
        fallback = (z3.If(newer, init[0], v.pl), z3.If(newer, init[1], v.pz), z3.If(newer, init[2], v.pe))
        prop = replace(
            base,
            pl=z3.If(adopt, m.l, fallback[0]),
            pz=z3.If(adopt, m.z, fallback[1]),
            pe=z3.If(adopt, m.pe, fallback[2]),
        )
        recorded = prop.with_entry("rs", i, Entry.of(m, z3.IntVal(self.LOOKING)))
        quorum = self.some_quorum(self.acks_looking(recorded))
        looking_post = replace(recorded, fw=z3.Or(recorded.fw, quorum))
        send_looking = z3.Or(newer, z3.And(z3.Not(older), better_cur))
        ignored = z3.Or(z3.Not(self.is_sid(m.l)), m.st == self.OBSERVING)
        is_following = m.st != self.LOOKING
        ignored_looking = z3.Or(m.z == -1, older)
        post = ite_srv(
            ignored, v, ite_srv(is_following, follow_post, ite_srv(ignored_looking, v, looking_post))
        )
        sends = [(z3.And(z3.Not(ignored), is_following, c), msg) for c, msg in follow_sends]
        sends.append(
            (
                z3.And(z3.Not(ignored), z3.Not(is_following), z3.Not(ignored_looking), send_looking),
                self.notification(looking_post),
            )
        )
        return post, sends

    def received_following(self, j: int, v: Srv, i: int, m: Msg) -> tuple[Srv, list[tuple[Any, Msg]]]:
        """FastLeaderElection.receivedFollowingNotification (LEADING is handled the same way)."""
        entry = Entry.of(m)
        same = m.r == v.rnd
        rs_v = v.with_entry("rs", i, entry)
        acks1 = [
            z3.And(
                e.has,
                z3.If(
                    e.st != self.LOOKING, e.l == m.l, z3.And(e.l == m.l, e.z == m.z, e.r == m.r, e.pe == m.pe)
                ),
            )
            for e in rs_v.rs
        ]
        dec1 = z3.And(same, self.some_quorum(acks1), self.check_leader(j, rs_v, rs_v.rs, m.l, m.r))
        first = self.decide(j, rs_v, m.l, m.z, m.r, m.pe, self.ghost(rs_v.rs, acks1))
        base = ite_srv(same, rs_v, v)
        oo_v = base.with_entry("oo", i, entry)
        acks2 = [z3.And(e.has, e.l == m.l, e.pe == m.pe) for e in oo_v.oo]
        dec2 = z3.And(self.some_quorum(acks2), self.check_leader(j, oo_v, oo_v.oo, m.l, m.r))
        second = self.decide(j, replace(oo_v, rnd=m.r), m.l, m.z, m.r, m.pe, self.ghost(oo_v.oo, acks2))
        return ite_srv(dec1, first, ite_srv(dec2, second, oo_v)), []

    def deliver(self, i: int, j: int, s: list[Srv], m: Msg) -> Action:
        """WorkerReceiver receives m from i at j, then lookForLeader handles it (FleModel._deliver)."""
        v = s[j]
        looking = v.st == self.LOOKING
        sends: list[tuple[Any, Msg]] = [
            (z3.And(looking, m.st == self.LOOKING, m.r < v.rnd), self.notification(v)),
            (
                z3.And(z3.Not(looking), m.st == self.LOOKING),
                Msg(v.st, v.cvl, v.cvz, v.cvr, v.cvpe, v.cep, v.zx),
            ),
        ]
        drained = replace(v, fw=z3.Not(self.top(m.l, m.z, m.pe, v.pl, v.pz, v.pe)))
        handled, more = self.look_for_leader(j, v, i, m)
        sends += [(z3.And(looking, z3.Not(v.fw), c), msg) for c, msg in more]
        post_j = ite_srv(looking, ite_srv(v.fw, drained, handled), v)
        return self._action(
            f"Deliver({self.sid(i)}->{self.sid(j)})", "Deliver", (i, j), s, v.up, {j: post_j}, sends, m
        )

    def process_requeued(self, i: int, j: int, s: list[Srv], m: Msg) -> Action:
        """lookForLeader polls the notification it re-queued in the finalize wait."""
        v = s[j]
        post_j, sends = self.look_for_leader(j, v, i, m)
        guard = z3.And(v.up, v.st == self.LOOKING, z3.Not(v.fw))
        return self._action(
            f"ProcessRequeued({self.sid(j)}, from {self.sid(i)})",
            "ProcessRequeued",
            (i, j),
            s,
            guard,
            {j: post_j},
            sends,
            m,
        )

    def finalize_expire(self, j: int, s: list[Srv]) -> Action:
        """finalizeWait passed with nothing better: decide on the proposal."""
        v = s[j]
        acks = self.acks_looking(v)
        post = self.decide(j, v, v.pl, v.pz, v.rnd, v.pe, self.ghost(v.rs, acks))
        return self._action(
            f"FinalizeExpire({self.sid(j)})", "FinalizeExpire", (j,), s, z3.And(v.up, v.fw), {j: post}, []
        )

    def timeout(self, j: int, s: list[Srv]) -> Action:
        v = s[j]
        return self._action(
            f"Timeout({self.sid(j)})",
            "Timeout",
            (j,),
            s,
            z3.And(v.up, v.st == self.LOOKING),
            {},
            [(z3.BoolVal(True), self.notification(v))],
        )

    def quit(self, k: int, s: list[Srv], leader: bool) -> Action:
        """QuorumPeer.run: lead()/followLeader() returned; LOOKING again with round + 1."""
        v = s[k]
        post = replace(
            v,
            st=z3.IntVal(self.LOOKING),
            rnd=v.rnd + 1,
            pl=z3.IntVal(self.sid(k)),
            pz=v.zx,
            pe=v.cep,
            rs=tuple(e.cleared() for e in v.rs),
            oo=tuple(e.cleared() for e in v.oo),
            zab=z3.IntVal(0),
            vs=z3.BoolVal(False),
        )
        role = self.LEADING if leader else self.FOLLOWING
        name = "LeaderQuit" if leader else "FollowerQuit"
        return self._action(
            f"{name}({self.sid(k)})",
            name,
            (k,),
            s,
            z3.And(v.up, v.st == role),
            {k: post},
            [(z3.BoolVal(True), self.notification(post))],
        )

    def crash(self, k: int, s: list[Srv]) -> Action:
        v = s[k]
        post = self.fresh_server(k, z3.BoolVal(False), v.cep, v.aep, v.zx)
        return self._action(f"Crash({self.sid(k)})", "Crash", (k,), s, v.up, {k: post}, [])

    def restart(self, k: int, s: list[Srv]) -> Action:
        v = s[k]
        post = self.fresh_server(k, z3.BoolVal(True), v.cep, v.aep, v.zx)
        return self._action(
            f"Restart({self.sid(k)})",
            "Restart",
            (k,),
            s,
            z3.Not(v.up),
            {k: post},
            [(z3.BoolVal(True), self.notification(post))],
        )

    # ------------------------------------------------------------ Zab, abstracted
    def take_epoch(self, v: Srv, epoch: Any, zxid: Any) -> Srv:
        """Discovery + sync: acceptedEpoch, currentEpoch, the leader's history, updateElectionVote."""
        return replace(v, aep=epoch, cep=epoch, zab=epoch, zx=zxid, cvpe=epoch)

    def establish(self, k: int, s: list[Srv]) -> Action:
        """Leader.lead: a quorum of not-yet-synced followers; epoch = max acceptedEpoch + 1."""
        lead = s[k]
        member = [
            z3.BoolVal(True)
            if i == k
            else z3.And(w.up, w.st == self.FOLLOWING, w.cvl == self.sid(k), w.zab == 0)
            for i, w in enumerate(s)
        ]
        top_aep: Any = lead.aep
        for i, w in enumerate(s):
            if i != k:
                top_aep = z3.If(z3.And(member[i], w.aep > top_aep), w.aep, top_aep)
        epoch = top_aep + 1
        guard = z3.And(
            lead.up, lead.st == self.LEADING, lead.zab == 0, lead.cvl == self.sid(k), self.some_quorum(member)
        )
        post = {i: ite_srv(member[i], self.take_epoch(w, epoch, lead.zx), w) for i, w in enumerate(s)}
        return self._action(f"Establish({self.sid(k)})", "Establish", (k,), s, guard, post, [])

    def join(self, j: int, ld: int, s: list[Srv]) -> Action:
        """Learner joins an established leader: its epoch and history."""
        v, lead = s[j], s[ld]
        guard = z3.And(
            v.up,
            v.st == self.FOLLOWING,
            v.zab == 0,
            v.cvl == self.sid(ld),
            lead.up,
            lead.st == self.LEADING,
            lead.zab > 0,
            lead.cvl == self.sid(ld),
        )
        if self.join_epoch_check:  # Learner.registerWithLeader: "Leaders epoch ... less than accepted epoch"
            guard = z3.And(guard, v.aep <= lead.zab)
        return self._action(
            f"Join({self.sid(j)} to {self.sid(ld)})",
            "Join",
            (j, ld),
            s,
            guard,
            {j: self.take_epoch(v, lead.zab, lead.zx)},
            [],
        )

    def commit(self, k: int, q: Sequence[int], s: list[Srv]) -> Action:
        """A transaction of leader k acked by the minimal quorum q: their zxid advances."""
        lead = s[k]
        synced = [
            z3.And(s[i].up, s[i].st == self.FOLLOWING, s[i].cvl == self.sid(k), s[i].zab == lead.zab)
            for i in q
            if i != k
        ]
        guard = z3.And(lead.up, lead.st == self.LEADING, lead.zab > 0, *synced)
        zxid = z3.If(lead.zx / EPOCH_SHIFT == lead.zab, lead.zx + 1, lead.zab * EPOCH_SHIFT + 1)
        post = {i: replace(s[i], zx=zxid) for i in q}
        members = ",".join(str(self.sid(i)) for i in q)
        return self._action(f"Commit({self.sid(k)}, {{{members}}})", "Commit", (k, *q), s, guard, post, [])

    # ------------------------------------------------------------ assembling
    def _action(
        self,
        name: str,
        kind: str,
        args: tuple[int, ...],
        s: list[Srv],
        guard: Any,
        changed: dict[int, Srv],
        sends: list[tuple[Any, Msg]],
        received: Msg | None = None,
    ) -> Action:
        post = [changed.get(k, s[k]) for k in range(self.n)]
        return Action(name, kind, args, s, guard, post, sends, received)

    def pre(self) -> list[Srv]:
        return [Srv.fresh("pre", k, self.n) for k in range(self.n)]

    def actions(self) -> list[Action]:
        """Every abstract action, each over its own fresh pre-state."""
        n = self.n
        out: list[Action] = []
        for i in range(n):
            for j in range(n):
                out.append(self.deliver(i, j, self.pre(), Msg.fresh("msg")))
                out.append(self.process_requeued(i, j, self.pre(), Msg.fresh("msg")))
        for k in range(n):
            out += [
                self.finalize_expire(k, self.pre()),
                self.timeout(k, self.pre()),
                self.quit(k, self.pre(), True),
                self.quit(k, self.pre(), False),
                self.crash(k, self.pre()),
                self.restart(k, self.pre()),
                self.establish(k, self.pre()),
            ]
            out += [self.join(k, ld, self.pre()) for ld in range(n) if ld != k]
            out += [self.commit(k, q, self.pre()) for q in self.minimal if k in q]
        return out

    def init(self) -> tuple[list[Srv], list[tuple[Any, Msg]]]:
        """FleModel.init_states, for any start: each server up or down, any persistent epochs and zxid."""
        s = []
        for k in range(self.n):
            name = f"init.s{self.sid(k)}"
            s.append(
                self.fresh_server(
                    k,
                    z3.Bool(f"{name}.up"),
                    z3.Int(f"{name}.currentEpoch"),
                    z3.Int(f"{name}.acceptedEpoch"),
                    z3.Int(f"{name}.zxid"),
                )
            )
        return s, [(v.up, self.notification(v)) for v in s]

    def init_constraints(self, s: list[Srv]) -> Bool:
        """What a start must satisfy: 0 <= currentEpoch <= acceptedEpoch, zxid >= 0."""
        return z3.And([z3.And(v.cep >= 0, v.cep <= v.aep, v.zx >= 0) for v in s])

    # ------------------------------------------------------------ reading a model
    def describe_state(self, model: z3.ModelRef, s: Sequence[Srv], title: str) -> list[str]:
        lines = [title + ":"]
        for v in s:
            lines.append("  " + self._server_text(model, v))
        return lines

    def describe_step(self, model: z3.ModelRef, act: Action) -> list[str]:
        lines = self.describe_state(model, act.pre, "before")
        if act.received is not None:
            lines.append(f"  received {self._msg_text(model, act.received)}")
        lines += self.describe_state(model, act.post, f"after {act.name}")
        for cond, m in act.sends:
            if z3.is_true(model.eval(cond, model_completion=True)):
                lines.append(f"  sent {self._msg_text(model, m)}")
        return lines

    def _val(self, model: z3.ModelRef, term: Any) -> Any:
        value = model.eval(term, model_completion=True)
        if z3.is_true(value) or z3.is_false(value):
            return z3.is_true(value)
        return int(str(value)) if z3.is_int_value(value) else str(value)

    def _zxid(self, model: z3.ModelRef, term: Any) -> str:
        value = self._val(model, term)
        if isinstance(value, int) and value >= 0:
            return f"{value // EPOCH_SHIFT}:{value % EPOCH_SHIFT}"
        return str(value)

    def _state_name(self, value: Any) -> str:
        return mvote.STATE_NAMES[value] if isinstance(value, int) and 0 <= value < 4 else str(value)

    def _vote(self, model: z3.ModelRef, leader: Any, zxid: Any, pe: Any) -> str:
        sid, zx, epoch = self._val(model, leader), self._zxid(model, zxid), self._val(model, pe)
        return f"(sid {sid}, zxid {zx}, peerEpoch {epoch})"

    def _msg_text(self, model: z3.ModelRef, m: Msg) -> str:
        return (
            f"{self._state_name(self._val(model, m.st))} {self._vote(model, m.l, m.z, m.pe)} round "
            f"{self._val(model, m.r)}, sender at (currentEpoch {self._val(model, m.g1)}, zxid "
            f"{self._zxid(model, m.g2)})"
        )

    def _server_text(self, model: z3.ModelRef, v: Srv) -> str:
        val = self._val
        if not val(model, v.up):
            return (
                f"server {self.sid(v.k)}: down (currentEpoch {val(model, v.cep)}, acceptedEpoch "
                f"{val(model, v.aep)}, zxid {self._zxid(model, v.zx)})"
            )
        text = (
            f"server {self.sid(v.k)}: {self._state_name(val(model, v.st))} round {val(model, v.rnd)}, "
            f"proposal {self._vote(model, v.pl, v.pz, v.pe)}, currentVote "
            f"{self._vote(model, v.cvl, v.cvz, v.cvpe)} round {val(model, v.cvr)}, currentEpoch "
            f"{val(model, v.cep)}, acceptedEpoch {val(model, v.aep)}, zxid {self._zxid(model, v.zx)}, "
            f"Zab epoch {val(model, v.zab)}"
        )
        if val(model, v.fw):
            text += ", in finalizeWait"
        if val(model, v.vs):
            ghost = f"(currentEpoch {val(model, v.vg1)}, zxid {self._zxid(model, v.vg2)})"
            text += f", elected by voters up to {ghost}"
        for which, entries in (("recvset", v.rs), ("outofelection", v.oo)):
            shown = [
                f"{self.sid(i)}: {self._msg_text(model, e.msg())}"
                for i, e in enumerate(entries)
                if val(model, e.has)
            ]
            if shown:
                text += f"; {which} {{" + "; ".join(shown) + "}"
        return text


# ---------------------------------------------------------------- the explicit model, read into the core


def message_of(msg: Sequence[int]) -> Msg:
    """A model notification ``(state, leader, zxid, round, peerEpoch, ghostEpoch, ghostZxid)`` as a Msg."""
    return Msg(*(z3.IntVal(x) for x in msg))


def abstract(model: Any, state: Any) -> list[Srv]:
    """The abstract state of an explicit ``FleModel`` state: concrete values for every core field."""
    from zkfle.model import fle

    servers = state[0]
    out: list[Srv] = []
    zero = z3.IntVal(0)
    for k, s in enumerate(servers):

        def slots(entries: Sequence[Sequence[int]]) -> tuple[Entry, ...]:
            by_sender = {e[0]: e for e in entries}
            row = []
            for sid in model.sids:
                e = by_sender.get(sid)
                if e is None:
                    row.append(Entry(z3.BoolVal(False), zero, zero, zero, zero, zero, zero, zero))
                else:
                    row.append(Entry(z3.BoolVal(True), *(z3.IntVal(e[x]) for x in (5, 1, 2, 3, 4, 6, 7))))
            return tuple(row)

        ghost = s[fle.VS][1] if s[fle.VS] is not None else None
        cvl, cvz, cvr, cvpe = s[fle.CV]
        out.append(
            Srv(
                k,
                up=z3.BoolVal(s[fle.ALIVE] == fle.UP),
                st=z3.IntVal(s[fle.ST]),
                rnd=z3.IntVal(s[fle.RND]),
                pl=z3.IntVal(s[fle.PL]),
                pz=z3.IntVal(s[fle.PZ]),
                pe=z3.IntVal(s[fle.PE]),
                cvl=z3.IntVal(cvl),
                cvz=z3.IntVal(cvz),
                cvr=z3.IntVal(cvr),
                cvpe=z3.IntVal(cvpe),
                cep=z3.IntVal(s[fle.CEP]),
                aep=z3.IntVal(s[fle.AEP]),
                zx=z3.IntVal(s[fle.ZX]),
                zab=z3.IntVal(s[fle.ZAB]),
                fw=z3.BoolVal(bool(s[fle.FW])),
                vs=z3.BoolVal(ghost is not None),
                vg1=z3.IntVal(ghost[0] if ghost else 0),
                vg2=z3.IntVal(ghost[1] if ghost else 0),
                rs=slots(s[fle.RS]),
                oo=slots(s[fle.OOE]),
            )
        )
    return out


def concrete_action(core: Core, model: Any, state: Any, action: Sequence[Any]) -> Action | None:
    """The core action for an explicit model step (None for Transmit, which only moves a message)."""
    from zkfle.model import fle

    pre = abstract(model, state)
    idx = model.idx
    name = action[0]
    if name == "Deliver":
        i, j = idx[action[1]], idx[action[2]]
        head = state[1][i * model.n + j][fle.INFL][0]
        return core.deliver(i, j, pre, message_of(head))
    if name == "ProcessRequeued":
        j = idx[action[1]]
        sender, *msg = state[0][j][fle.PEND]
        return core.process_requeued(idx[sender], j, pre, message_of(msg))
    if name == "Transmit":
        return None
    k = idx[action[1]]
    simple = {
        "FinalizeExpire": core.finalize_expire,
        "Timeout": core.timeout,
        "Crash": core.crash,
        "Restart": core.restart,
        "Establish": core.establish,
    }
    if name in simple:
        return simple[name](k, pre)
    if name in ("LeaderQuit", "FollowerQuit"):
        return core.quit(k, pre, name == "LeaderQuit")
    if name == "Join":
        return core.join(k, idx[state[0][k][fle.CV][0]], pre)
    if name == "Commit":
        q = [b for b in range(model.n) if action[2] >> b & 1]
        return core.commit(k, q, pre)
    raise ValueError(f"no core action for model action {action!r}")


def values(srv: Srv) -> dict[str, Any]:
    """Python values of a (concrete or simplified) Srv; entry fields only where the entry is present."""

    def py(term: Any) -> Any:
        v = z3.simplify(term)
        if z3.is_true(v) or z3.is_false(v):
            return z3.is_true(v)
        return v.as_long() if z3.is_int_value(v) else str(v)

    out: dict[str, Any] = {f: py(getattr(srv, f)) for f in Srv.SCALARS}
    if not out["vs"]:
        out["vg1"] = out["vg2"] = None
    for which in ("rs", "oo"):
        out[which] = tuple(
            tuple(py(x) for x in _entry_fields(e)[1:]) if py(e.has) else None for e in getattr(srv, which)
        )
    return out


def msg_values(m: Msg) -> tuple[Any, ...]:
    out = []
    for x in m.fields():
        value = z3.simplify(x)
        assert isinstance(value, z3.IntNumRef)
        out.append(value.as_long())
    return tuple(out)


def same_state(post: Sequence[Srv], want: Sequence[Srv]) -> bool:
    """Do the (concrete) post-state terms equal the wanted abstract state? One simplify for all fields."""
    eqs: list[Any] = []
    for a, b in zip(post, want, strict=True):
        eqs += [getattr(a, f) == getattr(b, f) for f in Srv.SCALARS if f not in ("vg1", "vg2")]
        eqs.append(z3.Implies(b.vs, z3.And(a.vg1 == b.vg1, a.vg2 == b.vg2)))
        for x, y in zip((*a.rs, *a.oo), (*b.rs, *b.oo), strict=True):
            eqs.append(x.has == y.has)
            eqs.append(
                z3.Implies(
                    y.has,
                    z3.And([p == q for p, q in zip(_entry_fields(x)[1:], _entry_fields(y)[1:], strict=True)]),
                )
            )
    return z3.is_true(z3.simplify(z3.And(eqs)))
