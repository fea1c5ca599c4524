"""The verdict flip of issue 7, on real servers: a conformance trace judges a release by the model it came
from, so the same traces pass on one release line and fail on the other.

Traces (``epochs-3``: the SUT, server 2, is fresh; played server 1 starts with currentEpoch 1; seed 1):

- ``zookeeper-3.8.0`` model traces in which the SUT would act differently under ``zookeeper-3.4.3``
  (``--distinguish-from``): they hinge on ZK-1419 (peerEpoch outranks sid in 3.8.0 only), checked here by
  the judge finding the same difference against a model with ZK-1419's predicate alone;
- ``zookeeper-3.4.3`` model traces in which the SUT would act differently under ``zookeeper-3.8.0``.

Debian's 3.8.0 (``zookeeper`` mark, CI): the 3.8.0 traces pass and at least one 3.4.3 trace fails, in one
``LiveTarget`` run (one JVM). ZooKeeper 3.4.3 (``ZKFLE_ZK343_HOME``, skipped without it) is the twin: the
3.4.3 traces pass and at least one 3.8.0 trace fails, spoken to in its own wire profile; the same through
``zkfle conform --zookeeper-home ... --profile ... --distinguish-from ...`` (exit 0, then 12). Releases in
``ZKFLE_ZOOKEEPER_HOMES`` of the 3.5+ line must pass the 3.8.0 model's covering traces of ``fresh-3``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from zkfle.conformance.live import LiveTarget
from zkfle.conformance.report import TraceResult
from zkfle.conformance.scenarios import SCENARIOS
from zkfle.conformance.suite import distinguishing_traces
from zkfle.conformance.trace import load_trace
from zkfle.conformance.tracegen import generate
from zkfle.conformance.versions import ZooKeeperRelease, find_release
from zkfle.model.profiles import variant_for
from zkfle.model.variant import Variant

ZK343_ENV = "ZKFLE_ZK343_HOME"
HOMES_ENV = "ZKFLE_ZOOKEEPER_HOMES"
COUNT = 2  # traces per side: a few seconds on a live SUT
needs_343 = pytest.mark.skipif(
    not os.environ.get(ZK343_ENV),
    reason=f"set {ZK343_ENV} to an unpacked ZooKeeper 3.4.3 release (docs/versions.md)")
OTHER_HOMES = [h for h in os.environ.get(HOMES_ENV, "").split(os.pathsep) if h]


def _flip_traces(out: Path, mine: str, other: str) -> list[Path]:
    paths = distinguishing_traces(SCENARIOS["epochs-3"], out / mine, variant=variant_for(mine),
                                  against=variant_for(other), label=f"{mine}-not-{other}", count=COUNT,
                                  seed=1, meta={"command": "tests/test_versions_flip.py", "profile": mine})
    assert len(paths) == COUNT
    return paths


@pytest.fixture(scope="module")
def flip(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    out = tmp_path_factory.mktemp("flip")
    return {"3.8.0": _flip_traces(out, "zookeeper-3.8.0", "zookeeper-3.4.3"),
            "3.4.3": _flip_traces(out, "zookeeper-3.4.3", "zookeeper-3.8.0")}


def _run(paths: list[Path], release: ZooKeeperRelease | None) -> list[TraceResult]:
    target = LiveTarget("zookeeper", lanes=1, release=release)
    return target.run([load_trace(p) for p in paths], "zkfle conform --target zookeeper --traces {path}")


def _split(results: list[TraceResult], first: int) -> tuple[list[TraceResult], list[TraceResult]]:
    return results[:first], results[first:]


def test_the_3_8_0_flip_traces_hinge_on_zk_1419(flip: dict[str, list[Path]], tmp_path: Path) -> None:
    """The same walks differ from a model with ZK-1419's predicate alone; the twin, a model with every other
    3.4.3 knob but 3.8.0's predicate, lets the SUT act as 3.8.0 does in every walk of the pool."""
    scen, correct = SCENARIOS["epochs-3"], Variant()

    def walks(against: Variant, count: int) -> list[str]:
        paths = distinguishing_traces(scen, tmp_path / str(against.changes()), variant=correct,
                                      against=against, label="x", count=count, seed=1, pool=200)
        return [p.name.split("-s1-")[1] for p in paths]

    assert walks(Variant(predicate="ZK-1419"), COUNT) == [p.name.split("-s1-")[1] for p in flip["3.8.0"]]
    assert walks(Variant(check_leader_round_for_self=False, update_election_vote=False), 1) == []


@pytest.mark.zookeeper
def test_on_3_8_0_the_3_8_0_traces_pass_and_a_3_4_3_trace_fails(flip: dict[str, list[Path]]) -> None:
    ours, theirs = _split(_run(flip["3.8.0"] + flip["3.4.3"], None), COUNT)
    assert [r.divergence.text() for r in ours if r.divergence] == []
    assert not any(r.notes for r in ours)
    assert any(not r.ok for r in theirs), "no 3.4.3-profile trace diverged on ZooKeeper 3.8.0"


@pytest.mark.zookeeper
@needs_343
def test_on_3_4_3_the_3_4_3_traces_pass_and_a_3_8_0_trace_fails(flip: dict[str, list[Path]]) -> None:
    release = find_release(os.environ[ZK343_ENV])
    assert release.version.triple == (3, 4, 3)
    ours, theirs = _split(_run(flip["3.4.3"] + flip["3.8.0"], release), COUNT)
    assert [r.divergence.text() for r in ours if r.divergence] == []
    assert any(not r.ok for r in theirs), "no 3.8.0-model trace diverged on ZooKeeper 3.4.3"


@pytest.mark.zookeeper
@pytest.mark.parametrize("home", OTHER_HOMES or [pytest.param("", marks=pytest.mark.skip(
    reason=f"set {HOMES_ENV} to unpacked releases (docs/versions.md)"))])
def test_a_3_5_plus_release_conforms_to_the_3_8_0_model(home: str, tmp_path: Path) -> None:
    release = find_release(home)
    if release.version.triple < (3, 5, 0):
        pytest.skip(f"{home} is {release.version}: the 3.8.0 model does not describe it")
    paths = generate(SCENARIOS["fresh-3"], tmp_path, count=None, cover_mode=True, seed=1, pool=80).paths
    results = _run(paths, release)
    assert [r.divergence.text() for r in results if r.divergence] == []


@pytest.mark.zookeeper
@needs_343
def test_the_cli_flips_the_verdict_on_3_4_3(tmp_path: Path) -> None:
    """``zkfle conform --zookeeper-home`` end to end: the 3.4.3 profile's distinguishing traces pass on
    3.4.3 (exit 0), the 3.8.0 model's fail (exit 12); the SUT line names the model each run judged by."""

    def conform(*model: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "zkfle", "conform", "--target", "zookeeper",
                               "--zookeeper-home", os.environ[ZK343_ENV], "--scenario", "epochs-3",
                               "--count", str(COUNT), "--lanes", "1", "--no-confirm", *model],
                              capture_output=True, text=True, timeout=300, check=False)

    ours = conform("--profile", "zookeeper-3.4.3", "--distinguish-from", "zookeeper-3.8.0")
    assert ours.returncode == 0, ours.stdout + ours.stderr
    assert "wire profile 3.4.0-3.4.5" in ours.stdout and "model: zookeeper-3.4.3" in ours.stdout
    theirs = conform("--distinguish-from", "zookeeper-3.4.3")
    assert theirs.returncode == 12, theirs.stdout + theirs.stderr
    assert "model: zookeeper-3.8.0 (--profile zookeeper-3.4.3 judges it by that)" in theirs.stdout


@pytest.mark.zookeeper
@needs_343
def test_zk_3537_mutant_traces_pass_on_3_4_3(tmp_path: Path) -> None:
    """The twin of ``test_mutant_traces_diverge_on_real_zookeeper[ZK-3537]`` (3.8.0, exit 12): 3.4.3 still
    has ZK-3537, so the same mutant's traces conform there."""
    done = subprocess.run([sys.executable, "-m", "zkfle", "conform", "--target", "zookeeper",
                           "--zookeeper-home", os.environ[ZK343_ENV], "--mutant", "ZK-3537", "--count", "1",
                           "--no-confirm", "--keep", str(tmp_path / "traces")],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
