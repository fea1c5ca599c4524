"""The vote order: ``FastLeaderElection.totalOrderPredicate`` over every Java ``long``.

Theory of operation. A vote is a triple (sid, zxid, peerEpoch) of signed 64-bit Java ``long``s, modelled
as Z3 bit-vectors of width 64 compared with *signed* comparisons (``>`` on ``BitVecRef`` is ``bvsgt``),
so overflow corner cases such as ``Long.MIN_VALUE`` (an observer's initial vote) are covered. The quorum
verifier's ``getWeight`` is an uninterpreted function ``weight : long -> long``: the theorems hold for every
quorum verifier, majority or hierarchical. ``P(new, cur)`` reads "``new`` is better than ``cur``".

Theorems (ZooKeeper 3.8.0), each proven for all values by refuting its negation:

- irreflexive: not P(a, a);
- asymmetric: P(a, b) implies not P(b, a);
- transitive: P(a, b) and P(b, c) imply P(a, c);
- total on candidates of non-zero weight: for distinct triples a, b with weight(a.sid), weight(b.sid) != 0,
  P(a, b) or P(b, a);
- lexicographic: for weight(a.sid) != 0, P(a, b) iff (peerEpoch, zxid, sid) of a is lexicographically
  greater than that of b, the latter stated independently as one 192-bit unsigned comparison;
- weight-0 never wins: weight(a.sid) == 0 implies not P(a, b).

Mutants: ``ZK-1419`` (3.4.0-3.4.3: the third clause lacks ``newEpoch == curEpoch``) and ``ZK-498``
(before 3.2.1: no weight-0 guard).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import z3

from zkfle.errors import UserInputError
from zkfle.proofs.query import Outcome, solve

LONG_BITS = 64
SCOPE = "all 64-bit Java longs"


@dataclass(frozen=True)
class SymVote:
    """A vote's ordering fields as 64-bit symbols (``Vote.getId``, ``getZxid``, ``getPeerEpoch``)."""

    name: str
    sid: z3.BitVecRef
    zxid: z3.BitVecRef
    peer_epoch: z3.BitVecRef

    @classmethod
    def fresh(cls, name: str) -> SymVote:
        return cls(
            name,
            z3.BitVec(f"{name}.sid", LONG_BITS),
            z3.BitVec(f"{name}.zxid", LONG_BITS),
            z3.BitVec(f"{name}.peerEpoch", LONG_BITS),
        )

    def fields(self) -> tuple[z3.BitVecRef, z3.BitVecRef, z3.BitVecRef]:
        return (self.sid, self.zxid, self.peer_epoch)

    def differs_from(self, other: SymVote) -> z3.BoolRef:
        return z3.Or([x != y for x, y in zip(self.fields(), other.fields(), strict=True)])


Weight: TypeAlias = z3.FuncDeclRef
Predicate: TypeAlias = Callable[[Weight, SymVote, SymVote], z3.BoolRef]


def weight_function() -> Weight:
    """``QuorumVerifier.getWeight``: any function from sids to weights."""
    return z3.Function("weight", z3.BitVecSort(LONG_BITS), z3.BitVecSort(LONG_BITS))


def total_order_predicate(weight: Weight, new: SymVote, cur: SymVote) -> z3.BoolRef:
    # FastLeaderElection.totalOrderPredicate (3.8.0, L723-748)
    return z3.And(
        weight(new.sid) != 0,
        z3.Or(
            new.peer_epoch > cur.peer_epoch,
            z3.And(
                new.peer_epoch == cur.peer_epoch,
                z3.Or(new.zxid > cur.zxid, z3.And(new.zxid == cur.zxid, new.sid > cur.sid)),
            ),
        ),
    )


def predicate_zk1419(weight: Weight, new: SymVote, cur: SymVote) -> z3.BoolRef:
    # FastLeaderElection.totalOrderPredicate as in 3.4.0-3.4.3 (ZOOKEEPER-1419)
    return z3.And(
        weight(new.sid) != 0,
        z3.Or(
            new.peer_epoch > cur.peer_epoch,
            z3.And(new.peer_epoch == cur.peer_epoch, new.zxid > cur.zxid),
            z3.And(new.zxid == cur.zxid, new.sid > cur.sid),
        ),
    )


def predicate_zk498(weight: Weight, new: SymVote, cur: SymVote) -> z3.BoolRef:
    # FastLeaderElection.totalOrderPredicate without the weight-0 guard (before ZOOKEEPER-498/491)
    return z3.Or(
        new.peer_epoch > cur.peer_epoch,
        z3.And(
            new.peer_epoch == cur.peer_epoch,
            z3.Or(new.zxid > cur.zxid, z3.And(new.zxid == cur.zxid, new.sid > cur.sid)),
        ),
    )


MUTANTS: dict[str, Predicate] = {"ZK-1419": predicate_zk1419, "ZK-498": predicate_zk498}


def lexicographically_greater(a: SymVote, b: SymVote) -> z3.BoolRef:
    """(peerEpoch, zxid, sid) of ``a`` > that of ``b``, as one unsigned 192-bit comparison.

    Flipping the sign bit maps signed order onto unsigned order; concatenating puts peerEpoch in the most
    significant bits. This is deliberately a different formulation from the nested clauses of the predicate.
    """
    sign = z3.BitVecVal(1 << (LONG_BITS - 1), LONG_BITS)

    def key(v: SymVote) -> z3.BitVecRef:
        return z3.Concat(v.peer_epoch ^ sign, v.zxid ^ sign, v.sid ^ sign)

    return z3.UGT(key(a), key(b))


@dataclass(frozen=True)
class Theorem:
    """A property of the predicate and the negation whose satisfiability refutes it."""

    name: str
    votes: int
    negation: Callable[[Predicate, Weight, list[SymVote]], z3.BoolRef]


def _irreflexive(p: Predicate, w: Weight, v: list[SymVote]) -> z3.BoolRef:
    return p(w, v[0], v[0])


def _asymmetric(p: Predicate, w: Weight, v: list[SymVote]) -> z3.BoolRef:
    return z3.And(p(w, v[0], v[1]), p(w, v[1], v[0]))


def _transitive(p: Predicate, w: Weight, v: list[SymVote]) -> z3.BoolRef:
    return z3.And(p(w, v[0], v[1]), p(w, v[1], v[2]), z3.Not(p(w, v[0], v[2])))


def _total(p: Predicate, w: Weight, v: list[SymVote]) -> z3.BoolRef:
    a, b = v
    return z3.And(
        w(a.sid) != 0, w(b.sid) != 0, a.differs_from(b), z3.Not(p(w, a, b)), z3.Not(p(w, b, a))
    )


def _lexicographic(p: Predicate, w: Weight, v: list[SymVote]) -> z3.BoolRef:
    a, b = v
    return z3.And(w(a.sid) != 0, p(w, a, b) != lexicographically_greater(a, b))


def _weight_zero_never_wins(p: Predicate, w: Weight, v: list[SymVote]) -> z3.BoolRef:
    a, b = v
    return z3.And(w(a.sid) == 0, p(w, a, b))


THEOREMS: tuple[Theorem, ...] = (
    Theorem("irreflexive", 1, _irreflexive),
    Theorem("asymmetric", 2, _asymmetric),
    Theorem("transitive", 3, _transitive),
    Theorem("total on non-zero weight", 2, _total),
    Theorem("lexicographic on (peerEpoch, zxid, sid)", 2, _lexicographic),
    Theorem("weight-0 candidate never wins", 2, _weight_zero_never_wins),
)

_NAMES = "abc"


def _signed(model: z3.ModelRef, term: z3.BitVecRef) -> int:
    value = model.eval(term, model_completion=True)
    assert isinstance(value, z3.BitVecNumRef)
    return int(value.as_signed_long())


def _decoder(
    predicate: Predicate, weight: Weight, votes: list[SymVote]
) -> Callable[[z3.ModelRef], tuple[dict[str, Any], list[str]]]:
    def decode(model: z3.ModelRef) -> tuple[dict[str, Any], list[str]]:
        data: dict[str, Any] = {"votes": {}, "better": {}}
        lines: list[str] = []
        for v in votes:
            sid, zxid, epoch = (_signed(model, f) for f in v.fields())
            w = _signed(model, weight(v.sid))
            data["votes"][v.name] = {"sid": sid, "zxid": zxid, "peerEpoch": epoch, "weight": w}
            lines.append(
                f"vote {v.name}: leader sid={sid}, zxid={zxid:#x}, peerEpoch={epoch}  (weight({sid})={w})"
            )
        for x in votes:
            for y in votes:
                if x is y and len(votes) > 1:
                    continue
                holds = z3.is_true(model.eval(predicate(weight, x, y), model_completion=True))
                data["better"][f"{x.name}>{y.name}"] = holds
                lines.append(f"totalOrderPredicate(new={x.name}, cur={y.name}) = {str(holds).lower()}")
        return data, lines

    return decode


def _readable(votes: list[SymVote], weight: Weight) -> list[list[z3.BoolRef]]:
    """Tiers of constraints for readable witnesses: small non-negative fields and weights 0/1 first,
    then small signed values."""
    natural: list[z3.BoolRef] = []
    small: list[z3.BoolRef] = []
    for v in votes:
        for f in v.fields():
            natural += [f >= 0, f <= 8]
            small += [f >= -8, f <= 8]
        natural += [weight(v.sid) >= 0, weight(v.sid) <= 1]
        small += [weight(v.sid) >= -8, weight(v.sid) <= 8]
    return [natural, small]


def predicate_for(mutant: str | None) -> Predicate:
    if mutant is None:
        return total_order_predicate
    try:
        return MUTANTS[mutant]
    except KeyError:
        raise UserInputError(
            f"--mutant {mutant!r}: unknown mutant of totalOrderPredicate (choose from {', '.join(MUTANTS)})"
        ) from None


def prove_order(mutant: str | None = None, *, out_dir: Path | None = None) -> list[Outcome]:
    """Check every theorem of the vote order against ZooKeeper 3.8.0's predicate (or a mutant)."""
    predicate = predicate_for(mutant)
    scope = SCOPE if mutant is None else f"{SCOPE}, mutant {mutant}"
    outcomes: list[Outcome] = []
    for theorem in THEOREMS:
        weight = weight_function()
        votes = [SymVote.fresh(_NAMES[i]) for i in range(theorem.votes)]
        outcomes.append(
            solve(
                f"totalOrderPredicate {theorem.name}",
                scope,
                [theorem.negation(predicate, weight, votes)],
                _decoder(predicate, weight, votes),
                out_dir=out_dir,
                refine=_readable(votes, weight),
            )
        )
    return outcomes
