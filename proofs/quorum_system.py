"""Quorum systems as Z3 predicates: quorum intersection, and what a reconfiguration must respect.

Theory of operation. A set of voters is a vector of Bools, one per voting member (``x[sid]`` = "sid is in
the set"); only voters can ever count (``SyncedLearnerTracker.addAck`` drops the others), so observers get
no Bool. ``SymbolicQuorum.contains_quorum`` builds, from the same ``ZooCfg`` and the same
``zkfle.quorum`` verifier the rest of zkfle uses, the formula that ``containsQuorum`` computes:

- ``QuorumMaj``: ``size > half`` with ``half = votingMembers.size() / 2``, sizes as 32-bit Java ``int``s;
- ``QuorumHierarchical``: per group, the summed weight of its members in the set as a 64-bit Java ``long``
  (wrap-around included), compared with ``groupWeight / 2`` (signed division truncating toward zero, as
  Java's ``/``); a group counts only if some member is in the set (the ``expansion`` map); the set is a
  quorum when more than ``numGroups / 2`` groups count, ``numGroups`` being the groups whose weight is not 0;
  the empty set is never a quorum.

Sums are bit-vector sums (portable SMT-LIB, ``QF_BV``), never an enumeration of subsets. Theorems:

- intersection: any two quorums of one config share a voter (else: two disjoint quorums are printed);
- reconfiguration: every quorum of the old config shares a voter with every quorum of the new one.

Mutant ``half-inclusive``: every "more than half" becomes "at least half" (``2 * x >= total``), the classic
off-by-one that lets exactly half of an even ensemble (or group) decide.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import z3

from zkfle.errors import InternalError, UserInputError
from zkfle.proofs.query import Outcome, solve
from zkfle.quorum import QuorumHierarchical, QuorumMaj, QuorumVerifier
from zkfle.zoocfg import ZooCfg

INT_BITS = 32  # Java int: set sizes, numGroups, majGroupCounter
LONG_BITS = 64  # Java long: weights
HALF_INCLUSIVE = "half-inclusive"
QUORUM_MUTANTS = (HALF_INCLUSIVE,)


def _check_mutant(mutant: str | None) -> None:
    if mutant is not None and mutant not in QUORUM_MUTANTS:
        raise UserInputError(
            f"--mutant {mutant!r}: unknown quorum mutant (choose from {', '.join(QUORUM_MUTANTS)})"
        )


def _int(value: int) -> z3.BitVecRef:
    return z3.BitVecVal(value, INT_BITS)


def _long(value: int) -> z3.BitVecRef:
    return z3.BitVecVal(value, LONG_BITS)


def _count(bits: Iterable[z3.BoolRef]) -> z3.BitVecRef:
    """How many of ``bits`` are true, as a Java int."""
    return z3.Sum([z3.If(b, _int(1), _int(0)) for b in bits] or [_int(0)])


@dataclass(frozen=True)
class SymbolicQuorum:
    """One config's ``containsQuorum`` as a formula over one Bool per voter."""

    qv: QuorumVerifier
    mutant: str | None = None

    def __post_init__(self) -> None:
        _check_mutant(self.mutant)
        if not isinstance(self.qv, QuorumMaj | QuorumHierarchical):
            raise InternalError(f"no symbolic encoding for quorum verifier {type(self.qv).__name__}")

    @classmethod
    def of(cls, cfg: ZooCfg, mutant: str | None = None) -> SymbolicQuorum:
        return cls(cfg.quorum_verifier(), mutant)

    @property
    def voters(self) -> tuple[int, ...]:
        return tuple(sorted(self.qv.voting_members))

    def variables(self, prefix: str) -> dict[int, z3.BoolRef]:
        """A fresh set of voters: ``prefix.sid`` is true when sid is in the set."""
        return {sid: z3.Bool(f"{prefix}.{sid}") for sid in self.voters}

    def _more_than_half(self, part: z3.BitVecRef, whole: z3.BitVecRef) -> z3.BoolRef:
        if self.mutant == HALF_INCLUSIVE:
            return part * 2 >= whole
        return part > whole / 2  # bvsdiv; Java: value > total / 2 (signed, truncating)

    def contains_quorum(self, chosen: Mapping[int, z3.BoolRef]) -> z3.BoolRef:
        if isinstance(self.qv, QuorumHierarchical):
            return self._hierarchical(self.qv, chosen)
        # QuorumMaj.containsQuorum: ackSet.size() > half
        return self._more_than_half(_count(chosen[s] for s in self.voters), _int(len(self.voters)))

    def _hierarchical(self, qv: QuorumHierarchical, chosen: Mapping[int, z3.BoolRef]) -> z3.BoolRef:
        # QuorumHierarchical.computeGroupWeight, then containsQuorum
        counted: list[z3.BoolRef] = []
        zero_groups: list[z3.BoolRef] = []
        for gid in sorted(qv.groups):
            members = sorted(qv.groups[gid])
            group_weight = z3.simplify(z3.Sum([_long(qv.weight(s)) for s in members] or [_long(0)]))
            assert isinstance(group_weight, z3.BitVecRef)
            zero_groups.append(group_weight == 0)
            inside = [s for s in members if s in chosen]
            present = z3.Or([chosen[s] for s in inside]) if inside else z3.BoolVal(False)
            terms = [z3.If(chosen[s], _long(qv.weight(s)), _long(0)) for s in inside]
            expansion = z3.Sum(terms or [_long(0)])
            counted.append(z3.And(present, self._more_than_half(expansion, group_weight)))
        num_groups = _int(len(qv.groups)) - _count(zero_groups)
        not_empty = z3.Or([chosen[s] for s in self.voters]) if self.voters else z3.BoolVal(False)
        return z3.And(not_empty, self._more_than_half(_count(counted), num_groups))

    def holds(self, members: Iterable[int]) -> bool:
        """The formula evaluated on a concrete set of voters (non-voters are dropped, as ``acks_of``)."""
        inside = frozenset(members)
        concrete = {sid: z3.BoolVal(sid in inside) for sid in self.voters}
        return z3.is_true(z3.simplify(self.contains_quorum(concrete)))

    def describe(self) -> str:
        qv = self.qv
        text = f"{len(qv.voting_members)} voters"
        if qv.observing_members:
            text += f" + {len(qv.observing_members)} observers"
        if isinstance(qv, QuorumHierarchical):
            text += f", hierarchical {len(qv.groups)} groups"
        else:
            text += ", majority"
        if self.mutant:
            text += f", mutant {self.mutant}"
        return text


class HalfInclusive:
    """The explicit twin of the ``half-inclusive`` mutant (for tests): ``2 * x >= total``."""

    def __init__(self, qv: QuorumVerifier) -> None:
        self.qv = qv

    @property
    def voting_members(self) -> frozenset[int]:
        return self.qv.voting_members

    @property
    def observing_members(self) -> frozenset[int]:
        return self.qv.observing_members

    @property
    def version(self) -> int:
        return self.qv.version

    def weight(self, sid: int) -> int:
        return self.qv.weight(sid)

    def contains_quorum(self, members: Iterable[int]) -> bool:
        chosen = frozenset(members)
        qv = self.qv
        if not isinstance(qv, QuorumHierarchical):
            return 2 * len(chosen) >= len(qv.voting_members)
        if not chosen:
            return False
        counted = 0
        for gid, group in qv.groups.items():
            inside = chosen & group
            if inside and 2 * sum(qv.weight(s) for s in inside) >= qv.group_weight[gid]:
                counted += 1
        return 2 * counted >= qv.num_groups


def config_label(cfg: ZooCfg, name: str | None = None) -> str:
    return name or cfg.path or "zoo.cfg"


def _shrink(sq: SymbolicQuorum, members: frozenset[int]) -> frozenset[int]:
    """Drop members while the set stays a quorum (a smaller, still valid, witness)."""
    current = set(members)
    for sid in sorted(members, reverse=True):
        if sq.holds(current - {sid}):
            current.discard(sid)
    return frozenset(current)


def _chosen(model: z3.ModelRef, xs: Mapping[int, z3.BoolRef]) -> frozenset[int]:
    return frozenset(s for s, x in xs.items() if z3.is_true(model.eval(x, model_completion=True)))


def _weights_line(sq: SymbolicQuorum, members: frozenset[int]) -> str:
    qv = sq.qv
    if not isinstance(qv, QuorumHierarchical):
        return f"{len(members)} of {len(qv.voting_members)} voters"
    parts = []
    for gid in sorted(qv.groups):
        inside = sorted(members & qv.groups[gid])
        if inside:
            total = sum(qv.weight(s) for s in inside)
            parts.append(f"group {gid}: {inside} weight {total} of {qv.group_weight[gid]}")
    return "; ".join(parts)


def _pair_decoder(
    first: SymbolicQuorum, a: Mapping[int, z3.BoolRef], second: SymbolicQuorum, b: Mapping[int, z3.BoolRef]
) -> Any:
    def decode(model: z3.ModelRef) -> tuple[dict[str, Any], list[str]]:
        qa = _shrink(first, _chosen(model, a))
        qb = _shrink(second, _chosen(model, b))
        if not (first.holds(qa) and second.holds(qb)) or qa & qb:
            raise InternalError(
                f"the solver's disjoint quorums {sorted(qa)} and {sorted(qb)} do not check out"
            )
        data = {"quorum_a": sorted(qa), "quorum_b": sorted(qb)}
        lines = [
            f"quorum A = {sorted(qa)}  ({_weights_line(first, qa)})",
            f"quorum B = {sorted(qb)}  ({_weights_line(second, qb)})",
            "A and B share no voter: each could elect a different leader",
        ]
        return data, lines

    return decode


def _no_quorum_note(sq: SymbolicQuorum) -> str:
    solver = z3.Solver()
    solver.add(sq.contains_quorum(sq.variables("Q")))
    if solver.check() == z3.unsat:
        return "no set of voters is a quorum: vacuously true, and this ensemble can never elect a leader"
    return ""


def prove_intersection(
    cfg: ZooCfg, *, name: str | None = None, mutant: str | None = None, out_dir: Path | None = None
) -> Outcome:
    """Any two quorums of ``cfg`` share a voter."""
    sq = SymbolicQuorum.of(cfg, mutant)
    a, b = sq.variables("A"), sq.variables("B")
    disjoint = [z3.Not(z3.And(a[s], b[s])) for s in sq.voters]
    outcome = solve(
        "quorum intersection",
        f"{config_label(cfg, name)} ({sq.describe()})",
        [sq.contains_quorum(a), sq.contains_quorum(b), *disjoint],
        _pair_decoder(sq, a, sq, b),
        out_dir=out_dir,
    )
    outcome.note = _no_quorum_note(sq) if outcome.verdict == "proven" else ""
    return outcome


def prove_reconfig(
    old: ZooCfg,
    new: ZooCfg,
    *,
    old_name: str | None = None,
    new_name: str | None = None,
    mutant: str | None = None,
    out_dir: Path | None = None,
) -> Outcome:
    """Every quorum of ``old`` shares a voter with every quorum of ``new``."""
    sq_old, sq_new = SymbolicQuorum.of(old, mutant), SymbolicQuorum.of(new, mutant)
    a, b = sq_old.variables("old"), sq_new.variables("new")
    disjoint = [z3.Not(z3.And(a[s], b[s])) for s in set(a) & set(b)]
    label = f"{config_label(old, old_name)} -> {config_label(new, new_name)}"
    return solve(
        "old and new quorums intersect",
        f"{label} ({sq_old.describe()} -> {sq_new.describe()})",
        [sq_old.contains_quorum(a), sq_new.contains_quorum(b), *disjoint],
        _pair_decoder(sq_old, a, sq_new, b),
        out_dir=out_dir,
    )


def all_subsets(voters: Iterable[int]) -> Iterable[frozenset[int]]:
    """Every subset of ``voters`` (for tests on small configs)."""
    pool = sorted(voters)
    for size in range(len(pool) + 1):
        for combo in combinations(pool, size):
            yield frozenset(combo)
