"""Where the tests find ``shared/`` (read-only reference data): beside the repository, as CI lays it out,
or at /work/shared on a developer's machine."""

from __future__ import annotations

from pathlib import Path

_CANDIDATES = (Path(__file__).resolve().parents[2] / "shared", Path("/work/shared"))


def shared_file(relative: str) -> Path:
    for root in _CANDIDATES:
        path = root / relative
        if path.is_file():
            return path
    searched = ", ".join(str(root / relative) for root in _CANDIDATES)
    raise FileNotFoundError(f"shared reference file {relative!r} not found (looked in {searched})")
