"""impl/epochs.py: the epoch files survive kill -9 at any moment, and bad files are reported."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zkfle.errors import ConfigError
from zkfle.impl.epochs import (
    ACCEPTED_EPOCH,
    CURRENT_EPOCH,
    LAST_ZXID,
    EpochStore,
    read_long,
    write_long_atomic,
)

_WRITER = """
import sys
from pathlib import Path
from zkfle.impl.epochs import write_long_atomic
path, start = Path(sys.argv[1]), int(sys.argv[2])
print("ready", flush=True)
value = start
while True:
    value += 1
    write_long_atomic(path, value)
"""


def test_missing_files_start_from_the_epoch_of_last_zxid(tmp_path: Path) -> None:
    (tmp_path / "version-2").mkdir()
    (tmp_path / "version-2" / LAST_ZXID).write_text("0x300000078\n")
    store = EpochStore(tmp_path)
    assert (store.last_zxid, store.current_epoch, store.accepted_epoch) == (0x300000078, 3, 3)


def test_epochs_round_trip_through_a_new_store(tmp_path: Path) -> None:
    store = EpochStore(tmp_path)
    assert (store.current_epoch, store.accepted_epoch, store.last_zxid) == (0, 0, 0)
    store.set_accepted_epoch(7)
    store.set_current_epoch(7)
    again = EpochStore(tmp_path)
    assert (again.current_epoch, again.accepted_epoch) == (7, 7)
    assert (tmp_path / "version-2" / CURRENT_EPOCH).read_text() == "7\n"


def test_accepted_below_current_is_refused(tmp_path: Path) -> None:
    (tmp_path / "version-2").mkdir()
    (tmp_path / "version-2" / CURRENT_EPOCH).write_text("5")
    (tmp_path / "version-2" / ACCEPTED_EPOCH).write_text("4")
    with pytest.raises(ConfigError, match="accepted epoch, 4, is less than the current epoch, 5"):
        EpochStore(tmp_path)


@pytest.mark.parametrize("content", ["", "seven\n", "12abc", str(1 << 63)])
def test_torn_or_malformed_file_is_reported_not_guessed(tmp_path: Path, content: str) -> None:
    # The negative twin of the crash test: a torn file (what a naive writer leaves) does not parse.
    target = tmp_path / CURRENT_EPOCH
    target.write_text(content)
    with pytest.raises(ConfigError, match=CURRENT_EPOCH):
        read_long(target)


def test_kill_9_while_writing_never_tears_the_file(tmp_path: Path) -> None:
    target = tmp_path / CURRENT_EPOCH
    write_long_atomic(target, 0)
    rng = random.Random(1234)
    last_seen = 0
    advanced = 0
    for _ in range(25):
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(target), str(last_seen)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.0, 0.03))
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        value = read_long(target)
        # Old or new: never below what a finished write left, never a value nobody wrote.
        assert value is not None and value >= last_seen
        advanced += value > last_seen
        last_seen = value
    assert advanced > 0
