"""Quorum verifiers: the one place zkfle decides what a quorum is.

Mirrors ZooKeeper 3.8.0's ``QuorumVerifier`` family (``quorum/flexible/``). ``zkfle.model``,
``zkfle.proofs`` and ``zkfle.impl`` all use these classes; nothing else in zkfle counts votes.

- ``QuorumMaj``: a set is a quorum when it has more than ``len(voters) // 2`` members
  (``QuorumMaj.containsQuorum``). Every server weighs 1 (``QuorumMaj.getWeight``).
- ``QuorumHierarchical``: ``group.N``/``weight.N``. A set is a quorum when more than half of the
  non-zero-weight groups each hold more than half their group's weight
  (``QuorumHierarchical.containsQuorum``). A voter without a ``weight.N`` line weighs 1. Weights are
  summed and halved as Java ``long``s (wrap-around on overflow, division truncating toward zero), as the
  Java code does: huge weights can overflow a group's weight, and ZooKeeper then accepts odd quorums.

Like the Java code, ``contains_quorum`` looks only at the members it is given; callers (ZooKeeper's
``SyncedLearnerTracker.addAck``) pass voters only. ``acks_of`` does that filtering for you.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol


class QuorumVerifier(Protocol):
    """What FLE needs from a quorum system (``QuorumVerifier.java``)."""

    @property
    def voting_members(self) -> frozenset[int]: ...

    @property
    def observing_members(self) -> frozenset[int]: ...

    @property
    def version(self) -> int: ...

    def weight(self, sid: int) -> int:
        """``getWeight``: 1 for QuorumMaj; the configured weight for QuorumHierarchical."""
        ...

    def contains_quorum(self, members: Iterable[int]) -> bool:
        """``containsQuorum``: is this set of sids a quorum?"""
        ...


def acks_of(qv: QuorumVerifier, sids: Iterable[int]) -> frozenset[int]:
    """The sids that count toward a quorum: voters only (``SyncedLearnerTracker.addAck``)."""
    voters = qv.voting_members
    return frozenset(s for s in sids if s in voters)


def has_quorum(qv: QuorumVerifier, sids: Iterable[int]) -> bool:
    """``hasAllQuorums`` for a static config: the voters among ``sids`` form a quorum."""
    return qv.contains_quorum(acks_of(qv, sids))


_LONG_BITS = 64


def java_long(value: int) -> int:
    """``value`` wrapped to a signed 64-bit Java ``long`` (two's complement overflow)."""
    return ((value + (1 << (_LONG_BITS - 1))) % (1 << _LONG_BITS)) - (1 << (_LONG_BITS - 1))


def java_div(dividend: int, divisor: int) -> int:
    """Java's integer ``/``: truncates toward zero (Python's ``//`` floors)."""
    quotient = abs(dividend) // abs(divisor)
    return quotient if (dividend >= 0) == (divisor > 0) else -quotient


@dataclass(frozen=True)
class QuorumMaj:
    """``QuorumMaj``: simple majority of the voting members."""

    voters: frozenset[int]
    observers: frozenset[int] = frozenset()
    version: int = 0

    @property
    def voting_members(self) -> frozenset[int]:
        return self.voters

    @property
    def observing_members(self) -> frozenset[int]:
        return self.observers

    @property
    def half(self) -> int:
        """``half = votingMembers.size() / 2`` (QuorumMaj L85)."""
        return len(self.voters) // 2

    def weight(self, sid: int) -> int:
        return 1

    def contains_quorum(self, members: Iterable[int]) -> bool:
        return len(frozenset(members)) > self.half


@dataclass(frozen=True)
class QuorumHierarchical:
    """``QuorumHierarchical``: weighted groups (``group.N=a:b:c``, ``weight.a=w``)."""

    groups: Mapping[int, frozenset[int]]
    weights: Mapping[int, int]
    voters: frozenset[int]
    observers: frozenset[int] = frozenset()
    version: int = 0
    _group_of: dict[int, int] = field(init=False, repr=False, compare=False)
    _group_weight: dict[int, int] = field(init=False, repr=False, compare=False)
    _num_groups: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        group_of: dict[int, int] = {}
        for gid, members in self.groups.items():
            for sid in members:
                group_of[sid] = gid
        # computeGroupWeight(): sum member weights per group; zero-weight groups do not count.
        group_weight = {
            gid: java_long(sum(self.weight(s) for s in members)) for gid, members in self.groups.items()
        }
        num_groups = len(self.groups) - sum(1 for w in group_weight.values() if w == 0)
        object.__setattr__(self, "_group_of", group_of)
        object.__setattr__(self, "_group_weight", group_weight)
        object.__setattr__(self, "_num_groups", num_groups)

    @property
    def voting_members(self) -> frozenset[int]:
        return self.voters

    @property
    def observing_members(self) -> frozenset[int]:
        return self.observers

    @property
    def group_weight(self) -> Mapping[int, int]:
        return dict(self._group_weight)

    @property
    def num_groups(self) -> int:
        """Groups of non-zero weight (``numGroups`` after ``computeGroupWeight``)."""
        return self._num_groups

    def group_of(self, sid: int) -> int | None:
        return self._group_of.get(sid)

    def weight(self, sid: int) -> int:
        return self.weights.get(sid, 1)

    def contains_quorum(self, members: Iterable[int]) -> bool:
        chosen = frozenset(members)
        if not chosen:
            return False
        expansion: dict[int, int] = {}
        for sid in chosen:
            gid = self._group_of.get(sid)
            if gid is None:
                continue
            expansion[gid] = java_long(expansion.get(gid, 0) + self.weight(sid))
        majority_groups = sum(
            1 for gid, w in expansion.items() if w > java_div(self._group_weight[gid], 2)
        )
        return majority_groups > self._num_groups // 2


def minimal_quorums(qv: QuorumVerifier) -> list[frozenset[int]]:
    """Every inclusion-minimal quorum of voters, by enumeration (small configs; tests and the model)."""
    from itertools import combinations

    voters = sorted(qv.voting_members)
    found: list[frozenset[int]] = []
    for size in range(1, len(voters) + 1):
        for combo in combinations(voters, size):
            s = frozenset(combo)
            if qv.contains_quorum(s) and not any(q <= s for q in found):
                found.append(s)
    return found
