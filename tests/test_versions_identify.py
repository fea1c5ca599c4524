"""``--identify`` without servers: which profiles an observation set is consistent with, and the report."""

from __future__ import annotations

import json
from pathlib import Path

from zkfle.conformance.versions import (
    Identification,
    Observation,
    _fresh_dir,
    consistent_profiles,
    parse_version,
)

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


def test_consistent_profiles() -> None:
    assert consistent_profiles([ORDER_1419, SELF_1514, VOTE_STALE]) == ("zookeeper-3.4.3",)
    fixed = consistent_profiles([ORDER_FIXED, SELF_FIXED, VOTE_UPDATED])
    assert fixed == ("zookeeper-3.8.0", "zookeeper-3.5.0", "zookeeper-3.4.6")
    assert consistent_profiles([ORDER_FIXED, SELF_FIXED, VOTE_STALE]) == ("zookeeper-3.4.4",)
    assert consistent_profiles([ORDER_FIXED, SELF_1514]) == ()  # no release line did that
    assert len(consistent_profiles([])) == 5


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
