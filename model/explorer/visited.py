"""The visited set of a search without liveness: 64-bit fingerprints, 8 bytes each once their level closes.

Rules:

- The fingerprints of the level being built are in a Python ``set`` (``building``): the search adds one
  per admitted state and asks about every successor, so this must be fast.
- ``close_level()`` moves them into the *archive*: 256 sorted ``array('Q')`` buckets, chosen by the
  fingerprint's top byte, 8 bytes per fingerprint. A lookup there is one ``bisect`` in one bucket.
- ``fp in visited`` asks the set first, then the archive. Nothing is ever removed.

Theory of operation. A Python set of ints costs 70-110 bytes per fingerprint (the int object, 32-48
bytes, and its slot at a load between 1/3 and 3/5, which resizes by 4x while below 50,000 entries);
sorted machine words cost 8. Only the level being built pays the set's price. Closing a level rebuilds
each bucket it touches as one sort of two sorted runs (timsort merges them in one pass), bucket by
bucket, so the transient copy is one bucket's worth, not the whole archive. Summed over a search the
rebuilds copy each fingerprint once per later level: for FLE's 3 servers (154,053 states, 33 levels)
that is a few million word copies, a small part of the search.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left

BUCKET_BITS = 8
BUCKET_SHIFT = 64 - BUCKET_BITS


class VisitedSet:
    """Fingerprints seen so far: the level being built in a set, the closed levels in sorted arrays."""

    def __init__(self) -> None:
        self.building: set[int] = set()
        self.archive: list[array[int]] = [array("Q") for _ in range(1 << BUCKET_BITS)]
        self.archived = 0

    def __contains__(self, fp: int) -> bool:
        return fp in self.building or self.in_archive(fp)

    def __len__(self) -> int:
        return self.archived + len(self.building)

    def in_archive(self, fp: int) -> bool:
        """Was ``fp`` reached in a closed level?"""
        bucket = self.archive[fp >> BUCKET_SHIFT]
        k = bisect_left(bucket, fp)
        return k < len(bucket) and bucket[k] == fp

    def add(self, fp: int) -> None:
        self.building.add(fp)

    def close_level(self) -> None:
        """Move the fingerprints of the level just built into the archive."""
        groups: dict[int, list[int]] = {}
        for fp in self.building:
            top = fp >> BUCKET_SHIFT
            group = groups.get(top)
            if group is None:
                groups[top] = [fp]
            else:
                group.append(fp)
        archive = self.archive
        for top, group in groups.items():
            merged = archive[top].tolist()
            merged += group
            merged.sort()
            archive[top] = array("Q", merged)
        self.archived += len(self.building)
        self.building = set()

    def memory_bytes(self) -> int:
        """The archive's words (the building set is not counted)."""
        return 8 * self.archived
