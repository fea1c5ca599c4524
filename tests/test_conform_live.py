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
@pytest.mark.parametrize("name", ["ZK-1419", "no-finalize-wait", "ZK-275", "ZK-159"])
def test_mutant_traces_diverge_on_real_zookeeper(name: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "r.json"
    code = main(["conform", "--target", "zookeeper", "--mutant", name, "--count", "1", "--no-confirm",
                 "--json", str(report)])
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
