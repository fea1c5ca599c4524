"""``zkfle conform --target zookeeper ... --identify`` and the release selection flags, through the real CLI.

- ``--identify`` against Debian's ZooKeeper 3.8.0 (a real server, ``zookeeper`` mark) exits 0 and reports the
  3.8.0 behaviours: epoch-first vote order (ZK-1419 fixed), ZK-1514, ZK-1732 and ZK-3537 fixed, and
  zookeeper-3.8.0 alone consistent; the table goes to stdout, the JSON to ``--json FILE``.
- Its negative twins exit 2 with one ``zkfle: error:`` line and no traceback: ``--zookeeper-home`` at an
  empty directory, ``--zookeeper-version 3.4.3`` against the 3.8.0 jar (while 3.8.0 itself is accepted),
  ``--identify`` with a target other than zookeeper.
- With no java on PATH, ``--identify`` exits 3 with the install hint (the twin of the 3.8.0 run).
- Without ``--identify``, a release (a jar built here that states 3.4.3 or 3.9.0) is the live SUT: it is
  announced with its wire profile and started (the fake jar cannot run: exit 3 naming the SUT's log), never
  replaced by Debian's 3.8.0; Debian's own directory passes the release check (the run then stops on the
  empty ``--traces`` directory, a different error). Real runs of 3.4.3 are in test_versions_flip.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from zkfle.conformance.zkserver import ZK_JAR

DEBIAN = ZK_JAR.parent
needs_debian_jar = pytest.mark.skipif(not ZK_JAR.is_file(), reason="Debian's zookeeper.jar is not installed")


def zkfle(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zkfle", *argv], capture_output=True, text=True,
                          timeout=timeout, check=False)


def assert_one_line_error(proc: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zkfle: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def fake_release(root: Path, version: str) -> Path:
    """An unpacked release of the 3.4 layout whose server jar states ``version`` in its manifest and name.
    It is never started: the live release check refuses it before any server runs."""
    (root / "lib").mkdir(parents=True)
    with zipfile.ZipFile(root / f"zookeeper-{version}.jar", "w") as jar:
        jar.writestr("META-INF/MANIFEST.MF", f"Manifest-Version: 1.0\nImplementation-Version: {version}-1\n")
        jar.writestr("org/apache/zookeeper/server/quorum/QuorumPeerMain.class", b"\xca\xfe\xba\xbe")
    for name in ("slf4j-api-1.6.1.jar", "slf4j-log4j12-1.6.1.jar", "log4j-1.2.15.jar"):
        with zipfile.ZipFile(root / "lib" / name, "w") as jar:
            jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
    return root


@pytest.mark.zookeeper
@needs_debian_jar
def test_identify_debian_380_shows_the_fixed_behaviours(tmp_path: Path) -> None:
    out = tmp_path / "identify.json"
    proc = zkfle("conform", "--target", "zookeeper", "--identify", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ZooKeeper 3.8.0 (wire profile 3.5.0+)")
    assert "peerEpoch outranks sid (ZK-1419 fixed)" in proc.stdout
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["version"] == "3.8.0" and report["as_expected"] is True
    shown = {o["jira"]: o for o in report["observations"]}
    assert set(shown) == {"ZK-1419", "ZK-1514", "ZK-1732", "ZK-3537"}
    assert all(o["fixed"] for o in shown.values())
    assert shown["ZK-1419"]["knobs"] == {"predicate": "3.8.0"}  # epoch before sid: the 3.8.0 predicate
    assert shown["ZK-3537"]["knobs"] == {"same_round_check_recvset": True}
    assert report["consistent_profiles"] == ["zookeeper-3.8.0"]
    assert "consistent profiles: zookeeper-3.8.0; zookeeper-3.8.0 expected" in proc.stdout


@pytest.mark.zookeeper
@pytest.mark.skipif(not os.environ.get("ZKFLE_ZK343_HOME"),
                    reason="set ZKFLE_ZK343_HOME to an unpacked ZooKeeper 3.4.3 release (docs/versions.md)")
def test_identify_343_shows_the_old_behaviours() -> None:
    """The twin of the 3.8.0 run on a real 3.4.3 (local runs only: Debian ships 3.8.0 alone)."""
    proc = zkfle("conform", "--target", "zookeeper", "--zookeeper-home", os.environ["ZKFLE_ZK343_HOME"],
                 "--identify", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["version"] == "3.4.3" and report["wire_profile"] == "3.4.0-3.4.5"
    assert not any(o["fixed"] for o in report["observations"])
    assert {o["jira"] for o in report["observations"]} == {"ZK-1419", "ZK-1514", "ZK-1732", "ZK-3537"}
    assert report["consistent_profiles"] == ["zookeeper-3.4.3"]


def test_identify_empty_home_is_one_line_exit_2(tmp_path: Path) -> None:
    proc = zkfle("conform", "--target", "zookeeper", "--zookeeper-home", str(tmp_path), "--identify")
    assert_one_line_error(proc, 2, "--zookeeper-home", "no zookeeper-X.Y.Z.jar")
    assert proc.stdout == ""


def test_identify_missing_home_and_bad_classpath_exit_2(tmp_path: Path) -> None:
    proc = zkfle("conform", "--target", "zookeeper", "--zookeeper-home", str(tmp_path / "nope"), "--identify")
    assert_one_line_error(proc, 2, "not a directory")
    proc = zkfle("conform", "--target", "zookeeper", "--zookeeper-classpath", str(tmp_path / "x.jar"),
                 "--identify")
    assert_one_line_error(proc, 2, "--zookeeper-classpath", "no ZooKeeper server jar")


@needs_debian_jar
def test_version_contradicting_the_jar_exits_2(tmp_path: Path) -> None:
    proc = zkfle("conform", "--target", "zookeeper", "--zookeeper-version", "3.4.3", "--identify")
    assert_one_line_error(proc, 2, "--zookeeper-version 3.4.3 contradicts", "Info.class says 3.8.0")
    # the twin: the version the jar states passes the check (the run then stops on the empty traces dir)
    proc = zkfle("conform", "--target", "zookeeper", "--zookeeper-version", "3.8.0",
                 "--traces", str(tmp_path))
    line = assert_one_line_error(proc, 2, "no *.json trace files")
    assert "contradicts" not in line


def test_identify_needs_the_zookeeper_target() -> None:
    proc = zkfle("conform", "--target", "node", "--identify")
    assert_one_line_error(proc, 2, "--target zookeeper")


@pytest.mark.parametrize(("version", "wire"), [("3.4.3", "3.4.0-3.4.5"), ("3.9.0", "3.5.0+")])
def test_a_release_is_started_as_the_live_sut_not_debians(tmp_path: Path, version: str, wire: str) -> None:
    """The release named is the one started (its fake jar cannot run: exit 3 naming that SUT's log), never
    Debian's 3.8.0 instead; the announcement names its wire profile and the profile its version maps to."""
    home = fake_release(tmp_path / f"zookeeper-{version}", version)
    traces = tmp_path / "traces"
    gen = zkfle("traces", "generate", "--scenario", "fresh-3", "--count", "1", "--out", str(traces))
    assert gen.returncode == 0, gen.stderr
    proc = zkfle("conform", "--target", "zookeeper", "--zookeeper-home", str(home), "--traces", str(traces),
                 "--lanes", "1")
    line = assert_one_line_error(proc, 3, "the zookeeper SUT (server 2) exited")
    assert f"SUT: ZooKeeper {version} ({home}/zookeeper-{version}.jar), wire profile {wire}" in proc.stdout
    assert "model: the traces' own" in proc.stdout
    log = Path(line.split("see ", 1)[1].strip())  # kept for a post-mortem: the fake class was loaded
    try:
        assert "Truncated class file" in log.read_text(encoding="utf-8", errors="replace")
    finally:
        shutil.rmtree(log.parents[2], ignore_errors=True)


@needs_debian_jar
def test_debian_home_passes_the_live_release_check(tmp_path: Path) -> None:
    proc = zkfle("conform", "--target", "zookeeper", "--zookeeper-home", str(DEBIAN),
                 "--traces", str(tmp_path))
    line = assert_one_line_error(proc, 2, "no *.json trace files")
    assert "Debian" not in line and "wire profile" not in line


def test_release_flags_need_the_zookeeper_target(tmp_path: Path) -> None:
    proc = zkfle("conform", "--target", "core", "--zookeeper-home", str(tmp_path), "--traces", str(tmp_path))
    assert_one_line_error(proc, 2, "--zookeeper-home", "--target zookeeper")


def test_identify_without_java_exits_3(tmp_path: Path) -> None:
    """No java on PATH is the machine's problem, not the user's flags: exit 3 with the install hint."""
    proc = subprocess.run([sys.executable, "-m", "zkfle", "conform", "--target", "zookeeper", "--identify"],
                          capture_output=True, text=True, timeout=60, check=False,
                          env={"PATH": str(tmp_path), "HOME": str(tmp_path)})
    assert_one_line_error(proc, 3, "no 'java' executable", "apt-get install")
