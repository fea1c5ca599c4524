"""``zkfle cluster --script``: the seed's stories replayed by hand, and scripts that must fail."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

FIRST_START = """\
# The seed's first start: servers 1 and 2 elect 2; server 3 starts later and follows it.
start 1
start 2
expect-leader 2 20
start 3
expect-state 3 FOLLOWING 20
expect-leader 2
"""

REELECT = """\
set-zxid 1 100
set-zxid 2 110
set-zxid 3 130
start 3
expect-state 3 LOOKING 10
start 1
start 2
expect-leader 3 20
k 3
wait-leader 20
expect-leader 2
"""


def _cluster(tmp_path: Path, script: str, *flags: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "story.txt"
    path.write_text(script)
    cmd = [sys.executable, "-m", "zkfle", "cluster", *flags, "--script", str(path),
           "--workdir", str(tmp_path / "work")]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_first_start_story_passes(tmp_path: Path) -> None:
    result = _cluster(tmp_path, FIRST_START, "--servers", "3")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "leader is 2" in result.stdout and "node 3 is FOLLOWING" in result.stdout


def test_kill_leader_story_passes(tmp_path: Path) -> None:
    result = _cluster(tmp_path, REELECT, "--servers", "3")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "killed 3" in result.stdout and "leader is 2" in result.stdout


def test_wrong_expectation_fails_with_exit_1(tmp_path: Path) -> None:
    # Negative twin: the same story expecting the wrong leader must fail.
    wrong = FIRST_START.replace("expect-leader 2 20", "expect-leader 1 20")
    result = _cluster(tmp_path, wrong, "--servers", "3")
    assert result.returncode == 1
    assert "expected leader 1, but the leader is 2" in result.stderr


@pytest.mark.parametrize(
    ("script", "message"),
    [("kill three\n", "'three' is not a whole number"), ("jump 3\n", "unknown command 'jump'"),
     ("expect-state 2 SLEEPING\n", "is not one of"), ("kill\n", "kill takes 1..1 arguments")],
)
def test_bad_script_is_one_line_and_exit_2(tmp_path: Path, script: str, message: str) -> None:
    result = _cluster(tmp_path, "start 1\n" + script, "--servers", "3")
    assert result.returncode == 2
    assert result.stderr.startswith("zkfle: error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "work" / "s1" / "node.log").exists()  # nothing was started


def test_observer_observes_the_leader_across_a_failover(tmp_path: Path) -> None:
    script = ("wait-leader 20\nexpect-state 4 OBSERVING 20\nkill 3\n"
              "wait-leader 20\nexpect-state 4 OBSERVING 20\n")
    result = _cluster(tmp_path, script, "--servers", "3", "--observers", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("node 4 is OBSERVING") == 2
    # An observer is never the leader, whatever its sid.
    assert "leader is 4" not in result.stdout


def test_keyboard_commands_from_stdin(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "zkfle", "cluster", "--servers", "3", "--workdir", str(tmp_path / "work")]
    result = subprocess.run(cmd, input="wait-leader 20\nk 1\nstatus\nq\n", capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "killed 1 (SIGKILL)" in result.stdout and "1:down" in result.stdout
