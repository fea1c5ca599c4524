"""Quorum proofs: the symbolic verifiers are pinned to zkfle.quorum, and every verdict to brute force."""

from __future__ import annotations

from itertools import product
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zkfle.proofs import catalogue
from zkfle.proofs.query import PROVEN, REFUTED, recheck_smt2
from zkfle.proofs.quorum_system import (
    HALF_INCLUSIVE,
    HalfInclusive,
    SymbolicQuorum,
    all_subsets,
    prove_intersection,
    prove_reconfig,
)
from zkfle.quorum import QuorumVerifier
from zkfle.zoocfg import ZooCfg, majority_config, parse_zoo_cfg


def cfg_text(voters: list[int], observers: list[int] | None = None, extra: list[str] | None = None) -> str:
    observers, extra = observers or [], extra or []
    lines = [f"server.{s}=127.0.0.1:{30000 + 2 * s}:{30001 + 2 * s}" for s in voters]
    lines += [f"server.{s}=127.0.0.1:{30000 + 2 * s}:{30001 + 2 * s}:observer" for s in observers]
    return "\n".join([*lines, *extra]) + "\n"


def disjoint_quorums_exist(qa: QuorumVerifier, qb: QuorumVerifier) -> bool:
    """Brute force: is there a quorum of ``qa`` and a quorum of ``qb`` with no voter in common?"""
    quorums_a = [s for s in all_subsets(qa.voting_members) if qa.contains_quorum(s)]
    quorums_b = [s for s in all_subsets(qb.voting_members) if qb.contains_quorum(s)]
    return any(not (a & b) for a, b in product(quorums_a, quorums_b))


@st.composite
def hierarchical_configs(draw: st.DrawFn) -> ZooCfg:
    voters = draw(st.integers(1, 6))
    observers = draw(st.integers(0, 1))
    groups = draw(st.integers(1, 3))
    assignment = [draw(st.integers(1, groups)) for _ in range(voters)]
    big = 1 << 62
    weights = [draw(st.sampled_from([0, 1, 1, 2, 3, big])) for _ in range(voters)]
    extra = []
    for g in sorted(set(assignment)):
        members = [str(s + 1) for s in range(voters) if assignment[s] == g]
        extra.append(f"group.{g}=" + ":".join(members))
    extra += [f"weight.{s + 1}={w}" for s, w in enumerate(weights)]
    sids = list(range(1, voters + 1))
    return parse_zoo_cfg(cfg_text(sids, list(range(voters + 1, voters + 1 + observers)), extra), "random.cfg")


@st.composite
def majority_configs(draw: st.DrawFn) -> ZooCfg:
    return majority_config(draw(st.integers(1, 7)), draw(st.integers(0, 2)))


any_config = st.one_of(hierarchical_configs(), majority_configs())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=any_config)
def test_symbolic_contains_quorum_agrees_with_verifier_on_every_subset(cfg: ZooCfg) -> None:
    qv = cfg.quorum_verifier()
    sq = SymbolicQuorum.of(cfg)
    mutant = SymbolicQuorum.of(cfg, HALF_INCLUSIVE)
    twin = HalfInclusive(qv)
    for subset in all_subsets(qv.voting_members):
        assert sq.holds(subset) == qv.contains_quorum(subset), sorted(subset)
        if all(qv.weight(s) < (1 << 40) for s in qv.voting_members):  # the twin ignores long overflow
            assert mutant.holds(subset) == twin.contains_quorum(subset), sorted(subset)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=any_config)
def test_intersection_verdict_matches_brute_force(cfg: ZooCfg) -> None:
    qv = cfg.quorum_verifier()
    outcome = prove_intersection(cfg, out_dir=None)
    assert outcome.verdict == (REFUTED if disjoint_quorums_exist(qv, qv) else PROVEN)
    if outcome.verdict == REFUTED:
        assert outcome.witness is not None
        a, b = set(outcome.witness["quorum_a"]), set(outcome.witness["quorum_b"])
        assert qv.contains_quorum(a) and qv.contains_quorum(b) and not a & b


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(old=any_config, new=any_config)
def test_reconfig_verdict_matches_brute_force(old: ZooCfg, new: ZooCfg) -> None:
    qa, qb = old.quorum_verifier(), new.quorum_verifier()
    outcome = prove_reconfig(old, new, out_dir=None)
    assert outcome.verdict == (REFUTED if disjoint_quorums_exist(qa, qb) else PROVEN)
    if outcome.verdict == REFUTED:
        assert outcome.witness is not None
        a, b = set(outcome.witness["quorum_a"]), set(outcome.witness["quorum_b"])
        assert qa.contains_quorum(a) and qb.contains_quorum(b) and not a & b


@pytest.mark.parametrize(("name", "expected"), catalogue.INTERSECTION)
def test_default_configs(name: str, expected: str, tmp_path: Path) -> None:
    outcome = prove_intersection(catalogue.config(name), name=name, out_dir=tmp_path)
    assert outcome.verdict == expected
    assert outcome.smt2 is not None and recheck_smt2(outcome.smt2) == expected


def test_half_inclusive_mutant_is_refuted_on_even_ensembles_only(tmp_path: Path) -> None:
    for voters in (2, 4, 6):
        o = prove_intersection(majority_config(voters), mutant=HALF_INCLUSIVE, out_dir=tmp_path)
        assert o.verdict == REFUTED and o.witness is not None
        assert len(o.witness["quorum_a"]) == len(o.witness["quorum_b"]) == voters // 2
        assert prove_intersection(majority_config(voters), out_dir=tmp_path).verdict == PROVEN
    for voters in (3, 5):  # for odd sizes "at least half" is still a majority
        assert prove_intersection(majority_config(voters), mutant=HALF_INCLUSIVE).verdict == PROVEN


def test_long_overflow_in_weights_gives_disjoint_quorums() -> None:
    # ZooKeeper 3.8.0 sums weights as longs: 2^62 + 2^62 wraps to Long.MIN_VALUE, so {1} and {2} are quorums
    cfg = catalogue.config("overflow")
    o = prove_intersection(cfg)
    assert o.verdict == REFUTED and o.witness is not None
    assert {tuple(o.witness["quorum_a"]), tuple(o.witness["quorum_b"])} <= {(1,), (2,), (3,)}
    # the same config with weights that do not overflow is safe
    weights = ["weight.1=2", "weight.2=2", "weight.3=0"]
    safe = parse_zoo_cfg(cfg_text([1, 2, 3], extra=["group.1=1:2:3", *weights]))
    assert prove_intersection(safe).verdict == PROVEN


def test_zero_weight_groups_do_not_break_intersection() -> None:
    # every group but one has weight 0: the one left decides alone, still by majority
    text = cfg_text(list(range(1, 7)), extra=["group.1=1:2", "group.2=3:4", "group.3=5:6",
                                              "weight.1=0", "weight.2=0", "weight.3=0", "weight.4=0"])
    cfg = parse_zoo_cfg(text)
    assert prove_intersection(cfg).verdict == PROVEN
    assert not disjoint_quorums_exist(cfg.quorum_verifier(), cfg.quorum_verifier())


def test_no_quorum_at_all_is_vacuous_and_said_so() -> None:
    cfg = parse_zoo_cfg(cfg_text([1, 2], extra=["group.1=1:2", "weight.1=0", "weight.2=0"]))
    o = prove_intersection(cfg)
    assert o.verdict == PROVEN and "never elect" in o.note


def test_reconfig_pairs(tmp_path: Path) -> None:
    for old, new, expected in catalogue.RECONFIG:
        o = prove_reconfig(catalogue.config(old), catalogue.config(new), out_dir=tmp_path)
        assert o.verdict == expected
        assert o.smt2 is not None and recheck_smt2(o.smt2) == expected
    # no common member at all: {1,2,3} -> {4,5,6}
    old = parse_zoo_cfg(cfg_text([1, 2, 3]))
    new = parse_zoo_cfg(cfg_text([4, 5, 6]))
    o = prove_reconfig(old, new)
    assert o.verdict == REFUTED and o.witness is not None
    assert set(o.witness["quorum_a"]) <= {1, 2, 3} and set(o.witness["quorum_b"]) <= {4, 5, 6}
    # an observer promoted to voter: 3 voters + observer 4 -> 4 voters is safe
    promoted = prove_reconfig(parse_zoo_cfg(cfg_text([1, 2, 3], [4])), parse_zoo_cfg(cfg_text([1, 2, 3, 4])))
    assert promoted.verdict == PROVEN


def test_hierarchical_25_is_symbolic_not_enumerated() -> None:
    cfg = catalogue.config("hierarchical-25")
    sq = SymbolicQuorum.of(cfg)
    assert len(sq.voters) == 25
    # the formula is built over 25 Bools, whatever the number of subsets (2^25)
    import z3

    formula = sq.contains_quorum(sq.variables("X"))
    names = {str(d) for d in z3.z3util.get_vars(formula)}
    assert names == {f"X.{s}" for s in range(1, 26)}
    assert prove_intersection(cfg).verdict == PROVEN
