"""Collapse compression (SPIN's term): queued states kept as small ids of their components.

Rules:

- A model opts in with two functions: ``components(state)``, the parts of a state as a tuple of always
  the same length (FLE: each server, each channel, the counters), and ``assemble(parts)``, its inverse:
  ``assemble(list(components(s))) == s``. The round trip is checked on the initial states; a model
  without the two functions keeps whole states in its frontier (``StateList``).
- A ``ComponentTable`` stores each distinct component once and names it by a small positive int (its
  rank in the table). A queued state is its components' ids: ``width`` entries of an ``array('I')``
  (4 bytes each) instead of the state's own tuples. Ids are local to one process and one search: they
  never travel between workers and never enter a fingerprint (fingerprints are of states, as before).
- An id is found by identity first. The table keeps every component it stores alive, so while an object
  is in the table no other object can have its ``id()``; an object the table does not hold is looked up
  by content (hash and equality), and from then on the stored equal object stands for it.

Theory of operation. States rebuilt from the frontier are made of the table's own objects, and a step
copies the parts it does not change by reference, so encoding a successor finds most of its parts by
identity; only the parts the step rebuilt are hashed. For FLE's 3 servers, a state is 13 components (3
servers, 9 channels, the counters): 52 bytes in the queue instead of about a kilobyte of tuples, while the
whole 3-server search meets only a few hundred distinct servers and channels.
"""

from __future__ import annotations

import marshal
from array import array
from collections.abc import Callable, Iterator
from itertools import repeat
from operator import getitem, itemgetter
from typing import Any

import xxhash

from zkfle.errors import InternalError
from zkfle.model.explorer.fingerprint import MARSHAL_VERSION

ID_TYPECODE = "I"  # unsigned 32-bit: ids up to 4 * 10^9 distinct components
NARROW_TYPECODE = "H"  # a level starts with 2-byte ids while the table holds fewer than 65,536 components
FP_MASK = (1 << 64) - 1
_UNKNOWN = repeat(0)  # dict.get's default for every part: 0 is never an id


class ComponentTable:
    """Every distinct component met so far, once, with its id (its rank; 0 is never an id)."""

    def __init__(self, components: Callable[[Any], Any], assemble: Callable[[list[Any]], Any]) -> None:
        self.components = components
        self.assemble = assemble
        self.width = -1  # set by the first state encoded
        self.parts: list[Any] = [None]  # id -> the stored component (id 0 unused, so ids are truthy)
        self.by_address: dict[int, int] = {}  # id(stored component) -> its id
        self.by_content: dict[Any, int] = {}  # stored component -> its id
        # rows[k][id]: the fingerprint share of component ``id`` at position k (row entry 0 unused)
        self.rows: list[list[int]] = []
        self.hashed = 1  # ids below this have their shares in ``rows``

    @classmethod
    def for_model(cls, model: Any) -> ComponentTable | None:
        """The table for ``model``, or None if the model does not define ``components`` and ``assemble``."""
        components = getattr(model, "components", None)
        assemble = getattr(model, "assemble", None)
        if components is None or assemble is None:
            return None
        return cls(components, assemble)

    def __len__(self) -> int:
        return len(self.parts) - 1

    def intern(self, part: Any) -> int:
        """The id of ``part``, storing it if no equal component is stored yet."""
        known = self.by_content.get(part)
        if known is not None:
            return known
        new_id = len(self.parts)
        self.parts.append(part)
        self.by_content[part] = new_id
        self.by_address[id(part)] = new_id
        return new_id

    def encode(self, state: Any) -> list[int]:
        """The ids of the components of ``state`` (storing the new ones)."""
        parts = self.components(state)
        ids = list(map(self.by_address.get, map(id, parts), _UNKNOWN))  # by identity, at C speed (0: unknown)
        if 0 in ids:  # the parts the step rebuilt: by content
            intern = self.intern
            k = ids.index(0)
            while True:
                ids[k] = intern(parts[k])
                if 0 not in ids:
                    break
                k = ids.index(0, k + 1)
        if len(ids) != self.width:
            self._check_width(state, len(ids))
        return ids

    def fingerprint(self, ids: Any) -> int:
        """The stable 64-bit fingerprint of the state whose component ids are ``ids``.

        It is the sum, modulo 2**64, of one share per component: ``xxh3_64(marshal(part), seed=k)`` for
        the part at position k. A share depends on the part's value alone, never on its id, so every
        process and every run agrees. Two states that differ in any part differ in that part's share
        (barring a 64-bit collision), so the sum is as good a fingerprint as one hash of the whole
        state, and a step that changes two parts changes the sum by two differences known in advance
        (``steps.py``).
        """
        if self.hashed < len(self.parts):
            self._hash_new()
        shares: Any = map(getitem, self.rows, ids)
        return sum(shares) & FP_MASK

    def share(self, k: int, cid: int) -> int:
        """The fingerprint share of component ``cid`` at position ``k``."""
        if self.hashed < len(self.parts):
            self._hash_new()
        return self.rows[k][cid]

    def _hash_new(self) -> None:
        if not self.rows:
            if self.width < 0:
                raise InternalError("fingerprint asked before any state was encoded (ours)")
            self.rows = [[0] for _ in range(self.width)]
        hash64 = xxhash.xxh3_64_intdigest
        for cid in range(self.hashed, len(self.parts)):
            data = marshal.dumps(self.parts[cid], MARSHAL_VERSION)
            for k, row in enumerate(self.rows):
                row.append(hash64(data, seed=k))
        self.hashed = len(self.parts)

    def decode(self, ids: Any) -> Any:
        """The state whose component ids are ``ids`` (built from the stored components)."""
        return self.assemble(list(map(self.parts.__getitem__, ids)))

    def check_round_trip(self, state: Any) -> None:
        """Raise ``InternalError`` if ``assemble(components(state))`` is not ``state`` (the model's fault)."""
        if self.assemble(list(self.components(state))) != state:
            raise InternalError(
                "the model's assemble(components(state)) does not give the state back (model's fault): "
                f"{state!r:.80}"
            )

    def _check_width(self, state: Any, count: int) -> None:
        if self.width < 0:
            self.width = count
            return
        raise InternalError(
            f"the model's components() gave {count} parts where earlier states had {self.width} "
            f"(model's fault): {state!r:.80}"
        )


class StateList(list[Any]):
    """A BFS level holding whole states (models without ``components``)."""


class CollapsedStates:
    """A BFS level holding states as component ids (``width`` ids per state, one flat array)."""

    def __init__(self, table: ComponentTable) -> None:
        self.table = table
        self.ids = array(NARROW_TYPECODE if len(table.parts) <= 0xFFFF else ID_TYPECODE)
        # the states' fingerprints, when whoever filled the level had them all (the step memo's search)
        self.fps = array("Q")

    def append(self, state: Any) -> None:
        self.extend(self.table.encode(state))

    def extend(self, ids: list[int]) -> None:
        """Queue one state's ids (widening the level to 4-byte ids when one no longer fits in 2)."""
        try:
            self.ids.extend(ids)
        except OverflowError:
            self.widen(len(self.ids) // len(ids) * len(ids))  # whole states only
            self.ids.extend(ids)

    def widen(self, size: int) -> None:
        """Keep the first ``size`` ids (array.extend may have put some of a failed state's in) as 4 bytes."""
        del self.ids[size:]
        self.ids = array(ID_TYPECODE, self.ids)

    def __len__(self) -> int:
        width = self.table.width
        return len(self.ids) // width if width > 0 else 0

    def __getitem__(self, k: int) -> Any:
        width = self.table.width
        if not 0 <= k < len(self):
            raise IndexError(k)
        return self.table.decode(self.ids[k * width : (k + 1) * width])

    def __iter__(self) -> Iterator[Any]:
        width = self.table.width
        ids = self.ids
        decode = self.table.decode
        for start in range(0, len(ids), width):
            yield decode(ids[start : start + width])

    def memory_bytes(self) -> int:
        return self.ids.itemsize * len(self.ids)


def new_level(table: ComponentTable | None) -> StateList | CollapsedStates:
    """An empty BFS level: collapsed if the model has components, else a plain list of states."""
    return StateList() if table is None else CollapsedStates(table)


class InvariantMemo:
    """Invariants evaluated once per distinct combination of the components they read.

    A model may say, per invariant, which positions of ``components(state)`` it reads
    (``invariant_reads(name) -> tuple[int, ...] | None``; None: the whole state). Such an invariant is a
    function of those components only, so its verdict is cached under their ids: FLE's invariants read
    the servers alone, and the 154,053 states of its 3-server search hold only 8,375 distinct triples of
    servers. The model's declaration is trusted: an invariant that reads more than it declares would be
    judged on the first state seen with the same declared components.
    """

    def __init__(self, model: Any, invariants: tuple[tuple[str, Callable[[Any], bool]], ...]) -> None:
        reads = getattr(model, "invariant_reads", None)
        self.names = tuple(name for name, _ in invariants)
        groups: dict[tuple[int, ...], list[tuple[str, Callable[[Any], bool]]]] = {}
        direct: list[tuple[str, Callable[[Any], bool]]] = []
        for name, invariant in invariants:
            positions = reads(name) if reads is not None else None
            if positions:
                groups.setdefault(tuple(positions), []).append((name, invariant))
            else:
                direct.append((name, invariant))
        # per group: a key function over the ids, the invariants, and key -> names violated
        self.groups: list[tuple[Callable[[list[int]], Any], tuple[tuple[str, Callable[[Any], bool]], ...],
                                dict[Any, tuple[str, ...]]]] = [
            (_key_of(positions), tuple(group), {}) for positions, group in groups.items()
        ]
        self.direct = tuple(direct)
        self.ints: dict[int, int] = {}  # each id once, as the remembered keys share it

    def _lean(self, key: Any) -> Any:
        """``key`` made of shared int objects (ids read off an array are fresh ints, 28 bytes each)."""
        ints = self.ints
        if isinstance(key, int):
            return ints.setdefault(key, key)
        return tuple(ints.setdefault(x, x) for x in key)

    def single_group(self) -> tuple[Callable[[list[int]], Any], dict[Any, tuple[str, ...]]] | None:
        """(key function, verdicts) when every invariant is in one memoised group, else None: then a
        state's verdict is ``verdicts[key(ids)]`` once known (the step memo's search inlines that)."""
        if len(self.groups) != 1 or self.direct:
            return None
        key_of, _, known = self.groups[0]
        return key_of, known

    def failed(self, state: Any, ids: list[int]) -> list[str]:
        """The names of the invariants ``state`` (whose component ids are ``ids``) violates, in order."""
        return self.failed_lazily(ids, lambda: state)

    def failed_lazily(self, ids: list[int], state_of: Callable[[], Any]) -> list[str]:
        """``failed``, building the state (``state_of()``) only if some invariant must really run."""
        failed: list[str] = []
        state = None
        for key_of, group, known in self.groups:
            key = key_of(ids)
            verdict = known.get(key)
            if verdict is None:
                state = state_of() if state is None else state
                verdict = tuple(name for name, invariant in group if not invariant(state))
                known[self._lean(key)] = verdict
            if verdict:
                failed += verdict
        if self.direct:
            state = state_of() if state is None else state
            for name, invariant in self.direct:
                if not invariant(state):
                    failed.append(name)
        if len(failed) > 1:
            failed.sort(key=self.names.index)  # the order of the checks, as without the memo
        return failed


def _key_of(positions: tuple[int, ...]) -> Callable[[list[int]], Any]:
    """The ids at ``positions`` as a hashable key (a tuple, or one int)."""
    return itemgetter(*positions)
