"""The visited set of a search without liveness: 64-bit fingerprints, 8 bytes each once their level closes.

Rules:

- The fingerprints of the level being built are in Python sets (``building``, 16 shards chosen by the
  fingerprint's top 4 bits): the search adds one per admitted state and asks about every successor, so
  this must be fast. A set's table quadruples at each resize below 50,000 entries, so one set
  swings between about 1.7 and 6.7 slots per entry; 16 smaller ones resize at different moments, which
  evens out the peak (the 3-server FLE search: about 4 bytes per state less at its peak).
- ``close_level()`` moves them to ``recent``, another set, and when ``recent`` has grown to an eighth of
  the archive, into the *archive*: 256 sorted ``array('Q')`` buckets, chosen by the fingerprint's top
  byte, 8 bytes per fingerprint. A lookup there is one ``bisect`` in one bucket.
- ``fp in visited`` asks the sets first, then the archive. Nothing is ever removed.

Theory of operation. A Python set of ints costs 70-110 bytes per fingerprint (the int object, 32-48
bytes, and its slot at a load between 1/3 and 3/5, which resizes by 4x while below 50,000 entries);
sorted machine words cost 8. Only the newest fingerprints (the level being built, and at most an
eighth of the archive in ``recent``) pay the set's price. A merge rebuilds each bucket as one sort of
two sorted runs (timsort merges them in one pass), bucket by bucket, so the transient copy is one
bucket's worth, not the whole archive. Merging only once ``recent`` is an eighth of the archive keeps
the total work linear: the archive grows by a factor 9/8 per merge, so each fingerprint is copied
about nine times over a search, however many levels it has (merging at every level copied each
fingerprint once per later level, which doubled the CPU time of a 300-level toy search).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left

BUCKET_BITS = 8
BUCKET_SHIFT = 64 - BUCKET_BITS
MERGE_FRACTION = 8  # merge ``recent`` into the archive once it holds archived / MERGE_FRACTION
MERGE_AT_LEAST = 4096  # ... and at least this many fingerprints
SHARD_BITS = 4
SHARD_SHIFT = 64 - SHARD_BITS
SHARDS = 1 << SHARD_BITS


class VisitedSet:
    """Fingerprints seen so far: the level being built in a set, the closed levels in sorted arrays."""

    def __init__(self) -> None:
        # the level being built, in SHARDS sets chosen by the fingerprint's top bits (see below)
        self.building: list[set[int]] = [set() for _ in range(SHARDS)]
        self.recent: set[int] = set()  # closed levels not merged into the archive yet
        self.archive: list[array[int]] = [array("Q") for _ in range(1 << BUCKET_BITS)]
        self.archived = 0

    def __contains__(self, fp: int) -> bool:
        return fp in self.building[fp >> SHARD_SHIFT] or fp in self.recent or self.in_archive(fp)

    def __len__(self) -> int:
        return self.archived + len(self.recent) + sum(map(len, self.building))

    def in_archive(self, fp: int) -> bool:
        """Was ``fp`` reached in a closed level?"""
        bucket = self.archive[fp >> BUCKET_SHIFT]
        k = bisect_left(bucket, fp)
        return k < len(bucket) and bucket[k] == fp

    def add(self, fp: int) -> None:
        self.building[fp >> SHARD_SHIFT].add(fp)

    def close_level(self) -> None:
        """Close the level just built; merge the closed levels into the archive when they are many."""
        for shard in self.building:
            self.recent |= shard
        self.building = [set() for _ in range(SHARDS)]
        if len(self.recent) >= max(MERGE_AT_LEAST, self.archived // MERGE_FRACTION):
            self.merge()

    def merge(self) -> None:
        """Move every closed level's fingerprints into the archive."""
        groups: dict[int, list[int]] = {}
        for fp in self.recent:
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
        self.archived += len(self.recent)
        self.recent = set()

    def memory_bytes(self) -> int:
        """The archive's words (the building set is not counted)."""
        return 8 * self.archived
