"""The model's traces replayed against zkfle's core: generation, coverage, reading, reports, and the teeth.

Every check that claims to catch something has a twin that must fail: a broken core, mutant traces, a
trace with a wrong step.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from zkfle.cli import main
from zkfle.conformance.core import CoreMachines, replay
from zkfle.conformance.scenarios import SCENARIOS, mutant, mutant_names
from zkfle.conformance.suite import mutant_traces
from zkfle.conformance.trace import load_trace, load_traces
from zkfle.conformance.tracegen import cover, draw, generate
from zkfle.impl.election import FastLeaderElection


def _run_core(paths: list[Path], factory: type[FastLeaderElection] = FastLeaderElection) -> list[bool]:
    machines = CoreMachines(factory)
    return [replay(load_trace(p), machines, target="core", reproduce="").ok for p in paths]


@pytest.fixture(scope="module")
def covering(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("cover")
    paths: list[Path] = []
    for name in SCENARIOS:
        paths += generate(SCENARIOS[name], out / name, count=None, cover_mode=True, seed=7, pool=60).paths
    return paths


def test_every_scenario_covering_traces_conform_on_the_core(covering: list[Path]) -> None:
    assert len(covering) >= len(SCENARIOS)
    assert all(_run_core(covering))


def test_random_walks_conform_on_the_core(tmp_path: Path) -> None:
    paths: list[Path] = []
    for name in ("fresh-3-crash", "joiner-crash-3", "zxids-3"):
        paths += generate(SCENARIOS[name], tmp_path / name, count=20, cover_mode=False, seed=11).paths
    assert all(_run_core(paths))


class _ZeroEpochBlindCore(FastLeaderElection):
    """A broken core: its totalOrderPredicate ignores peerEpoch (zxid, then sid)."""

    def _better(self, new_id: int, new_zxid: int, new_epoch: int, cur_id: int, cur_zxid: int,
                cur_epoch: int) -> bool:
        return new_zxid > cur_zxid or (new_zxid == cur_zxid and new_id > cur_id)


class _NoFinalizeWaitCore(FastLeaderElection):
    """A broken core: a better notification during the finalize wait is discarded like any other."""

    def _pump(self):  # type: ignore[no-untyped-def]
        if self._finalizing and self._recvqueue:
            self._recvqueue.clear()
        return super()._pump()


@pytest.mark.parametrize("broken", [_ZeroEpochBlindCore, _NoFinalizeWaitCore])
def test_a_broken_core_diverges_from_the_correct_models_traces(covering: list[Path], broken: type) -> None:
    assert all(_run_core(covering))  # the real core: every trace conforms
    assert not all(_run_core(covering, broken))  # the broken one: at least one divergence


REQUIRED_MUTANTS = ("ZK-1419", "no-finalize-wait", "ZK-275", "ZK-159")


@pytest.mark.parametrize("name", REQUIRED_MUTANTS)
def test_mutant_traces_diverge_on_the_core_at_the_sut(tmp_path: Path, name: str) -> None:
    mt = mutant_traces(name, tmp_path, count=2, seed=1)
    for p in mt.paths:
        result = replay(load_trace(p), CoreMachines(), target="core", reproduce="")
        assert result.divergence is not None
        assert result.divergence.server == load_trace(p).sut


def test_generation_is_deterministic_per_seed() -> None:
    scen = SCENARIOS["fresh-3"]
    a = [w.actions for w in draw(scen, count=20, seed=5)]
    b = [w.actions for w in draw(scen, count=20, seed=5)]
    c = [w.actions for w in draw(scen, count=20, seed=6)]
    assert a == b
    assert a != c


def test_cover_keeps_every_label_the_pool_reached() -> None:
    walks = draw(SCENARIOS["joiner-crash-3"], count=80, seed=3)
    chosen, reached = cover(walks)
    assert set().union(*(walks[k].labels for k in chosen)) == reached
    assert len(chosen) < len(walks)
    assert "SUT drain/better/requeue" in reached  # the SUT's finalize-wait re-queue is exercised
    # a greedy cover dropping one chosen walk loses a label (each walk was picked for a new label)
    for k in chosen:
        rest = set().union(*(walks[j].labels for j in chosen if j != k))
        assert rest != reached


def test_traces_carry_the_mbt_variables_and_conformance_variables(covering: list[Path]) -> None:
    raw = json.loads(covering[0].read_text())
    wanted = {"servers", "sent", "delivered", "branch", "mbt::actionTaken", "mbt::nondetPicks"}
    assert wanted <= set(raw["vars"])
    second = raw["states"][1]
    assert second["mbt::actionTaken"] == second["#meta"]["action"]
    assert raw["#meta"]["sut"] == load_trace(covering[0]).sut


def test_reader_accepts_plain_json_numbers(covering: list[Path], tmp_path: Path) -> None:
    def plain(v: object) -> object:
        if isinstance(v, dict):
            if set(v) == {"#bigint"}:
                return int(v["#bigint"])
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, list):
            return [plain(x) for x in v]
        return v

    src = covering[0]
    dst = tmp_path / "plain.itf.json"
    dst.write_text(json.dumps(plain(json.loads(src.read_text()))))
    assert load_trace(dst).steps == load_trace(src).steps
    assert all(_run_core([dst]))


def test_a_wrong_step_in_a_trace_is_a_divergence_with_its_step(covering: list[Path], tmp_path: Path) -> None:
    raw = json.loads(covering[0].read_text())
    # the first step where some server sends something: make that send claim another leader
    k = next(i for i, s in enumerate(raw["states"]) if i > 0 and s["sent"])
    raw["states"][k]["sent"][0]["leader"] = {"#bigint": "77"}
    bad = tmp_path / "wrong.itf.json"
    bad.write_text(json.dumps(raw))
    result = replay(load_trace(bad), CoreMachines(), target="core", reproduce="again")
    assert result.divergence is not None
    assert result.divergence.step == k
    assert "leader 77" in result.divergence.expected
    assert result.divergence.reproduce == "again"


def test_unknown_action_is_exit_2_with_one_line(covering: list[Path], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    raw = json.loads(covering[0].read_text())
    raw["states"][2]["#meta"]["action"] = "Teleport"
    (tmp_path / "t.itf.json").write_text(json.dumps(raw))
    assert main(["conform", "--target", "core", "--traces", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown trace action 'Teleport'" in err[0] and "step 2" in err[0]


def test_not_json_and_missing_dir_are_exit_2(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("{not json")
    assert main(["conform", "--target", "core", "--traces", str(tmp_path)]) == 2
    assert main(["conform", "--target", "core", "--traces", str(tmp_path / "nope")]) == 2
    assert main(["conform", "--target", "warp", "--scenario", "fresh-3", "--count", "1"]) == 2
    assert main(["traces", "generate", "--scenario", "nope", "--count", "1", "--out", str(tmp_path)]) == 2


def test_cli_generate_then_conform_json_and_junit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "traces"
    args = ["traces", "generate", "--scenario", "joiner-3", "--cover", "--seed", "4", "--out", str(out)]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "branch coverage:" in text and "SUT Restart" in text
    junit = tmp_path / "j.xml"
    args = ["conform", "--target", "core", "--traces", str(out), "--json", "-", "--junit", str(junit)]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["exit_code"] == 0 and data["summary"]["core"]["passed"] == len(list(out.glob("*.json")))
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0"


def test_cli_mutant_on_core_is_exit_12_with_a_report(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    junit = tmp_path / "j.xml"
    keep = str(tmp_path / "traces")
    args = ["conform", "--target", "core", "--mutant", "ZK-1419", "--junit", str(junit), "--keep", keep]
    assert main(args) == 12
    out = capsys.readouterr().out
    assert "DIVERGES" in out and "reproduce: zkfle conform --target core --traces" in out
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") != "0"


def test_mutant_registry_suggests_a_scenario_for_each_required_mutant() -> None:
    assert set(REQUIRED_MUTANTS) <= set(mutant_names())
    for name in REQUIRED_MUTANTS:
        variant, scen, _ = mutant(name)
        assert variant.changes()
        assert scen.name in SCENARIOS
    with pytest.raises(Exception, match="unknown mutant"):
        mutant("ZK-0")


def test_load_traces_of_a_directory(covering: list[Path]) -> None:
    traces = load_traces(covering[0].parent)
    assert [t.path for t in traces] == sorted(covering[0].parent.glob("*.json"))


def test_generate_with_a_mutant_and_another_sut(tmp_path: Path) -> None:
    out = tmp_path / "m"
    gen = ["traces", "generate", "--count"]
    assert main([*gen, "3", "--scenario", "epochs-3", "--mutant", "ZK-1419", "--out", str(out)]) == 0
    traces = load_traces(out)
    assert all(t.meta["mutant"] == "ZK-1419" for t in traces)
    assert not any(replay(t, CoreMachines(), target="core", reproduce="").ok for t in traces)
    other = tmp_path / "sut3"
    assert main([*gen, "2", "--scenario", "fresh-3", "--sut", "3", "--out", str(other)]) == 0
    assert {t.sut for t in load_traces(other)} == {3}
    # server 1 of epochs-3 does not start fresh: a live target could not run it as the SUT
    assert main([*gen, "1", "--scenario", "epochs-3", "--sut", "1", "--out", str(other)]) == 2
