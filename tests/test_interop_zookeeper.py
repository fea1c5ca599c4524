"""zkfle nodes in one election with real ZooKeeper 3.8.0 servers (Debian's package) on loopback."""

from __future__ import annotations

import contextlib
import re
import time
from pathlib import Path

import pytest

from zkfle.conformance.zkserver import ZooKeeperServer, loopback_servers
from zkfle.impl.cluster import LocalEnsemble

pytestmark = pytest.mark.zookeeper

TICK, INIT, SYNC = 200, 10, 5  # initLimit x tickTime = 2 s


def _wait(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.05)


def _decisions(log: str) -> list[tuple[str, int]]:
    """(state, leader) of every decision a zkfle node logged."""
    found = re.findall(r"(\w+) - LEADER ELECTION TOOK - \d+ MS \(leader (\d+)", log)
    return [(state, int(leader)) for state, leader in found]


def test_zookeeper_with_the_best_vote_leads_two_zkfle_nodes(tmp_path: Path) -> None:
    servers = loopback_servers([1, 2, 3])
    zk = ZooKeeperServer(3, tmp_path / "zk", servers, tick_time=TICK, init_limit=INIT, sync_limit=SYNC)
    with zk, LocalEnsemble(tmp_path / "zkfle", 3, servers=servers, only=[1, 2], tick_time=TICK,
                           init_limit=INIT, sync_limit=SYNC) as ens:
        zk.wait_for_log(r"New election\. My id = 3", timeout=30)
        ens.start()
        # ZooKeeper decides LEADING on the zkfle nodes' votes for it ...
        zk.wait_for_log(r"\] - LEADING$|\] - LEADING - LEADER ELECTION TOOK", timeout=30)
        votes_for_3 = {n.sid for n in zk.notifications() if n.leader == 3 and n.sid in (1, 2)}
        assert votes_for_3, "ZooKeeper logged no notification from a zkfle node naming it"
        # zkfle cannot join with Zab: ZooKeeper's leader times out waiting for its quorum's epochs.
        zk.wait_for_log(r"Timeout while waiting for epoch", timeout=20)
        # ... and the zkfle nodes decide FOLLOWING it, then say they cannot follow a Zab leader.
        for sid in (1, 2):
            node = ens.nodes[sid]
            _wait(lambda node=node: "does not speak Zab" in node.log_text(), 20,
                  f"zkfle node {sid} reports that it cannot follow ZooKeeper")
            log = node.log_text()
            assert ("FOLLOWING", 3) in _decisions(log)
            # It never claims to be established under ZooKeeper's leader.
            assert "of leader 3" not in log


def test_two_zookeepers_and_a_zkfle_node_with_the_lowest_vote_agree(tmp_path: Path) -> None:
    servers = loopback_servers([1, 2, 3])
    limits = {"tick_time": TICK, "init_limit": INIT, "sync_limit": SYNC}
    zks = {sid: ZooKeeperServer(sid, tmp_path / "zk", servers, **limits) for sid in (2, 3)}
    with zks[2], zks[3], LocalEnsemble(tmp_path / "zkfle", 3, servers=servers, only=[1], tick_time=TICK,
                                       init_limit=INIT, sync_limit=SYNC) as ens:
        ens.start()
        modes = {sid: zk.wait_for_mode(timeout=40) for sid, zk in zks.items()}
        assert sorted(modes.values()) == ["follower", "leader"]
        leader = next(sid for sid, mode in modes.items() if mode == "leader")
        node = ens.nodes[1]
        # Once the real ensemble is stable, the zkfle node's decision is FOLLOWING its leader. (It cannot sync
        # with a ZooKeeper leader, so it keeps re-deciding: each new decision must name the same leader.)
        _wait(lambda: _decisions(node.log_text())[-1:] == [("FOLLOWING", leader)], 20,
              f"zkfle node 1 decides FOLLOWING {leader}")
        settled = len(_decisions(node.log_text()))
        _wait(lambda: len(_decisions(node.log_text())) > settled, 20, "zkfle node 1 decides again")
        assert set(_decisions(node.log_text())[settled - 1 :]) == {("FOLLOWING", leader)}
        # The lowest vote never leads.
        assert all(state == "FOLLOWING" for state, _ in _decisions(node.log_text()))
        # The real leader saw the zkfle node's notifications naming it.
        assert any(n.sid == 1 and n.leader == leader for n in zks[leader].notifications())


def test_zkfle_leader_cannot_lead_zookeeper_followers_and_times_out(tmp_path: Path) -> None:
    # zkfle node 3 holds the best vote; the real servers 1 and 2 elect it, but they speak Zab: they cannot
    # join, so the zkfle leader gives up after initLimit x tickTime, as ZooKeeper's leader would.
    servers = loopback_servers([1, 2, 3])
    limits = {"tick_time": TICK, "init_limit": INIT, "sync_limit": SYNC}
    zks = {sid: ZooKeeperServer(sid, tmp_path / "zk", servers, **limits) for sid in (1, 2)}
    ens = LocalEnsemble(tmp_path / "zkfle", 3, servers=servers, only=[3], tick_time=TICK, init_limit=INIT,
                        sync_limit=SYNC)
    with contextlib.ExitStack() as stack, ens:
        # The zkfle node is up first, so the real servers find its vote (the best) when they start.
        ens.start()
        node = ens.nodes[3]
        _wait(lambda: "New election" in node.log_text(), 20, "the zkfle node starts electing")
        stack.enter_context(zks[1])
        stack.enter_context(zks[2])
        _wait(lambda: "Timeout while waiting for epoch from quorum" in node.log_text(), 30,
              "the zkfle leader times out")
        log = node.log_text()
        assert ("LEADING", 3) in _decisions(log)
        assert "a zkfle leader cannot lead" in log
        assert "established epoch" not in log
        # A real server decided FOLLOWING the zkfle node (whichever started first; the other may then have
        # been elected by the two real servers while the zkfle leader waited), on the zkfle node's vote.
        following = re.compile(r"\] - FOLLOWING$")
        followed = [sid for sid, zk in zks.items() if any(following.search(ln) for ln in zk.log_lines())]
        assert followed
        assert all(any(n.sid == 3 and n.leader == 3 for n in zks[sid].notifications()) for sid in followed)
