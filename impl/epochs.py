"""currentEpoch, acceptedEpoch and lastZxid of a zkfle node, kept in its dataDir.

Rules:

- The layout is ZooKeeper's version-2 directory (``QuorumPeer.CURRENT_EPOCH_FILENAME`` and
  ``ACCEPTED_EPOCH_FILENAME``): ``dataDir/version-2/currentEpoch`` and ``dataDir/version-2/acceptedEpoch``,
  each holding one decimal number (``QuorumPeer.writeLongToFile``; a trailing newline is allowed).
- ``dataDir/version-2/lastZxid`` is zkfle's own file: a zkfle node has no transaction log, so the last zxid it
  proposes in its vote is read from there (decimal, or hexadecimal with ``0x``). A missing file means 0.
  The node never writes it; users and tests do, to give nodes the zxids of the seed's stories.
- A missing epoch file reads as the epoch of lastZxid (``QuorumPeer.loadDataBase``); acceptedEpoch is never
  below currentEpoch.
- Every write is atomic (``AtomicFileOutputStream``): write a temporary file in the same directory, fsync
  it, rename it over the target, fsync the directory. A crash at any moment leaves either the old or the new
  value, never a torn or empty file. Temporary files left by a crash are ignored and removed on the next open.

A malformed file is the user's problem (they edited it): ``ConfigError`` naming the file.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from zkfle.errors import ConfigError

VERSION_DIR = "version-2"
CURRENT_EPOCH = "currentEpoch"  # QuorumPeer.CURRENT_EPOCH_FILENAME
ACCEPTED_EPOCH = "acceptedEpoch"  # QuorumPeer.ACCEPTED_EPOCH_FILENAME
LAST_ZXID = "lastZxid"  # zkfle's own: the zxid this node votes with
_TMP_SUFFIX = ".tmp"
_LONG_MIN, _LONG_MAX = -(1 << 63), (1 << 63) - 1


def epoch_of_zxid(zxid: int) -> int:
    """``ZxidUtils.getEpochFromZxid``: the high 32 bits."""
    return zxid >> 32


def write_long_atomic(path: Path, value: int) -> None:
    """``QuorumPeer.writeLongToFile`` through ``AtomicFileWritingIdiom``: old or new value, never torn."""
    if not _LONG_MIN <= value <= _LONG_MAX:
        raise ValueError(f"{value} does not fit a signed 64-bit long")
    directory = path.parent
    tmp = directory / f".{path.name}.{os.getpid()}{_TMP_SUFFIX}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, f"{value}\n".encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_long(path: Path) -> int | None:
    """``QuorumPeer.readLongFromFile``: the number on the first line; None when the file does not exist."""
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read it: {exc}", path=str(path)) from None
    lines = text.splitlines()
    first = lines[0].strip() if lines else ""
    try:
        value = int(first, 16) if first.lower().startswith(("0x", "-0x")) else int(first)
    except ValueError:
        problem = f"expected a number on the first line, got {first!r}"
        raise ConfigError(problem, path=str(path), line=1) from None
    if not _LONG_MIN <= value <= _LONG_MAX:
        raise ConfigError(f"{value} does not fit a signed 64-bit long", path=str(path), line=1)
    return value


class EpochStore:
    """The persistent epochs of one node (``QuorumPeer.getCurrentEpoch`` / ``getAcceptedEpoch``)."""

    def __init__(self, data_dir: str | Path) -> None:
        self.directory = Path(data_dir) / VERSION_DIR
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create {self.directory}: {exc}", path=str(data_dir)) from None
        self._remove_stale_temporaries()
        self._last_zxid = read_long(self.directory / LAST_ZXID) or 0
        # QuorumPeer.loadDataBase: a missing epoch file starts at the epoch of the last zxid.
        zxid_epoch = epoch_of_zxid(self._last_zxid)
        current = read_long(self.directory / CURRENT_EPOCH)
        self._current = zxid_epoch if current is None else current
        accepted = read_long(self.directory / ACCEPTED_EPOCH)
        self._accepted = self._current if accepted is None else accepted
        if self._accepted < self._current:
            raise ConfigError(
                f"the accepted epoch, {self._accepted}, is less than the current epoch, {self._current}",
                path=str(self.directory / ACCEPTED_EPOCH),
            )

    def _remove_stale_temporaries(self) -> None:
        for leftover in self.directory.glob(f".*{_TMP_SUFFIX}"):
            with contextlib.suppress(OSError):
                leftover.unlink()

    @property
    def current_epoch(self) -> int:
        return self._current

    @property
    def accepted_epoch(self) -> int:
        return self._accepted

    @property
    def last_zxid(self) -> int:
        return self._last_zxid

    def set_accepted_epoch(self, epoch: int) -> None:
        """``QuorumPeer.setAcceptedEpoch``: persist, then remember."""
        write_long_atomic(self.directory / ACCEPTED_EPOCH, epoch)
        self._accepted = epoch

    def set_current_epoch(self, epoch: int) -> None:
        """``QuorumPeer.setCurrentEpoch``: persist, then remember."""
        write_long_atomic(self.directory / CURRENT_EPOCH, epoch)
        self._current = epoch
