"""Behaviour profiles: the knobs each release line turns, release coverage, and the vote order they give."""

from __future__ import annotations

import argparse
import itertools
from dataclasses import replace

import pytest

from zkfle.errors import UserInputError
from zkfle.model.profiles import (
    ANY,
    DEFAULT_PROFILE,
    PROFILES,
    ZK_3_4_3,
    ZK_3_8_0,
    BehaviourProfile,
    add_profile_argument,
    profile,
    profile_for_release,
    variant_for,
)
from zkfle.model.variant import Variant
from zkfle.model.vote import Predicate, is_total_order, make_predicate

WEIGHTS = {1: 1, 2: 1, 3: 1}


def test_default_is_zookeeper_3_8_0() -> None:
    assert DEFAULT_PROFILE == "zookeeper-3.8.0"
    assert variant_for(DEFAULT_PROFILE) == Variant()
    assert ZK_3_8_0.variant.changes() == {}


def test_3_4_3_undoes_four_fixes() -> None:
    assert ZK_3_4_3.variant.changes() == {
        "predicate": "ZK-1419",
        "check_leader_round_for_self": False,
        "update_election_vote": False,
        "same_round_check_recvset": False,
    }
    assert ZK_3_4_3.mutants == ("ZK-1419", "ZK-1514", "ZK-1732", "ZK-3537")


def test_every_turned_knob_is_explained() -> None:
    for p in PROFILES.values():
        assert len(p.modelled) >= len(p.mutants)
        assert p.not_modelled, f"{p.name} claims to be exact"
        for name in p.mutants:
            assert any(name in line for line in p.modelled), f"{p.name}: {name} is not explained"


def test_profiles_compose_the_registry_mutants() -> None:
    mutants = pytest.importorskip("zkfle.model.mutants")
    for p in PROFILES.values():
        composed = Variant()
        for name in p.mutants:
            composed = replace(composed, **mutants.mutant(name).variant.changes())
        assert composed == p.variant, p.name


@pytest.mark.parametrize(
    ("release", "name"),
    [((3, 4, 0), "zookeeper-3.4.3"), ((3, 4, 3), "zookeeper-3.4.3"), ((3, 4, 4), "zookeeper-3.4.4"),
     ((3, 4, 5), "zookeeper-3.4.4"), ((3, 4, 6), "zookeeper-3.4.6"), ((3, 4, 14), "zookeeper-3.4.6"),
     ((3, 5, 0), "zookeeper-3.5.0"), ((3, 5, 10), "zookeeper-3.5.0"), ((3, 6, 0), "zookeeper-3.8.0"),
     ((3, 8, 0), "zookeeper-3.8.0"), ((3, 9, 3), "zookeeper-3.8.0")],
)
def test_profile_for_release(release: tuple[int, int, int], name: str) -> None:
    assert profile_for_release(release).name == name


def test_releases_are_covered_exactly_once() -> None:
    for minor, micro in itertools.product(range(4, 10), range(0, 16)):
        release = (3, minor, micro)
        assert sum(p.covers(release) for p in PROFILES.values()) == 1, release
    with pytest.raises(UserInputError, match="no behaviour profile"):
        profile_for_release((3, 3, 6))
    assert [p.releases for p in PROFILES.values()] == [
        "3.6.0 and later", "3.5.0-3.5.x", "3.4.6-3.4.x", "3.4.4-3.4.5", "3.4.0-3.4.3"]
    assert ZK_3_4_3.covers((3, 4, 3)) and not ZK_3_4_3.covers((3, 4, ANY))


def test_lookup_and_cli_flag() -> None:
    assert profile("3.4.3") is profile("zookeeper-3.4.3") is ZK_3_4_3
    with pytest.raises(UserInputError, match=r"valid: zookeeper-3\.8\.0"):
        profile("zookeeper-3.2.0")
    parser = argparse.ArgumentParser()
    add_profile_argument(parser)
    assert parser.parse_args([]).profile == DEFAULT_PROFILE
    args = parser.parse_args(["--profile", "zookeeper-3.4.3"])
    assert variant_for(args.profile) is ZK_3_4_3.variant


def test_describe_names_knobs_and_gaps() -> None:
    text = ZK_3_4_3.describe()
    assert text.startswith("zookeeper-3.4.3 (3.4.0-3.4.3)")
    assert "'predicate': 'ZK-1419'" in text and "models: ZK-3537" in text and "not modelled: ZK-2988" in text
    assert "none (ZooKeeper 3.8.0)" in ZK_3_8_0.describe()


# ---------------------------------------------------------------------------------------- the vote order


def _predicate(p: BehaviourProfile) -> Predicate:
    return make_predicate(p.variant, WEIGHTS)


def test_epoch_outranks_sid_only_from_3_4_4() -> None:
    # (leader, zxid, peerEpoch): the probe of tests/test_versions_live.py, in the model's predicate
    high_epoch, high_sid = (2, 0, 1), (3, 0, 0)
    for p in PROFILES.values():
        better = _predicate(p)
        assert better(*high_epoch, *high_sid)  # a higher epoch always wins
        assert better(*high_sid, *high_epoch) is (p is ZK_3_4_3)  # ZK-1419: a higher sid wins back


def test_only_3_4_3_orders_votes_inconsistently() -> None:
    votes = [(s, z, e) for s in (1, 2, 3) for z in (0, 5) for e in (0, 1)]
    for p in PROFILES.values():
        assert is_total_order(_predicate(p), votes) is (p is not ZK_3_4_3), p.name


# --------------------------------------------------------------------------------------- in the model


@pytest.mark.parametrize("name", list(PROFILES))
def test_vote_circle_only_under_3_4_3(name: str) -> None:
    """The model's mixed-epochs scenario (equal zxids, server 1 a currentEpoch ahead) under each profile:
    NoVoteCircle fails under zookeeper-3.4.3 within a few hundred states, and holds in the same BFS prefix
    under every other profile (complete runs: docs/versions.md)."""
    from zkfle.model.explorer import ExploreOptions, explore
    from zkfle.model.scenarios import scenario

    sc = scenario("mixed-epochs")
    model = sc.build(channel="fifo", bounds=sc.bounds, variant=variant_for(name),
                     selected=frozenset({"NoVoteCircle"}), track_votes=True)
    result = explore(model, ExploreOptions(max_states=3000, check_liveness=False, progress=False))
    assert result.verdicts["NoVoteCircle"] == ("violated" if name == "zookeeper-3.4.3" else "holds")
