"""Successors handed between workers as component ids (the claim protocol under the step memo).

Rules:

- A worker searching with the step memo announces a successor it does not own as four machine words in
  per-owner arrays (``Announcements``): its fingerprint, its parent's global id, its position among the
  parent's successors, and a reference to the step's remembered change (shared with the memo). No state,
  no ids and no dict entry per successor: 28 bytes, where the dict entry used before took about 325
  (``sys.getsizeof``: the fingerprint int 36, the entry list 88, an array of 13 ids 144, the parent id
  28, the dict's slot about 30).
  A fingerprint announced twice is announced twice; the owner claims the first and calls the second
  already reached, which is what de-duplicating at the sender did.
- A claimed successor travels as its component ids *in the sender's table*, with every component the
  owner has not yet received from that sender (``PartsSender``); the owner maps the sender's ids to its
  own (``PartsReceiver``), storing each new component in its table. Ids stay process-local: a mapping is
  per (sender, owner) pair and never leaves it.
- Fingerprints travel with the claimed ids, so the owner's frontier keeps them and nothing is hashed again.

Theory of operation. FLE's 3-server search meets a few hundred distinct components, so after the first
levels a claimed state costs 13 ids on the wire instead of a marshalled kilobyte of tuples, and the
coordinator, which holds one level's traffic, holds 52 bytes per claimed state instead of that kilobyte.
"""

from __future__ import annotations

from array import array
from typing import Any

from zkfle.model.explorer.collapse import ID_TYPECODE, ComponentTable

# A batch of claimed states for one owner: (new parts as (sender id, part) pairs, the states' ids
# concatenated, their fingerprints, parent global ids and positions), all marshal-able.
Batch = tuple[list[tuple[int, Any]], bytes, bytes, bytes, bytes]


class Announcements:
    """The successors one worker announced to one owner during a level, in announcement order."""

    __slots__ = ("changes", "fps", "gids", "positions")

    def __init__(self) -> None:
        self.fps = array("Q")
        self.gids = array("q")
        self.positions = array("I")
        self.changes: list[tuple[tuple[int, int], ...]] = []  # the memo's own tuples, shared

    def add(self, fp: int, gid: int, pos: int, changed: tuple[tuple[int, int], ...]) -> None:
        self.fps.append(fp)
        self.gids.append(gid)
        self.positions.append(pos)
        self.changes.append(changed)

    def __len__(self) -> int:
        return len(self.fps)


class PartsSender:
    """Which of this worker's components each owner has already received."""

    def __init__(self, table: ComponentTable, parts: int) -> None:
        self.table = table
        self.sent: list[set[int]] = [set() for _ in range(parts)]

    def pack(self, owner: int, states: list[list[int]], fps: array[int], gids: array[int],
             positions: array[int]) -> Batch:
        """The batch carrying ``states`` (each a list of this worker's component ids) to ``owner``."""
        sent = self.sent[owner]
        new_parts: list[tuple[int, Any]] = []
        flat = array(ID_TYPECODE)
        stored = self.table.parts
        for ids in states:
            for cid in ids:
                if cid not in sent:
                    sent.add(cid)
                    new_parts.append((cid, stored[cid]))
            flat.extend(ids)
        return new_parts, flat.tobytes(), fps.tobytes(), gids.tobytes(), positions.tobytes()


class PartsReceiver:
    """Per sender, the sender's component ids -> this worker's own."""

    def __init__(self, table: ComponentTable, parts: int) -> None:
        self.table = table
        self.mine: list[dict[int, int]] = [{} for _ in range(parts)]

    def unpack(self, sender: int, batch: Batch) -> tuple[list[list[int]], array[int], array[int], array[int]]:
        """The states of ``batch`` as lists of this worker's ids, with their fingerprints, parents and
        positions."""
        new_parts, flat_bytes, fps_bytes, gids_bytes, pos_bytes = batch
        mine = self.mine[sender]
        intern = self.table.intern
        for cid, part in new_parts:
            mine[cid] = intern(part)
        flat = array(ID_TYPECODE)
        flat.frombytes(flat_bytes)
        fps, gids, positions = array("Q"), array("q"), array("I")
        fps.frombytes(fps_bytes)
        gids.frombytes(gids_bytes)
        positions.frombytes(pos_bytes)
        width = len(flat) // len(fps) if len(fps) else 0
        translate = mine.__getitem__
        states = [list(map(translate, flat[k * width : (k + 1) * width])) for k in range(len(fps))]
        return states, fps, gids, positions
