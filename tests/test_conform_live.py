"""The model's traces against live servers over the election wire: real ZooKeeper 3.8.0 and ``zkfle node``.

The correct model's covering traces pass on both; each required mutant's traces make ``zkfle conform
--target zookeeper --mutant NAME`` exit 12; a trace with one wrong SUT step diverges; a missing Java is
exit 3. Every SUT process is stopped by the harness before the test returns.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zkfle.cli import main
from zkfle.conformance.live import LiveTarget
from zkfle.conformance.scenarios import SCENARIOS
from zkfle.conformance.trace import load_trace
from zkfle.conformance.tracegen import generate

LIVE = ("fresh-3", "fresh-3-high", "epochs-3", "joiner-3", "joiner-crash-3")


@pytest.fixture(scope="module")
def covering(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("live-traces")
    for name in LIVE:
        generate(SCENARIOS[name], out, count=None, cover_mode=True, seed=2, pool=80)
    return out


def _results(kind: str, paths: list[Path]) -> list[tuple[str, bool, str]]:
    traces = [load_trace(p) for p in paths]
    results = LiveTarget(kind, lanes=2).run(traces, "zkfle conform --target " + kind + " --traces {path}")
    return [(r.trace, r.ok, r.divergence.text() if r.divergence else "") for r in results]


@pytest.mark.zookeeper
def test_correct_traces_conform_on_real_zookeeper(covering: Path) -> None:
    results = _results("zookeeper", sorted(covering.glob("*.json")))
    assert len(results) >= len(LIVE)
    assert [r for r in results if not r[1]] == []


def test_correct_traces_conform_on_zkfle_node(covering: Path) -> None:
    results = _results("node", sorted(covering.glob("*.json")))
    assert [r for r in results if not r[1]] == []


@pytest.mark.zookeeper
@pytest.mark.parametrize("name", ["ZK-1419", "no-finalize-wait", "ZK-275", "ZK-159", "ZK-3537"])
def test_mutant_traces_diverge_on_real_zookeeper(name: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "r.json"
    code = main(["conform", "--target", "zookeeper", "--mutant", name, "--count", "1", "--no-confirm",
                 "--json", str(report), "--keep", str(tmp_path / "traces")])
    assert code == 12, capsys.readouterr().out
    data = json.loads(report.read_text())
    assert data["summary"]["zookeeper"]["diverged"] == 1


@pytest.mark.zookeeper
def test_a_wrong_sut_step_diverges_on_real_zookeeper(covering: Path, tmp_path: Path) -> None:
    src = sorted(covering.glob("fresh-3-*.json"))[0]
    raw = json.loads(src.read_text())
    sut = raw["#meta"]["sut"]
    # the SUT's initial vote to a played server now claims another leader
    for msg in raw["states"][0]["sent"]:
        if msg["src"] == {"#bigint": str(sut)} and msg["dst"] != msg["src"]:
            msg["leader"] = {"#bigint": "1"} if sut != 1 else {"#bigint": "3"}
    bad = tmp_path / "wrong.itf.json"
    bad.write_text(json.dumps(raw))
    results = _results("zookeeper", [src, bad])
    assert [ok for _, ok, _ in results] == [True, False]
    assert "one of: LOOKING(leader" in results[1][2] or "never sent" in results[1][2]


def test_missing_java_is_exit_3_with_the_install_hint(covering: Path) -> None:
    env = {**os.environ, "PATH": "/nonexistent"}
    proc = subprocess.run([sys.executable, "-m", "zkfle", "conform", "--target", "zookeeper", "--traces",
                           str(sorted(covering.glob("*.json"))[0])], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 3
    assert "apt-get install" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("name", ["no-finalize-wait", "ZK-1419"])
def test_mutant_traces_diverge_on_zkfle_node(name: str, tmp_path: Path) -> None:
    args = ["--count", "1", "--no-confirm", "--keep", str(tmp_path)]
    assert main(["conform", "--target", "node", "--mutant", name, *args]) == 12


def test_log_watcher_reads_zookeeper_and_node_lines(tmp_path: Path) -> None:
    from zkfle.conformance.live import LogWatcher

    log = tmp_path / "sut.log"
    log.write_text(
        "2026-11-27 09:39:02,920 [myid:2] - INFO  [QuorumPeer[myid=2](plain=127.0.0.1:54357)"
        "(secure=disabled):FastLeaderElection@946] - New election. My id = 2, proposed zxid=0x0\n"
        "2026-11-27 09:39:02,944 [myid:2] - INFO  [WorkerReceiver[myid=2]:FastLeaderElection$Messenger$"
        "WorkerReceiver@391] - Notification: my state:LOOKING; n.sid:3, n.state:LEADING, n.leader:3, "
        "n.round:0x1f, n.peerEpoch:0x1, n.zxid:0x100000003, message format version:0x2, "
        "n.config version:0x0\n"
        "2026-11-27 09:39:03,161 [myid:2] - INFO  - Peer state changed: following\n"
        "2026-11-27 09:39:03,400 [myid:2] - INFO  [QuorumPeer@917] - "
        "Peer state changed: following - discovery\n"
        "2026-11-27 09:39:03,5"
    )
    w = LogWatcher(log)
    w.poll()
    assert [x.new_election for x in w.lines] == [True, False, False, False]
    n = w.lines[1]
    assert (n.sid, n.body) == (3, (2, 3, 0x100000003, 0x1F, 1))
    assert w.lines[2].state == 1 and w.last_state() == 1
    assert w.lines[2].ms is not None and n.ms is not None and w.lines[2].ms - n.ms == 217
    with log.open("a") as f:  # the partial last line is read once it is complete
        f.write("00 [myid:2] - INFO  - Peer state changed: looking\n")
    w.poll()
    assert w.last_state() == 0 and len(w.lines) == 5
