"""Inductive invariants of the FLE model (``zkfle.model.fle``), proven with Z3 for N voters.

Theory of operation. ``core`` encodes the model's transition relation over an *abstract state*: for
each server its liveness, ``ServerState``, ``logicalclock``, proposal, ``currentVote``, ``recvset`` and
``outofelection`` (one slot per sender, with the ghost fields), the finalize-wait flag, the persistent
``currentEpoch``/``acceptedEpoch``/last zxid, the Zab epoch and the decision ghost. The network is
abstracted by a **message invariant**: a delivered notification is any message satisfying the candidate
message invariants, and every message an action sends must satisfy them (checked). This over-approximates
loss, duplication, re-ordering, the capacity-1 send slots and ``lastMessageSent`` re-sends. The finalize
wait's re-queued notification is dropped from the state and its later processing is a delivery. Guards
that only exist to bound or schedule the explicit model (quiet network, round and crash bounds, "the
leader lost its quorum") are dropped. Every dropped guard only adds behaviours, so the abstraction is sound
for safety: an invariant of the abstract system holds in every reachable state of the explicit model.

``Houdini``: start from candidate invariants (the model's properties and strengthening lemmas). Drop every
candidate that is not preserved, by some action, from states satisfying all remaining candidates. Repeat
until nothing is dropped. What is left is inductive (proven for every N-server state, for every value of
rounds, epochs and zxids). Every dropped candidate is reported with its counterexample to induction, in the
model's vocabulary. ``tests/test_proofs_induction.py`` pins ``core`` to ``zkfle.model.fle``: for explicit
transitions found by random walks, the abstract action admits exactly the explicit successor and its sent
notifications.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import z3

from zkfle.errors import UserInputError
from zkfle.model.config import default_config
from zkfle.proofs.core import Action, Core, Msg, Srv, lex_le
from zkfle.proofs.query import CTI, PROVEN, UNKNOWN, Outcome, write_smt2

# ---------------------------------------------------------------- candidates

StateInv = Callable[[Core, list[Srv]], list[z3.BoolRef]]
MsgInv = Callable[[Core, list[Srv], Msg], z3.BoolRef]


def _all(items: Sequence[z3.BoolRef]) -> z3.BoolRef:
    return z3.And(list(items)) if items else z3.BoolVal(True)


def inv_state_range(c: Core, s: list[Srv]) -> list[z3.BoolRef]:
    """Fields stay in their domains (states 0..2, leaders are voters, counters non-negative)."""
    return list(
        [
            z3.And(
                v.st >= 0,
                v.st <= 2,
                c.is_sid(v.pl),
                c.is_sid(v.cvl),
                v.rnd >= 0,
                v.zx >= 0,
                v.cep >= 0,
                v.zab >= 0,
                z3.Implies(v.st != c.LOOKING, v.cvr >= 0),
            )
            for v in s
        ]
    )


def inv_epoch_order(c: Core, s: list[Srv]) -> list[z3.BoolRef]:
    """currentEpoch <= acceptedEpoch, and a server in Zab epoch e > 0 has both equal to e."""
    return list(
        [z3.And(v.cep <= v.aep, z3.Implies(v.zab > 0, z3.And(v.cep == v.zab, v.aep == v.zab))) for v in s]
    )


def inv_looking_not_in_zab(c: Core, s: list[Srv]) -> list[z3.BoolRef]:
    """A LOOKING (or down) server is in no Zab epoch and holds no decision ghost."""
    return list([z3.Implies(z3.Or(v.st == c.LOOKING, z3.Not(v.up)), v.zab == 0) for v in s])


def inv_fw_only_looking(c: Core, s: list[Srv]) -> list[z3.BoolRef]:
    """Only an up, LOOKING server can be in the finalize wait."""
    return list([z3.Implies(v.fw, z3.And(v.up, v.st == c.LOOKING)) for v in s])


def inv_valid_vote(c: Core, s: list[Srv]) -> list[z3.BoolRef]:
    """The model's ValidVote: an up server's proposal never exceeds its leader's (currentEpoch, zxid)."""
    return list([z3.Implies(v.up, lex_le((v.pe, v.pz), c.state_of(s, v.pl))) for v in s])


def inv_current_vote_valid(c: Core, s: list[Srv]) -> list[z3.BoolRef]:
    """currentVote never exceeds its leader's (currentEpoch, zxid)."""
    return list([lex_le((v.cvpe, v.cvz), c.state_of(s, v.cvl)) for v in s])


def inv_proposal_dominates_self(c: Core, s: list[Srv]) -> list[z3.BoolRef]:
    """A LOOKING server's proposal is at least its own (currentEpoch, zxid)."""
    return list([z3.Implies(v.st == c.LOOKING, lex_le((v.cep, v.zx), (v.pe, v.pz))) for v in s])


def inv_epoch_quorum(c: Core, s: list[Srv]) -> list[z3.BoolRef]:
    """A server in Zab epoch e > 0: a quorum has acceptedEpoch >= e (the quorum that established e)."""
    return list([z3.Implies(v.zab > 0, c.some_quorum([w.aep >= v.zab for w in s])) for v in s])


def inv_one_leader_per_epoch(c: Core, s: list[Srv]) -> list[z3.BoolRef]:
    """The model's OneLeaderPerEpoch: two up, established leaders never share a Zab epoch."""
    out = []
    for a in range(c.n):
        for b in range(a + 1, c.n):
            va, vb = s[a], s[b]
            out.append(
                z3.Not(
                    z3.And(va.up, vb.up, va.st == c.LEADING, vb.st == c.LEADING, va.zab > 0, va.zab == vb.zab)
                )
            )
    return out


def inv_agreement(c: Core, s: list[Srv]) -> list[z3.BoolRef]:
    """The model's Agreement: an up follower in epoch e > 0 follows the up leader established in e."""
    out = []
    for f in range(c.n):
        for ld in range(c.n):
            if f == ld:
                continue
            vf, vl = s[f], s[ld]
            out.append(
                z3.Implies(
                    z3.And(
                        vf.up, vl.up, vf.st == c.FOLLOWING, vf.zab > 0, vl.st == c.LEADING, vl.zab == vf.zab
                    ),
                    vf.cvl == ld + 1,
                )
            )
    return out


def inv_leader_ghost(c: Core, s: list[Srv]) -> list[z3.BoolRef]:
    """A LEADING server's decision ghost is below its own (currentEpoch, zxid)."""
    return list(
        [z3.Implies(z3.And(v.st == c.LEADING, v.vs), lex_le((v.vg1, v.vg2), (v.cep, v.zx))) for v in s]
    )


def msg_range(c: Core, s: list[Srv], m: Msg) -> z3.BoolRef:
    """A notification names a voter as leader, carries a valid state, and non-negative ghosts."""
    return z3.And(c.is_sid(m.l), m.st >= 0, m.st <= 2, m.r >= 0, m.g1 >= 0, m.g2 >= 0)


def msg_valid_vote(c: Core, s: list[Srv], m: Msg) -> z3.BoolRef:
    """A notification's vote never exceeds its leader's current (currentEpoch, zxid)."""
    return lex_le((m.pe, m.z), c.state_of(s, m.l))


def msg_looking_dominates_sender(c: Core, s: list[Srv], m: Msg) -> z3.BoolRef:
    """A LOOKING notification's vote is at least its sender's (currentEpoch, zxid) when sent (the ghost)."""
    return z3.Implies(m.st == c.LOOKING, lex_le((m.g1, m.g2), (m.pe, m.z)))


def msg_ghost_below_leader(c: Core, s: list[Srv], m: Msg) -> z3.BoolRef:
    """The sender's (currentEpoch, zxid) when sent is below the current state of the leader it names."""
    return lex_le((m.g1, m.g2), c.state_of(s, m.l))


STATE_CANDIDATES: dict[str, StateInv] = {
    "StateRange": inv_state_range,
    "EpochOrder": inv_epoch_order,
    "LookingNotInZab": inv_looking_not_in_zab,
    "FinalizeWaitOnlyLooking": inv_fw_only_looking,
    "ValidVote": inv_valid_vote,
    "CurrentVoteValid": inv_current_vote_valid,
    "ProposalDominatesSelf": inv_proposal_dominates_self,
    "EpochQuorum": inv_epoch_quorum,
    "OneLeaderPerEpoch": inv_one_leader_per_epoch,
    "Agreement": inv_agreement,
    "LeaderGhost": inv_leader_ghost,
}
MSG_CANDIDATES: dict[str, MsgInv] = {
    "MsgRange": msg_range,
    "MsgValidVote": msg_valid_vote,
    "MsgLookingDominatesSender": msg_looking_dominates_sender,
    "MsgGhostBelowLeader": msg_ghost_below_leader,
}
# The model's own properties (zkfle.model.properties); the rest are strengthening lemmas.
MODEL_PROPERTIES = ("OneLeaderPerEpoch", "Agreement", "ValidVote", "LeaderCompleteness")


def leader_completeness(c: Core, s: list[Srv], t: list[Srv]) -> z3.BoolRef:
    """The model's LeaderCompleteness: a server that becomes LEADING has (currentEpoch, zxid) >= its ghost."""
    return _all(
        [
            z3.Implies(
                z3.And(b.st == c.LEADING, a.st != c.LEADING, b.vs), lex_le((b.vg1, b.vg2), (b.cep, b.zx))
            )
            for a, b in zip(s, t, strict=True)
        ]
    )


# ---------------------------------------------------------------- Houdini


@dataclass
class Cti:
    """A counterexample to induction: a state satisfying the kept candidates, a step, a broken candidate."""

    candidate: str
    action: str
    lines: list[str]
    data: dict[str, Any]
    round: int = 0


@dataclass
class HoudiniResult:
    kept: list[str]
    dropped: dict[str, Cti]
    rounds: int
    queries: int
    seconds: float
    completeness: Cti | None  # LeaderCompleteness, checked against the kept candidates
    completeness_checked: bool


class Houdini:
    """The largest inductive subset of the candidates, for one Core."""

    def __init__(self, core: Core, timeout_ms: int = 60_000) -> None:
        self.core = core
        self.timeout_ms = timeout_ms
        self.queries = 0

    def hypothesis(
        self, s: list[Srv], state_names: Sequence[str], msg_names: Sequence[str], extra_msgs: Sequence[Msg]
    ) -> list[z3.BoolRef]:
        c = self.core
        hyp = [f for n in state_names for f in STATE_CANDIDATES[n](c, s)]
        for n in msg_names:
            inv = MSG_CANDIDATES[n]
            for e in c.entries(s):
                hyp.append(z3.Implies(e.has, inv(c, s, e.msg())))
            hyp += [inv(c, s, m) for m in extra_msgs]
        return hyp

    def obligations(
        self, act: Action, state_names: Sequence[str], msg_names: Sequence[str], free: Msg
    ) -> list[tuple[str, z3.BoolRef]]:
        """(candidate, formula that must hold after the step). Conjuncts whose terms the step leaves
        unchanged are skipped: they are hypotheses already."""
        c, s, t = self.core, act.pre, act.post
        out = []
        for n in state_names:
            inv = STATE_CANDIDATES[n]
            changed = [a for a, b in zip(inv(c, t), inv(c, s), strict=True) if not a.eq(b)]
            if changed:
                out.append((n, _all(changed)))
        for n in msg_names:
            minv = MSG_CANDIDATES[n]
            parts = []
            for e, old in zip(c.entries(t), c.entries(s), strict=True):
                after, before = (
                    z3.Implies(e.has, minv(c, t, e.msg())),
                    z3.Implies(old.has, minv(c, s, old.msg())),
                )
                if not after.eq(before):
                    parts.append(after)
            parts += [z3.Implies(cond, minv(c, t, m)) for cond, m in act.sends]
            stable = minv(c, t, free)
            if not stable.eq(minv(c, s, free)):
                parts.append(stable)  # stability: an old message still satisfies it after the step
            if parts:
                out.append((n, _all(parts)))
        return out

    def _solver(self) -> z3.Solver:
        solver = z3.Solver()
        solver.set("timeout", self.timeout_ms)
        return solver

    def initiation(self, state_names: list[str], msg_names: list[str]) -> dict[str, Cti]:
        c = self.core
        s, sends = c.init()
        dropped: dict[str, Cti] = {}
        solver = self._solver()
        solver.add(c.init_constraints(s))
        checks = [(n, _all(STATE_CANDIDATES[n](c, s))) for n in state_names]
        for n in msg_names:
            inv = MSG_CANDIDATES[n]
            checks.append((n, _all([z3.Implies(cond, inv(c, s, m)) for cond, m in sends])))
        for name, formula in checks:
            self.queries += 1
            solver.push()
            solver.add(z3.Not(formula))
            if solver.check() == z3.sat:
                dropped[name] = Cti(name, "Init", c.describe_state(solver.model(), s, "initial state"), {})
            solver.pop()
        return dropped

    def run(self, check_completeness: bool = True) -> HoudiniResult:
        start = time.perf_counter()
        c = self.core
        state_names = list(STATE_CANDIDATES)
        msg_names = list(MSG_CANDIDATES)
        dropped = self.initiation(state_names, msg_names)
        state_names = [n for n in state_names if n not in dropped]
        msg_names = [n for n in msg_names if n not in dropped]
        rounds = 0
        changed = True
        while changed:
            rounds += 1
            changed = False
            for act in c.actions():
                broken = self._step(act, state_names, msg_names, rounds)
                for name, cti in broken.items():
                    dropped.setdefault(name, cti)
                    changed = True
                state_names = [n for n in state_names if n not in broken]
                msg_names = [n for n in msg_names if n not in broken]
        completeness: Cti | None = None
        if check_completeness:
            completeness = self._completeness(state_names, msg_names)
        return HoudiniResult(
            state_names + msg_names,
            dropped,
            rounds,
            self.queries,
            time.perf_counter() - start,
            completeness,
            check_completeness,
        )

    def check_step(self, act: Action, names: Sequence[str]) -> dict[str, Cti]:
        """Is every candidate in ``names`` preserved by ``act``, assuming all of them before it?"""
        state_names = [n for n in names if n in STATE_CANDIDATES]
        msg_names = [n for n in names if n in MSG_CANDIDATES]
        return self._step(act, state_names, msg_names, 1)

    def _step(self, act: Action, state_names: list[str], msg_names: list[str], rnd: int) -> dict[str, Cti]:
        c = self.core
        free = Msg.fresh("old")
        solver = self._solver()
        extra = [act.received] if act.received is not None else []
        solver.add(*self.hypothesis(act.pre, state_names, msg_names, [*extra, free]))
        solver.add(act.guard)
        broken: dict[str, Cti] = {}
        for name, formula in self.obligations(act, state_names, msg_names, free):
            self.queries += 1
            solver.push()
            solver.add(z3.Not(formula))
            answer = solver.check()
            if answer == z3.sat:
                broken[name] = Cti(name, act.name, c.describe_step(solver.model(), act), {}, rnd)
            elif answer != z3.unsat:
                broken[name] = Cti(name, act.name, [f"solver gave up: {solver.reason_unknown()}"], {}, rnd)
            solver.pop()
        return broken

    def _completeness(self, state_names: list[str], msg_names: list[str]) -> Cti | None:
        c = self.core
        for act in c.actions():
            solver = self._solver()
            extra = [act.received] if act.received is not None else []
            solver.add(*self.hypothesis(act.pre, state_names, msg_names, extra))
            solver.add(act.guard, z3.Not(leader_completeness(c, act.pre, act.post)))
            self.queries += 1
            answer = solver.check()
            if answer == z3.sat:
                return Cti("LeaderCompleteness", act.name, c.describe_step(solver.model(), act), {})
            if answer != z3.unsat:
                return Cti("LeaderCompleteness", act.name, [f"solver gave up: {solver.reason_unknown()}"], {})
        return None


# ---------------------------------------------------------------- entry points

AS_IS = "model as is"  # with ZooKeeper's Learner epoch check on Join, as the model has it
EPOCH_CHECK = AS_IS  # the model gained the check: ``--variant epoch-check`` is the model as is
NO_EPOCH_CHECK = "without Learner epoch check"  # a negative twin: Join ignores acceptedEpoch
ZK1419 = "mutant ZK-1419"
VARIANTS = (AS_IS, NO_EPOCH_CHECK, ZK1419)


def make_core(servers: int, variant: str = AS_IS) -> Core:
    """The core for ``servers`` voters: the model as is (Join checks the leader's epoch against the learner's
    acceptedEpoch, as ``Learner.registerWithLeader``), or a negative twin: without that check, or with the
    ZK-1419 predicate."""
    if not 1 <= servers <= 5:
        raise UserInputError(f"--servers {servers}: the induction proofs handle 1 to 5 voters")
    qv = default_config(servers).quorum_verifier()
    return Core(
        qv, join_epoch_check=variant != NO_EPOCH_CHECK, predicate="ZK-1419" if variant == ZK1419 else "3.8.0"
    )


def _outcome(prop: str, scope: str, result: HoudiniResult) -> Outcome:
    cti = result.completeness if prop == "LeaderCompleteness" else result.dropped.get(prop)
    verdict = PROVEN if cti is None else CTI
    if cti is not None and cti.lines and cti.lines[0].startswith("solver gave up"):
        verdict = UNKNOWN
    lines: list[str] = []
    witness: dict[str, Any] | None = None
    if cti is not None:
        head = f"not inductive: counterexample to induction (Houdini round {cti.round}), step {cti.action}:"
        lines = [head]
        earlier = [f"{n} [{c.action}]" for n, c in result.dropped.items() if n != prop]
        earlier = earlier[: list(result.dropped).index(prop)] if prop in result.dropped else earlier
        if earlier:
            lines.append("  (no longer assumed here, dropped before it: " + ", ".join(earlier) + ")")
        lines += cti.lines
        witness = {"action": cti.action, "round": cti.round, "cti": cti.lines}
    return Outcome(f"inductive {prop}", scope, verdict, 0.0, witness=witness, witness_lines=lines)


def run_variant(servers: int, variant: str, names: Sequence[str], out_dir: Path | None) -> list[Outcome]:
    """One Houdini run; one outcome per name in ``names`` (the first carries the run's time and lemmas)."""
    return _run_variant(servers, variant, names, out_dir)[0]


def _run_variant(
    servers: int, variant: str, names: Sequence[str], out_dir: Path | None
) -> tuple[list[Outcome], HoudiniResult]:
    core = make_core(servers, variant)
    result = Houdini(core).run(check_completeness="LeaderCompleteness" in names)
    scope = f"{servers} voters, {variant}"
    outcomes = [_outcome(n, scope, result) for n in names]
    outcomes[0].seconds = result.seconds
    outcomes[0].note = (
        f"Houdini: {result.rounds} rounds, {result.queries} queries; inductive: "
        f"{', '.join(result.kept) or 'nothing'}; dropped: {', '.join(result.dropped) or 'nothing'}"
    )
    if out_dir is not None:
        _write_final(core, result, out_dir, scope)
    return outcomes, result


def prove_induction(
    servers: int,
    invariant: str | None,
    *,
    out_dir: Path | None,
    variants: Sequence[str] = (AS_IS,),
) -> list[Outcome]:
    """The model's properties, for each of ``variants`` (each run once, however often it is named)."""
    names: tuple[str, ...] = MODEL_PROPERTIES
    if invariant is not None:
        known = (*STATE_CANDIDATES, *MSG_CANDIDATES, "LeaderCompleteness")
        if invariant not in known:
            raise UserInputError(f"--invariant {invariant!r}: unknown (choose from {', '.join(known)})")
        names = (invariant,)
    outcomes = []
    for variant in dict.fromkeys(variants):
        outcomes += run_variant(servers, variant, names, out_dir)
    return outcomes


def _write_final(core: Core, result: HoudiniResult, out_dir: Path, scope: str) -> None:
    """The final consecution check of every action, as SMT-LIB (unsat = the kept set is inductive)."""
    h = Houdini(core)
    state_names = [n for n in result.kept if n in STATE_CANDIDATES]
    msg_names = [n for n in result.kept if n in MSG_CANDIDATES]
    for act in core.actions():
        free = Msg.fresh("old")
        extra = [act.received] if act.received is not None else []
        solver = z3.Solver()
        solver.add(*h.hypothesis(act.pre, state_names, msg_names, [*extra, free]))
        solver.add(act.guard)
        goals = [f for _, f in h.obligations(act, state_names, msg_names, free)]
        if result.completeness is None and result.completeness_checked:
            goals.append(leader_completeness(core, act.pre, act.post))
        solver.add(z3.Not(_all(goals)))
        write_smt2(solver, out_dir, f"induction {act.name}", scope)


# What ``prove all`` expects (found by these proofs; docs/proofs.md explains each).
EXPECTED: dict[tuple[str, str], str] = {
    (AS_IS, "OneLeaderPerEpoch"): PROVEN,
    (AS_IS, "Agreement"): PROVEN,
    (AS_IS, "ValidVote"): "cti",
    (AS_IS, "LeaderCompleteness"): "cti",
    (AS_IS, "ProposalDominatesSelf"): PROVEN,
    (NO_EPOCH_CHECK, "OneLeaderPerEpoch"): "cti",
    (NO_EPOCH_CHECK, "Agreement"): "cti",
    (ZK1419, "ProposalDominatesSelf"): "cti",
}


def twin_outcome(servers: int, variant: str, prop: str, assumed: Sequence[str]) -> Outcome:
    """A negative twin in one round: is ``prop`` preserved by every action of ``variant``'s core, assuming
    the candidates ``assumed`` (the fixpoint of the model as is)? The first breaking step is the CTI."""
    core = make_core(servers, variant)
    h = Houdini(core)
    start = time.perf_counter()
    scope = f"{servers} voters, {variant}"
    names = list(dict.fromkeys([*assumed, prop]))
    for act in core.actions():
        broken = h.check_step(act, names)
        if prop in broken:
            cti = broken[prop]
            lines = [f"not preserved by step {cti.action} (assuming the 3.8.0 fixpoint):", *cti.lines]
            return Outcome(
                f"inductive {prop}",
                scope,
                CTI,
                time.perf_counter() - start,
                witness={"action": cti.action, "cti": cti.lines},
                witness_lines=lines,
            )
    return Outcome(
        f"inductive {prop}",
        scope,
        PROVEN,
        time.perf_counter() - start,
        note=f"preserved by every step, assuming {', '.join(names)}",
    )


def default_outcomes(out_dir: Path | None, servers: int = 3) -> list[Outcome]:
    """``prove all``: the induction proofs, with the verdict each is expected to have. The ZK-1419 twin
    is checked in one round against the fixpoint of the model as is (a full Houdini run agrees, slower)."""
    outcomes: list[Outcome] = []
    kept: list[str] = []
    for variant in (AS_IS, NO_EPOCH_CHECK):
        names = [n for (v, n) in EXPECTED if v == variant]
        found, result = _run_variant(servers, variant, names, out_dir)
        for o in found:
            o.expected = EXPECTED[(variant, o.prop.removeprefix("inductive "))]
        outcomes += found
        if variant == AS_IS:
            kept = result.kept
    twin = twin_outcome(servers, ZK1419, "ProposalDominatesSelf", kept)
    twin.expected = EXPECTED[(ZK1419, "ProposalDominatesSelf")]
    outcomes.append(twin)
    return outcomes
