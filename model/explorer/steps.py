"""The step memo: successors computed on component ids, each distinct step effect run once.

Rules:

- A model opts in, on top of collapse compression (``components``/``assemble``), with four functions:
  ``enabled(state)``, the enabled steps in ``successors`` order (guards only, each step a tuple whose
  first item is its action); ``fire(state, step)``, the state the step leads to, or None where a bound
  cuts it; ``guard_reads()``, per component position what ``enabled`` reads of it (None: all of it, or a
  projection function); ``footprint(action)``, the (position, projection or None) pairs the step's effect
  reads. ``successors(state)`` must be ``[(step[0], fire(state, step)) for step in enabled(state)]``
  without the Nones; the tests compare the two on every reachable state of several configurations.
- ``enabled`` is remembered per *guard key*: the ids of the components read whole, and the projections
  of the others. A step's effect is remembered per *footprint key* (the action, then the ids or
  projections of what it reads) as the positions it changes with their new ids, the change of the
  fingerprint, and the action properties it violates among those that read only the changed parts
  (``action_reads_changed_only``). A step that changes a part its footprint does not read whole is the
  model's fault and raises ``InternalError``; a footprint that misses a read cannot be seen here, which
  is what the tests' comparison is for.
- Everything is a pure function of the model and the component table, so the memo changes no state,
  no count and no order: only how often the model's own step functions run.

Theory of operation. FLE's 3-server search makes 596,328 steps among 154,053 states but meets only
13,558 distinct footprints (for a delivery: the receiver, the channel, the channels it sends on, who is
up) and needs ``enabled`` for only 4,582 guard keys: every other step repeats one already run. With the
memo a step costs a key, a dict lookup and an add to the parent's fingerprint; a successor's ids are
built only when its fingerprint is new. ``Partition._expand_memo`` inlines ``expand`` in its loop.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import getitem, itemgetter
from typing import Any

from zkfle.errors import InternalError
from zkfle.model.explorer.collapse import FP_MASK, ComponentTable
from zkfle.model.explorer.spec import Action

WHOLE = range(1 << 32)  # the "projection" that keeps an id as it is: WHOLE[cid] == cid
EFFECTS_KEPT = 1 << 18  # entries per memo before it is emptied (bounds memory on huge searches)

# A remembered effect: (changed positions with their new ids, fingerprint change, action properties violated)
Effect = tuple[tuple[tuple[int, int], ...], int, tuple[str, ...]]
# A successor as ``expand`` gives it: (its fingerprint, action, effect)
Successor = tuple[int, Action, Effect]


def _successors_from_enabled(model: Any) -> bool:
    """Is ``model.successors`` the one written beside its ``enabled``? A subclass (or a wrapper) that
    changes ``successors`` alone would be bypassed by the memo, so it gets the plain search."""
    owner_of_enabled = _defining_class(type(model), "enabled")
    owner_of_successors = _defining_class(type(model), "successors")
    if owner_of_enabled is None or owner_of_successors is None:
        return False
    return issubclass(owner_of_enabled, owner_of_successors)


def _defining_class(cls: type, name: str) -> type | None:
    for klass in cls.__mro__:
        if name in vars(klass):
            return klass
    return None


class _StepKind:
    """One action's memo: how to key its effect on a state's ids, and the effects met so far."""

    __slots__ = ("action", "effects", "key", "step", "whole")

    def __init__(self, step: Any, reads: tuple[tuple[int, Any], ...], rows: list[Any]) -> None:
        self.step = step
        self.action: Action = step[0]
        self.whole = frozenset(p for p, fn in reads if fn is None)
        self.effects: dict[Any, Effect | None] = {}
        whole = tuple(p for p, fn in reads if fn is None)
        projected = tuple((p, row) for (p, fn), row in zip(reads, rows, strict=True) if fn is not None)
        self.key = _key_function(whole, projected)


def _key_function(
    whole: tuple[int, ...], projected: tuple[tuple[int, Any], ...]
) -> Callable[[list[int]], Any]:
    """ids -> the footprint key: the ids read whole, then the projections (an itemgetter when none)."""
    ids_of = itemgetter(*whole, *whole) if len(whole) == 1 else itemgetter(*whole) if whole else _nothing
    if not projected:
        return ids_of
    positions = tuple(p for p, _ in projected)
    rows = tuple(row for _, row in projected)
    of = itemgetter(*positions, *positions) if len(positions) == 1 else itemgetter(*positions)

    def key(ids: list[int]) -> Any:
        return ids_of(ids), tuple(map(getitem, rows, of(ids)))

    return key


def _nothing(ids: list[int]) -> tuple[()]:
    return ()


class _Projection(dict[int, Any]):
    """id -> fn(the component with that id), computed on first use (ids are never reused)."""

    def __init__(self, fn: Callable[[Any], Any], parts: list[Any]) -> None:
        super().__init__()
        self.fn = fn
        self.parts = parts

    def __missing__(self, cid: int) -> Any:
        value = self[cid] = self.fn(self.parts[cid])
        return value


_REQUIRED = ("components", "assemble", "enabled", "fire", "guard_reads", "footprint")


class StepMemo:
    """Enabled steps per guard key and step effects per footprint key, over one ``ComponentTable``."""

    def __init__(self, model: Any, table: ComponentTable, action_props: tuple[tuple[str, Any], ...]) -> None:
        self.model = model
        self.table = table
        self.projections: dict[int, _Projection] = {}
        self.guard_rows: list[Any] = [self._row(fn) for fn in model.guard_reads()]
        self.guards: dict[tuple[Any, ...], tuple[_StepKind, ...]] = {}
        self.shared_kinds: dict[tuple[_StepKind, ...], tuple[_StepKind, ...]] = {}
        self.kinds: dict[Action, _StepKind] = {}
        self.entries = 0  # remembered effects, over every kind
        self.shared: dict[Effect, Effect] = {}  # each distinct effect once
        self.ints: dict[int, int] = {}  # each id once, as the int object keys share
        changed_only = getattr(model, "action_reads_changed_only", None)
        flagged_by = getattr(model, "flagged_by", None)
        # action properties the memo judges with the effect (they read only the parts a step changes)
        self.memo_props = tuple(
            (name, prop, flagged_by(name) if flagged_by is not None else None)
            for name, prop in action_props
            if changed_only is not None and changed_only(name)
        )
        self.state_props = tuple(
            (name, prop) for name, prop in action_props if changed_only is None or not changed_only(name)
        )

    @classmethod
    def for_model(
        cls, model: Any, table: ComponentTable | None, action_props: tuple[tuple[str, Any], ...]
    ) -> StepMemo | None:
        """The memo for ``model``, or None if it lacks one of the functions the memo needs."""
        if table is None or any(getattr(model, name, None) is None for name in _REQUIRED):
            return None
        if not _successors_from_enabled(model):
            return None
        return cls(model, table, action_props)

    # ------------------------------------------------------------------ projections of ids
    def _row(self, fn: Callable[[Any], Any] | None) -> Any:
        """The mapping id -> fn(component), filled on first use, or WHOLE for None."""
        if fn is None:
            return WHOLE
        known = self.projections.get(id(fn))
        if known is None:
            known = self.projections[id(fn)] = _Projection(fn, self.table.parts)
        return known

    def _kind(self, step: Any) -> _StepKind:
        """The memo of one action (its footprint key function and its effects), made on first use."""
        action = step[0]
        kind = self.kinds.get(action)
        if kind is None:
            reads = tuple(self.model.footprint(action))
            kind = self.kinds[action] = _StepKind(step, reads, [self._row(fn) for _, fn in reads])
        return kind

    # ------------------------------------------------------------------ the search's questions
    def expand(self, ids: list[int], fp: int) -> list[Successor]:
        """The successors of the state whose component ids are ``ids`` and whose fingerprint is ``fp``:
        (fingerprint, action, effect) each, in ``successors`` order."""
        kinds = self.guards.get(tuple(map(getitem, self.guard_rows, ids)))
        if kinds is None:
            kinds = self.enabled_kinds(ids)
        out: list[Successor] = []
        for kind in kinds:
            key = kind.key(ids)
            effect = kind.effects.get(key)
            if effect is None:
                effect = self.miss(kind, key, ids)
                if effect is None:
                    continue  # cut by a bound
            out.append(((fp + effect[1]) & FP_MASK, kind.action, effect))
        return out

    def enabled_kinds(self, ids: list[int]) -> tuple[_StepKind, ...]:
        """The kinds of the steps enabled at ``ids`` (asked when its guard key is new), remembered."""
        gkey = tuple(map(getitem, self.guard_rows, ids))
        kinds = tuple(self._kind(step) for step in self.model.enabled(self.table.decode(ids)))
        if len(self.guards) >= EFFECTS_KEPT:
            self.guards.clear()
            self.shared_kinds.clear()
        kinds = self.shared_kinds.setdefault(kinds, kinds)
        self.guards[gkey] = kinds
        return kinds

    def miss(self, kind: _StepKind, key: Any, ids: list[int]) -> Effect | None:
        """The effect of ``kind`` at ``ids`` (footprint key ``key``), run and remembered; None if cut."""
        if key in kind.effects:
            return None  # remembered as cut by a bound
        effect = self._run(self.table.decode(ids), ids, kind.step, kind.whole)
        if self.entries >= EFFECTS_KEPT:
            self._forget_effects()
        if effect is not None:
            effect = self.shared.setdefault(effect, effect)  # a few thousand distinct effects in all
        kind.effects[self._lean(key)] = effect
        self.entries += 1
        return effect

    def _lean(self, key: Any) -> Any:
        """``key`` made of shared int objects (an id read off a frontier array is a fresh int each time,
        28 bytes that a remembered key would otherwise keep)."""
        ints = self.ints
        if isinstance(key, int):
            return ints.setdefault(key, key)
        if key and isinstance(key[0], tuple):  # (ids read whole, projections)
            return (tuple(ints.setdefault(x, x) for x in key[0]), key[1])
        return tuple(ints.setdefault(x, x) for x in key)

    def _forget_effects(self) -> None:
        for kind in self.kinds.values():
            kind.effects.clear()
        self.shared.clear()
        self.ints.clear()
        self.entries = 0

    def _run(self, state: Any, ids: list[int], step: Any, whole: frozenset[int]) -> Effect | None:
        """Run one step with the model's own functions and record what it changed."""
        target = self.model.fire(state, step)
        if target is None:
            return None
        table = self.table
        new = table.encode(target)
        changed = tuple((k, cid) for k, (cid, old) in enumerate(zip(new, ids, strict=True)) if cid != old)
        for k, _ in changed:
            if k not in whole:
                raise InternalError(
                    f"step {step[0]!r} changed component {k}, which its footprint does not read whole "
                    "(the model's footprint() is wrong: model's fault)"
                )
        delta = sum(table.share(k, cid) - table.share(k, ids[k]) for k, cid in changed) & FP_MASK
        action = step[0]
        failed = tuple(
            name for name, prop, kinds in self.memo_props
            if (kinds is None or action[0] in kinds) and not prop(state, action, target)
        )
        return changed, delta, failed

    def memory_entries(self) -> int:
        return len(self.guards) + self.entries
