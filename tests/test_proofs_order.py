"""Vote-order proofs: the Z3 predicate is pinned to the explicit ones, proofs hold, mutants are refuted."""

from __future__ import annotations

from pathlib import Path

import pytest
import z3
from hypothesis import given, settings
from hypothesis import strategies as st

from zkfle.impl.vote import total_order_predicate as impl_predicate
from zkfle.model.variant import Variant
from zkfle.model.vote import make_predicate
from zkfle.proofs.query import PROVEN, REFUTED, recheck_smt2
from zkfle.proofs.vote_order import (
    MUTANTS,
    SymVote,
    lexicographically_greater,
    prove_order,
    total_order_predicate,
    weight_function,
)
from zkfle.quorum import QuorumHierarchical

LONG_MIN, LONG_MAX = -(1 << 63), (1 << 63) - 1
longs = st.one_of(
    st.integers(LONG_MIN, LONG_MAX),
    st.sampled_from([LONG_MIN, LONG_MIN + 1, -1, 0, 1, LONG_MAX - 1, LONG_MAX]),
    st.integers(-3, 3),
)
triples = st.tuples(longs, longs, longs)


def java_predicate(zero_weight: bool, new: tuple[int, int, int], cur: tuple[int, int, int]) -> bool:
    """The 3.8.0 predicate on (sid, zxid, peerEpoch), written out for the test."""
    if zero_weight:
        return False
    return (new[2], new[1], new[0]) > (cur[2], cur[1], cur[0])


def concrete(
    predicate_name: str | None, weights: dict[int, int], new: tuple[int, ...], cur: tuple[int, ...]
) -> bool:
    """Evaluate the Z3 predicate (3.8.0 or a mutant) on concrete votes and weights."""
    predicate = total_order_predicate if predicate_name is None else MUTANTS[predicate_name]
    sort = z3.BitVecSort(64)
    weight = z3.Function("w", sort, sort)
    a, b = SymVote.fresh("a"), SymVote.fresh("b")
    facts = [f == v for f, v in zip((*a.fields(), *b.fields()), (*new, *cur), strict=True)]
    facts += [weight(z3.BitVecVal(sid, 64)) == w for sid, w in weights.items()]
    solver = z3.Solver()
    solver.add(*facts)
    solver.add(predicate(weight, a, b))
    return solver.check() == z3.sat


@settings(max_examples=60, deadline=None)
@given(new=triples, cur=triples, zero=st.booleans())
def test_symbolic_predicate_agrees_with_impl_and_model(
    new: tuple[int, int, int], cur: tuple[int, int, int], zero: bool
) -> None:
    weights = {new[0]: 0 if zero else 1}
    if cur[0] != new[0]:
        weights[cur[0]] = 1
    qv = QuorumHierarchical(groups={1: frozenset(weights)}, weights=weights, voters=frozenset(weights))
    expected = impl_predicate(qv, *new, *cur)
    assert concrete(None, weights, new, cur) == expected == java_predicate(zero, new, cur)
    model_380 = make_predicate(Variant(), weights)
    assert model_380(*new, *cur) == expected
    # the mutants, pinned to the model's variants
    model_1419 = make_predicate(Variant(predicate="ZK-1419"), weights)
    assert concrete("ZK-1419", weights, new, cur) == model_1419(*new, *cur)
    model_498 = make_predicate(Variant(weight_zero_guard=False), weights)
    assert concrete("ZK-498", weights, new, cur) == model_498(*new, *cur)


@settings(max_examples=40, deadline=None)
@given(a=triples, b=triples)
def test_lexicographic_encoding_is_the_tuple_order(a: tuple[int, int, int], b: tuple[int, int, int]) -> None:
    va, vb = SymVote.fresh("a"), SymVote.fresh("b")
    subst = list(zip((*va.fields(), *vb.fields()), (z3.BitVecVal(x, 64) for x in (*a, *b)), strict=True))
    value = z3.simplify(z3.substitute(lexicographically_greater(va, vb), *subst))
    assert z3.is_true(value) == ((a[2], a[1], a[0]) > (b[2], b[1], b[0]))


def test_zookeeper_380_order_is_proven(tmp_path: Path) -> None:
    outcomes = prove_order(None, out_dir=tmp_path)
    assert len(outcomes) == 6
    assert [o.verdict for o in outcomes] == [PROVEN] * 6
    # every query re-loads from its SMT-LIB file with the same verdict
    for o in outcomes:
        assert o.smt2 is not None and recheck_smt2(o.smt2) == PROVEN


def test_zk1419_asymmetry_refuted_with_a_real_two_vote_witness(tmp_path: Path) -> None:
    outcomes = {o.prop: o for o in prove_order("ZK-1419", out_dir=tmp_path)}
    asym = outcomes["totalOrderPredicate asymmetric"]
    assert asym.verdict == REFUTED and asym.witness is not None
    votes = asym.witness["votes"]
    a = (votes["a"]["sid"], votes["a"]["zxid"], votes["a"]["peerEpoch"])
    b = (votes["b"]["sid"], votes["b"]["zxid"], votes["b"]["peerEpoch"])
    weights = {votes["a"]["sid"]: votes["a"]["weight"], votes["b"]["sid"]: votes["b"]["weight"]}
    mutant = make_predicate(Variant(predicate="ZK-1419"), weights)
    assert mutant(*a, *b) and mutant(*b, *a)  # each beats the other: a vote circle
    assert asym.smt2 is not None and recheck_smt2(asym.smt2) == REFUTED
    # the weight guard is untouched by ZK-1419
    assert outcomes["totalOrderPredicate weight-0 candidate never wins"].verdict == PROVEN


def test_zk498_lets_a_weight_zero_candidate_win(tmp_path: Path) -> None:
    outcomes = {o.prop: o for o in prove_order("ZK-498", out_dir=tmp_path)}
    o = outcomes["totalOrderPredicate weight-0 candidate never wins"]
    assert o.verdict == REFUTED and o.witness is not None
    a = o.witness["votes"]["a"]
    assert a["weight"] == 0 and o.witness["better"]["a>b"] is True
    # the order itself is still a strict total order without the guard
    assert outcomes["totalOrderPredicate asymmetric"].verdict == PROVEN
    assert outcomes["totalOrderPredicate transitive"].verdict == PROVEN


def test_unknown_mutant_is_user_error() -> None:
    from zkfle.errors import UserInputError

    with pytest.raises(UserInputError, match="unknown mutant"):
        prove_order("ZK-9999")


def test_weight_function_is_unconstrained() -> None:
    # the proofs quantify over every getWeight: weight(x) can be anything, including 0 and negatives
    w = weight_function()
    x = z3.BitVec("x", 64)
    solver = z3.Solver()
    solver.add(w(x) == -5, w(x + 1) == 0)
    assert solver.check() == z3.sat
