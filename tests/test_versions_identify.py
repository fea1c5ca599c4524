"""``--identify`` without servers: which profiles an observation set is consistent with, the report, and the
ZK-3537 probe's sequence stepped in the model (it separates the profiles by their knob; the 3-voter twin
does not)."""

from __future__ import annotations

import json
from pathlib import Path

from zkfle.conformance.versions import (
    Identification,
    Observation,
    _fresh_dir,
    consistent_profiles,
    parse_version,
    same_round_observation,
)
from zkfle.model import fle
from zkfle.model.config import Bounds, ModelConfig, default_config
from zkfle.model.fle import FleModel
from zkfle.model.profiles import PROFILES
from zkfle.model.testing import empty_channels, in_flight, message, step, with_channel
from zkfle.model.variant import Variant
from zkfle.model.vote import FOLLOWING, LEADING, LOOKING

ORDER_FIXED = Observation("vote order", True, "peerEpoch outranks sid (ZK-1419 fixed)", "ZK-1419",
                          (("predicate", "3.8.0"),), "never (3, 0)")
ORDER_1419 = Observation("vote order", False, "a larger sid outranks a larger peerEpoch (ZK-1419)", "ZK-1419",
                         (("predicate", "ZK-1419"),), "[(1, 0), (2, 1), (3, 0)]")
SELF_FIXED = Observation("self-leadership", True, "needs FOLLOWING votes of its own round (ZK-1514 fixed)",
                         "ZK-1514", (("check_leader_round_for_self", True),), "followed 3")
VOTE_UPDATED = Observation("election vote after Zab", True, "reports the established epoch (ZK-1732 fixed)",
                           "ZK-1732", (("update_election_vote", True),), "{1: 1, 2: 1, 3: 1}")
VOTE_STALE = Observation("election vote after Zab", False, "reports the election's stale peerEpoch (ZK-1732)",
                         "ZK-1732", (("update_election_vote", False),), "{1: 0, 2: 0, 3: 0}")
SELF_1514 = Observation("self-leadership", False, "leads on FOLLOWING votes of an older round (ZK-1514)",
                        "ZK-1514", (("check_leader_round_for_self", False),), "went LEADING")
SAME_FIXED = same_round_observation("FOLLOWING", moved_to_round_2=False)
SAME_3537 = same_round_observation(None, moved_to_round_2=True)


def test_consistent_profiles() -> None:
    assert consistent_profiles([ORDER_1419, SELF_1514, VOTE_STALE, SAME_3537]) == ("zookeeper-3.4.3",)
    fixed = consistent_profiles([ORDER_FIXED, SELF_FIXED, VOTE_UPDATED])
    assert fixed == ("zookeeper-3.8.0", "zookeeper-3.5.0", "zookeeper-3.4.6")
    # the ZK-3537 probe splits that group: 3.8.0 alone has the fix
    assert consistent_profiles([ORDER_FIXED, SELF_FIXED, VOTE_UPDATED, SAME_FIXED]) == ("zookeeper-3.8.0",)
    assert consistent_profiles([ORDER_FIXED, SELF_FIXED, VOTE_UPDATED, SAME_3537]) == (
        "zookeeper-3.5.0", "zookeeper-3.4.6")
    assert consistent_profiles([ORDER_FIXED, SELF_FIXED, VOTE_STALE, SAME_3537]) == ("zookeeper-3.4.4",)
    assert consistent_profiles([ORDER_FIXED, SELF_1514]) == ()  # no release line did that
    assert consistent_profiles([ORDER_1419, SELF_1514, VOTE_STALE, SAME_FIXED]) == ()  # nor that
    assert len(consistent_profiles([])) == 5


def test_same_round_observation_maps_what_server_1_did_to_the_knob() -> None:
    assert (SAME_FIXED.jira, SAME_FIXED.fixed, SAME_FIXED.knobs) == (
        "ZK-3537", True, (("same_round_check_recvset", True),))
    assert (SAME_3537.fixed, SAME_3537.knobs) == (False, (("same_round_check_recvset", False),))
    assert "moved to round 2" in SAME_3537.evidence
    # twin: a server that went LEADING on a vote for 3 does what no profile does, and says so
    odd = same_round_observation("LEADING", moved_to_round_2=False)
    assert not odd.fixed and "LEADING" in odd.evidence
    assert consistent_profiles([odd]) == ()


def _fle(voters: int, variant: Variant) -> FleModel:
    return FleModel(ModelConfig(default_config(voters, 0), channel="fifo", bounds=Bounds(max_in_flight=4),
                                variant=variant, track_votes=False))


def _fresh_server_1(m: FleModel) -> tuple:
    """Server 1 has taken its own initial vote (round 1); nothing else is in flight."""
    s = with_channel(m, empty_channels(m, m.init_states()[0]), 1, 1, message(LOOKING, 1, 0, 1, 0))
    return step(m, s, ("Deliver", 1, 1))


def _probe_sequence(variant: Variant) -> list[tuple[int, int, tuple[tuple[int, ...], ...]]]:
    """probe_same_round_leader_check in the model: server 1's (state, round, votes sent to 2) after 3's
    LEADING vote and after 3's round-2 vote (when it is still LOOKING)."""
    m = _fle(5, variant)
    s = step(m, with_channel(m, _fresh_server_1(m), 2, 1, message(LOOKING, 3, 0, 1, 0)), ("Deliver", 2, 1))
    assert m.server(s, 1)[fle.PL] == 3  # it adopted 3: its loop-back vote for 3 is in flight
    s = step(m, with_channel(m, s, 1, 2), ("Deliver", 1, 1))
    s = with_channel(m, s, 3, 1, message(LEADING, 3, 0, 1, 0), message(LOOKING, 5, 0, 2, 0))
    seen = []
    for _ in range(2):
        s = step(m, s, ("Deliver", 3, 1))
        server = m.server(s, 1)
        seen.append((server[fle.ST], server[fle.RND], in_flight(m, s, 1, 2)))
        if server[fle.ST] != LOOKING:
            break
    return seen


def test_the_probe_sequence_separates_the_profiles_by_the_zk3537_knob() -> None:
    for name, profile in PROFILES.items():
        seen = _probe_sequence(profile.variant)
        if profile.variant.same_round_check_recvset:
            assert seen == [(FOLLOWING, 1, ())], name  # follows 3 at once
        else:  # stays LOOKING on the LEADING vote; the round-2 vote moves it to round 2, broadcast
            assert seen == [(LOOKING, 1, ()), (LOOKING, 2, (message(LOOKING, 5, 0, 2, 0),))], name


def test_three_voters_would_not_separate_them() -> None:
    # twin: with 3 voters (2 FOLLOWING 3, then 3 LEADING 3 in round 1) outofelection holds both votes,
    # so the pre-3.6.0 path decides at once too: the probe needs five voters
    for variant in (Variant(), Variant(same_round_check_recvset=False)):
        m = _fle(3, variant)
        s = with_channel(m, _fresh_server_1(m), 2, 1, message(FOLLOWING, 3, 0, 1, 0))
        s = step(m, s, ("Deliver", 2, 1))
        s = step(m, with_channel(m, s, 3, 1, message(LEADING, 3, 0, 1, 0)), ("Deliver", 3, 1))
        assert m.server(s, 1)[fle.ST] == FOLLOWING


def test_report_as_table_and_json() -> None:
    ident = Identification(parse_version("3.4.3"), "3.4.0-3.4.5", "zookeeper-3.4.3", (ORDER_1419, SELF_1514),
                           ("zookeeper-3.4.3",))
    table = ident.table()
    assert table.splitlines()[0] == "ZooKeeper 3.4.3 (wire profile 3.4.0-3.4.5)"
    assert "vote order" in table and "(ZK-1419)" in table and "NOT consistent" not in table
    data = json.loads(json.dumps(ident.to_json()))
    assert data["as_expected"] is True and data["consistent_profiles"] == ["zookeeper-3.4.3"]
    assert data["observations"][0]["knobs"] == {"predicate": "ZK-1419"}
    # which profiles a conformance run of it would use: its wire, 3.8.0's model unless --profile says
    assert data["conformance"] == {"wire_profile": "3.4.0-3.4.5", "model_profile": "zookeeper-3.8.0",
                                   "profile_for_this_line": "zookeeper-3.4.3"}
    assert table.splitlines()[-1].endswith("model zookeeper-3.8.0 unless --profile is given "
                                           "(--profile zookeeper-3.4.3 for this release's line)")
    # the twin: a 3.8.0 release needs no --profile hint
    fixed = Identification(parse_version("3.8.0"), "3.5.0+", "zookeeper-3.8.0", (ORDER_FIXED,),
                           ("zookeeper-3.8.0",))
    assert fixed.table().splitlines()[-1].endswith("model zookeeper-3.8.0 unless --profile is given")


def test_report_flags_a_jar_that_lies() -> None:
    # a jar saying 3.8.0 whose server behaves like 3.4.3: the operator must hear about it
    ident = Identification(parse_version("3.8.0"), "3.5.0+", "zookeeper-3.8.0", (ORDER_1419, SELF_1514),
                           consistent_profiles([ORDER_1419, SELF_1514]))
    assert not ident.as_expected
    assert "NOT consistent" in ident.table()
    assert ident.to_json()["as_expected"] is False


def test_every_probe_gets_a_fresh_data_directory(tmp_path: Path) -> None:
    first = _fresh_dir(tmp_path, "vote-order")
    (first / "s1" / "data").mkdir(parents=True)
    (first / "s1" / "data" / "currentEpoch").write_text("1")  # what an earlier probe may leave behind
    second = _fresh_dir(tmp_path, "vote-order")
    assert second != first and second.parent == tmp_path and not any(second.iterdir())
