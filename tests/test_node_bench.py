"""``zkfle bench-election``: it runs end to end and writes its table; bad flags are exit 2."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "zkfle", "bench-election", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_one_zkfle_run_writes_a_table_with_measurements(tmp_path: Path) -> None:
    out = tmp_path / "bench.md"
    result = _bench("--runs", "1", "--sizes", "3", "--no-zookeeper", "--output", str(out))
    assert result.returncode == 0, result.stderr
    table = out.read_text()
    cell = r" (\d+) \(\d+-\d+\) \|"
    row = re.search(r"^\| zkfle \| 3 \|" + cell * 3 + "$", table, re.M)
    assert row is not None, table
    assert all(int(v) > 0 for v in row.groups())
    assert "ZooKeeper 3.8.0 |" not in table  # --no-zookeeper


def test_bad_flags_are_exit_2(tmp_path: Path) -> None:
    for flags in (["--runs", "0"], ["--sizes", "2"], ["--sizes", "three"]):
        result = _bench(*flags, "--no-zookeeper", "--output", str(tmp_path / "x.md"))
        assert result.returncode == 2 and result.stderr.startswith("zkfle: error: "), flags
    assert not (tmp_path / "x.md").exists()
