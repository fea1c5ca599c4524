"""Pure zkfle ensembles of real ``zkfle node`` processes on loopback: the seed's stories, 4lw, bad input."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from zkfle.impl.cluster import LocalEnsemble
from zkfle.impl.fourlw import NOT_SERVING, ask


def _zkfle(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "zkfle", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def _decisive_votes(log: str) -> set[tuple[int, int, int]]:
    """(leader, zxid, peerEpoch) of every LOOKING notification a node logged."""
    pattern = re.compile(r"n\.state:LOOKING, n\.leader:(\d+), n\.round:0x[0-9a-f]+, "
                         r"n\.peerEpoch:0x([0-9a-f]+), n\.zxid:0x([0-9a-f]+)")
    return {(int(m[1]), int(m[3], 16), int(m[2], 16)) for m in pattern.finditer(log)}


def test_three_servers_first_start_elect_2_then_3_follows(tmp_path: Path) -> None:
    # The seed's first start: 1 and 2 vote (1, 0) and (2, 0); 2 wins on myid; 3 joins later as a follower.
    with LocalEnsemble(tmp_path, 3) as ens:
        ens.start([1, 2])
        assert ens.wait_leader(20) == 2
        ens.start([3])
        statuses = ens.wait_for(lambda st: st[3] is not None and bool(st[3].get("established")), 20)
        assert statuses[3] is not None and statuses[3]["state"] == "FOLLOWING"
        assert ens.leader() == 2
        # 4lw as people use them: Mode lines on the serving nodes.
        assert "Mode: leader" in ask("127.0.0.1", ens.nodes[2].client_port, "srvr")
        assert "Mode: follower" in ask("127.0.0.1", ens.nodes[3].client_port, "stat")
        assert ask("127.0.0.1", ens.nodes[1].client_port, "ruok") == "imok"


def test_five_servers_reelect_4_after_leader_3_and_5_die(tmp_path: Path) -> None:
    # The seed's re-election: votes (epoch, zxid, myid); after 3 and 5 fail, 4 wins with (1, 120, 4).
    zxids = {1: 100, 2: 110, 3: 130, 4: 120, 5: 110}
    with LocalEnsemble(tmp_path, 5) as ens:
        for sid, zxid in zxids.items():
            ens.set_zxid(sid, zxid)
        # 3 is up first, so that the others cannot elect 4 before they hear 3's better vote.
        ens.start([3])
        ens.wait_for(lambda st: st[3] is not None, 10)
        ens.start([1, 2, 4, 5])
        assert ens.wait_leader(20) == 3
        ens.nodes[3].kill9()
        ens.nodes[5].kill9()
        assert ens.wait_leader(20) == 4
        log4 = ens.nodes[4].log_text()
        # The re-election ran on epoch 1 (established by leader 3) and converged on (4, zxid 120, epoch 1).
        assert (4, 120, 1) in _decisive_votes(ens.nodes[1].log_text())
        assert "LEADING - LEADER ELECTION TOOK" in log4
        statuses = ens.statuses()
        assert statuses[4] is not None and statuses[4]["current_epoch"] == 2
        # The restarted old leader does not disturb the new one.
        ens.nodes[3].start()
        ens.wait_for(lambda st: st[3] is not None and st[3].get("state") == "FOLLOWING"
                     and bool(st[3].get("established")), 20)
        assert ens.leader() == 4


def test_higher_epoch_beats_higher_zxid_and_id(tmp_path: Path) -> None:
    # Negative twin of the zxid rule: an older epoch loses even with the largest zxid and sid.
    with LocalEnsemble(tmp_path, 3) as ens:
        ens.set_zxid(3, 500)
        ens.set_epoch(1, 4)
        ens.start([1])  # up first: 2 and 3 alone would elect 3 before hearing 1's better vote
        ens.wait_for(lambda st: st[1] is not None, 10)
        ens.start([2, 3])
        assert ens.wait_leader(20) == 1


def test_lone_node_stays_looking_and_is_not_serving(tmp_path: Path) -> None:
    with LocalEnsemble(tmp_path, 3) as ens:
        ens.start([1])
        statuses = ens.wait_for(lambda st: st[1] is not None and st[1]["round"] == 1, 10)
        assert statuses[1] is not None and statuses[1]["state"] == "LOOKING"
        port = ens.nodes[1].client_port
        assert ask("127.0.0.1", port, "srvr") == NOT_SERVING
        assert ask("127.0.0.1", port, "stat") == NOT_SERVING
        assert ask("127.0.0.1", port, "ruok") == "imok"
        assert ask("127.0.0.1", port, "xxxx") == ""


def test_json_log_lines_name_notifications_and_state_changes(tmp_path: Path) -> None:
    import json

    with LocalEnsemble(tmp_path, 3, log_format="json") as ens:
        ens.start()
        leader = ens.wait_leader(20)
        ens.stop()
        records = [json.loads(line) for line in ens.nodes[1].log_text().splitlines()]
    events = {r["event"] for r in records}
    assert {"notification", "state", "decided", "established"} <= events
    assert any(r["event"] == "state" and r["state"] == "FOLLOWING" and r["leader"] == leader for r in records)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"zoo.cfg": "tickTime=abc\nserver.1=127.0.0.1:1:2\n"}, "tickTime must be a whole number"),
        ({"zoo.cfg": "server.1=127.0.0.1:5:5\n"}, "must differ"),
        ({"zoo.cfg": "server.1=127.0.0.1:5:6\ndataDir={dir}\n", "myid": "one\n"}, "is not a number"),
        ({"zoo.cfg": "server.1=127.0.0.1:5:6\ndataDir={dir}\n"}, "myid file is missing"),
        ({"zoo.cfg": "server.1=127.0.0.1:5:6\ndataDir={dir}\n", "myid": "7\n"}, "no server.7 line"),
        ({"zoo.cfg": "server.1=127.0.0.1:5:6\n"}, "dataDir is not set"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path: Path, files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text.format(dir=tmp_path))
    result = _zkfle("node", "--config", str(tmp_path / "zoo.cfg"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zkfle: error: ") and message in lines[0]
    assert "Traceback" not in result.stderr


def test_missing_config_file_is_exit_2(tmp_path: Path) -> None:
    result = _zkfle("node", "--config", str(tmp_path / "nope.cfg"))
    assert result.returncode == 2 and "no such file" in result.stderr


@pytest.mark.parametrize("which", ["client", "election"])
def test_port_in_use_is_one_line_and_exit_2(tmp_path: Path, which: str) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        with LocalEnsemble(tmp_path, 1) as ens:
            node = ens.nodes[1]
            text = node.config_path.read_text()
            assert ens.servers is not None
            spec = ens.servers[1]
            if which == "client":
                text = text.replace(f"clientPort={node.client_port}", f"clientPort={taken}")
            else:
                text = text.replace(f":{spec.election_port}:", f":{taken}:")
            node.config_path.write_text(text)
            result = _zkfle("node", "--config", str(node.config_path))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zkfle: error: server 1 cannot listen"), lines
