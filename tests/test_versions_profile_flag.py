"""``--profile`` (issue 7) on ``zkfle check``, ``zkfle traces generate`` and ``zkfle conform``, and the
``--distinguish-from`` judge (``suite.sut_divergence``), all without servers (the live verdict flip is in
test_versions_flip.py).

- ``zkfle check --profile zookeeper-3.4.3`` finds the ZK-1419 vote circle in ``mixed-epochs`` (exit 12) and
  the counterexample replays with ``zkfle trace show`` (its #meta command carries the flag); the twin, the
  same check under ``--profile zookeeper-3.8.0``, holds.
- An unknown profile is exit 2 with one line listing the profiles, for every command; ``--profile`` with
  ``--mutant`` (two models) or with ``--traces`` (the traces' model is already chosen) is exit 2.
- ``traces generate --profile`` writes that profile's variant into the traces; ``--distinguish-from``
  keeps only walks whose SUT acts differently under the other profile: the 3.4.3 profile's such traces
  diverge on zkfle's 3.8.0 core and the 3.8.0 model's pass it; asking a profile to differ from itself
  finds nothing (exit 2).
- The judge agrees with the 3.8.0 core: every walk whose first core divergence is at the SUT is flagged,
  and no walk is flagged against its own model.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from zkfle.cli import main
from zkfle.conformance.core import CoreMachines, replay
from zkfle.conformance.scenarios import SCENARIOS
from zkfle.conformance.suite import sut_divergence
from zkfle.conformance.trace import load_trace
from zkfle.conformance.tracegen import RecordingModel, walk, walk_to_itf
from zkfle.itf import write_itf
from zkfle.model.profiles import PROFILES, variant_for
from zkfle.model.variant import Variant


def zkfle(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zkfle", *argv], capture_output=True, text=True,
                          timeout=120, check=False)


def one_line_error(proc: subprocess.CompletedProcess[str], *words: str) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zkfle: error: ") and "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def _meta(path: Path) -> dict[str, object]:
    meta = json.loads(path.read_text(encoding="utf-8"))["#meta"]
    assert isinstance(meta, dict)
    return meta


# ------------------------------------------------------------------------------------------ zkfle check


def test_check_profile_3_4_3_finds_the_vote_circle_and_3_8_0_does_not(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["check", "--scenario", "mixed-epochs", "--invariant", "NoVoteCircle"]
    assert main([*base, "--profile", "zookeeper-3.4.3", "--out", str(tmp_path / "343")]) == 12
    cex = tmp_path / "343" / "NoVoteCircle.itf.json"
    assert "--profile zookeeper-3.4.3" in str(_meta(cex)["command"])
    capsys.readouterr()
    assert main(["trace", "show", str(cex)]) == 0
    assert "ZK-1419" in capsys.readouterr().out  # replayed in the 3.4.3 model: the clause is named
    # the twin: the 3.8.0 profile (named explicitly) never circles in the same states
    assert main([*base, "--profile", "zookeeper-3.8.0", "--max-states", "3000",
                 "--out", str(tmp_path / "380")]) == 0
    assert not (tmp_path / "380" / "NoVoteCircle.itf.json").exists()


@pytest.mark.parametrize("argv", [
    ("check", "--scenario", "fresh-3"),
    ("simulate", "--walks", "1"),
    ("traces", "generate", "--scenario", "fresh-3", "--count", "1", "--out", "unused"),
    ("conform", "--target", "core", "--scenario", "fresh-3", "--count", "1"),
])
def test_an_unknown_profile_is_one_line_listing_the_profiles(argv: tuple[str, ...]) -> None:
    line = one_line_error(zkfle(*argv, "--profile", "zookeeper-3.4.2"), "unknown profile 'zookeeper-3.4.2'")
    assert all(name in line for name in PROFILES)


def test_profile_and_another_model_choice_is_exit_2(tmp_path: Path) -> None:
    one_line_error(zkfle("check", "--mutant", "ZK-1419", "--profile", "zookeeper-3.4.3"),
                   "--mutant ZK-1419 and --profile zookeeper-3.4.3")
    one_line_error(zkfle("conform", "--target", "core", "--traces", str(tmp_path), "--profile", "3.4.3"),
                   "--profile", "--traces")
    one_line_error(zkfle("conform", "--target", "core", "--mutant", "ZK-1419", "--profile", "3.4.3"),
                   "--mutant and --profile")
    one_line_error(zkfle("traces", "generate", "--scenario", "epochs-3", "--cover", "--out", str(tmp_path),
                         "--distinguish-from", "zookeeper-3.4.3"), "--distinguish-from needs --count")


# ------------------------------------------------------------------------------- traces and their model


def test_traces_generate_records_the_profiles_variant(tmp_path: Path) -> None:
    for name, out in (("zookeeper-3.4.3", tmp_path / "343"), (None, tmp_path / "380")):
        argv = ["traces", "generate", "--scenario", "epochs-3", "--count", "2", "--out", str(out)]
        assert main([*argv, *(["--profile", name] if name else [])]) == 0
    for path in sorted((tmp_path / "343").glob("*.json")):
        assert _meta(path)["variant"] == {
            "predicate": "ZK-1419", "check_leader_round_for_self": "False", "update_election_vote": "False",
            "same_round_check_recvset": "False"}
    for path in sorted((tmp_path / "380").glob("*.json")):  # the twin: the default is 3.8.0, no knob
        assert _meta(path)["variant"] == {}


def test_distinguishing_traces_split_the_3_8_0_core(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The 3.4.3 profile's traces that differ from 3.8.0 diverge on zkfle's core (3.8.0); the 3.8.0 model's
    traces that differ from 3.4.3 conform to it."""
    common = ["--target", "core", "--scenario", "epochs-3", "--count", "2", "--json", "-"]
    assert main(["conform", *common, "--profile", "zookeeper-3.4.3",
                 "--distinguish-from", "zookeeper-3.8.0", "--keep", str(tmp_path / "343")]) == 12
    report = json.loads(capsys.readouterr().out)
    assert [r["ok"] for r in report["results"]] == [False, False]
    assert main(["conform", *common, "--distinguish-from", "zookeeper-3.4.3",
                 "--keep", str(tmp_path / "380")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["ok"] for r in report["results"]] == [True, True]
    for path in (tmp_path / "380").rglob("*.itf.json"):
        meta = _meta(path)
        assert (meta["profile"], meta["distinguishes_from"]) == ("zookeeper-3.8.0", "zookeeper-3.4.3")
        assert isinstance(meta["distinguishing_step"], int) and meta["distinguishing_step"] > 0


def test_a_profile_never_differs_from_itself(tmp_path: Path) -> None:
    argv = ["traces", "generate", "--scenario", "epochs-3", "--count", "1", "--out", str(tmp_path)]
    one_line_error(zkfle(*argv, "--profile", "zookeeper-3.4.3", "--distinguish-from", "3.4.3"),
                   "no walk of epochs-3", "zookeeper-3.4.3")


# ---------------------------------------------------------------------------------------------- the judge


def test_the_judge_flags_every_walk_the_core_sees_differ_at_the_sut(tmp_path: Path) -> None:
    scen = SCENARIOS["epochs-3"]
    mutant, correct = RecordingModel(scen, variant_for("zookeeper-3.4.3")), RecordingModel(scen, Variant())
    rng = random.Random(3)
    core_saw = flagged = 0
    for k in range(25):
        w = walk(mutant, rng, scen.max_steps)
        step = sut_divergence(mutant, correct, w)
        assert sut_divergence(mutant, mutant, w) is None  # the twin: a model never differs from itself
        path = tmp_path / f"w{k}.itf.json"
        write_itf(path, walk_to_itf(mutant, w, meta={"command": "test"}))
        result = replay(load_trace(path), CoreMachines(), target="core", reproduce="")
        at_sut = result.divergence is not None and result.divergence.server == scen.sut
        core_saw += at_sut
        flagged += step is not None
        if at_sut:
            assert step is not None, f"walk {k}: the core saw the SUT differ, the judge did not"
    assert core_saw > 0 and flagged >= core_saw
