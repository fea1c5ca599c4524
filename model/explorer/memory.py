"""Resident memory of this process, for the explorer's bytes-per-state measurements (Linux /proc).

``reset_peak()`` clears the kernel's high-water mark (``echo 5 > /proc/self/clear_refs``), so that
``peak_rss()`` afterwards is the peak since the reset. Where /proc is missing the functions return 0
and the measurements read as unknown (0), never as wrong numbers.
"""

from __future__ import annotations

from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kib(field: str) -> int:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return 0


def rss() -> int:
    """Current resident set size in bytes (0 if unknown)."""
    return _status_kib("VmRSS") * 1024


def peak_rss() -> int:
    """Peak resident set size in bytes since the last ``reset_peak`` (0 if unknown)."""
    return _status_kib("VmHWM") * 1024


def reset_peak() -> bool:
    """Reset the peak to the current RSS; False if the kernel does not allow it."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True
