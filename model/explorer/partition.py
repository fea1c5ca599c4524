"""One fingerprint range of the state graph: its visited set, parent pointers and BFS frontier.

Rules:

- A search owns all 2**64 fingerprints (one process) or splits them into ``parts`` equal ranges, the
  owner of ``fp`` being ``(fp * parts) >> 64`` (multi-process). A ``Partition`` stores only the states
  it owns; successors it does not own are announced to their owner by fingerprint (``take_queries``,
  ``claim``, ``answered``, ``admit_claimed``: only states the owner claims as new travel), or, when
  liveness needs every edge, handed over whole (``outbox``, ``receive``).
- Global state ids: a state's *local* index is its discovery rank in its partition; its global id is
  ``local * parts + me``. Local indices grow level by level, so ``level_starts[d]`` is the first local
  index at depth ``d`` and depths need no storage.
- Memory per visited state: the fingerprint (``visited.py``: 8 bytes once its level closes), the
  parent's global id (``array('q')``) and the position of the step among the parent's successors
  (``array('H')``, widened to ``'I'`` if a state ever has more than 65535 successors). States themselves
  are kept only while in the frontier, as component ids when the model has components (``collapse.py``).
- Two expansion loops: ``_expand_memo`` when the model offers the step memo's declarations and no
  reduction is on (``steps.py``: successors on component ids, claimed states handed over as ids,
  ``handoff.py``), and the plain loop of ``expand_level`` otherwise (successors as states, from
  ``model.successors``). Both make the same graph, in the same order.
- When liveness is checked the visited set is a dict fingerprint -> global id, and every explored edge
  is kept as two ``array('q')`` (source, target), plus one byte per state and liveness goal.
- Safety checks run here: invariants on each newly discovered state, action properties on each
  explored transition, deadlock on each expanded state without successors. Findings are recorded as
  ``Finding`` (a global id and a length), paths are rebuilt later (``trace.py``).
"""

from __future__ import annotations

import marshal
import time
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from operator import getitem
from typing import Any

import xxhash

from zkfle.model.explorer.checks import Checks
from zkfle.model.explorer.collapse import (
    FP_MASK,
    ID_TYPECODE,
    CollapsedStates,
    ComponentTable,
    InvariantMemo,
    new_level,
)
from zkfle.model.explorer.fingerprint import MARSHAL_VERSION, fingerprint
from zkfle.model.explorer.handoff import Announcements, PartsReceiver, PartsSender
from zkfle.model.explorer.por import AmpleChooser
from zkfle.model.explorer.spec import Action
from zkfle.model.explorer.steps import StepMemo
from zkfle.model.explorer.visited import BUCKET_SHIFT, SHARD_SHIFT, VisitedSet

NO_PARENT = -1
TIME_CHECK_EVERY = 512

_xxh3 = xxhash.xxh3_64_intdigest
_dumps = marshal.dumps

# A successor handed over whole: (fingerprint, state, parent global id, position among the parent's
# successors). Outboxes hold records flattened, RECORD_FIELDS items each (no tuple per successor).
Record = tuple[int, Any, int, int]
RECORD_FIELDS = 4


@dataclass(frozen=True)
class Finding:
    """A violation found during the search, before its path is rebuilt.

    ``gid`` is the violating state (invariant, deadlock) or the source of the offending transition
    (action; ``pos`` is that transition's position among the source's successors). ``length`` is the
    number of steps of the counterexample, the BFS key that makes the reported one shortest.
    """

    length: int
    kind: str
    property: str
    gid: int
    pos: int = -1


def _apply(ids: list[int], changed: tuple[tuple[int, int], ...]) -> list[int]:
    """A copy of ``ids`` with the (position, id) pairs of ``changed`` put in."""
    new = ids.copy()
    for k, cid in changed:
        new[k] = cid
    return new


def owner_of(fp: int, parts: int) -> int:
    """The partition owning fingerprint ``fp`` (an equal range of the 64-bit space per partition)."""
    return (fp * parts) >> 64


class Partition:
    """Visited set, parents and frontier of the states whose fingerprint falls in this range."""

    # POR's cycle proviso (C3); switched off only by a test, to show what it prevents
    CYCLE_PROVISO = True

    def __init__(
        self,
        model: Any,
        checks: Checks,
        *,
        me: int = 0,
        parts: int = 1,
        por: bool = False,
        symmetry: bool = False,
        max_states: int | None = None,
        stop_on_first: bool = True,
        coverage: bool = False,
        collapse: bool = True,
        step_memo: bool = True,
    ) -> None:
        self.model = model
        self.checks = checks
        self.me = me
        self.parts = parts
        self.indexed = checks.liveness_on
        self.seen = VisitedSet()
        self.index: dict[int, int] = {}
        self.parent = array("q")
        self.via = array("H")
        self.level_starts: list[int] = [0]
        # a model with components is fingerprinted through its table (collapse.py), and its levels are
        # kept as component ids unless ``collapse`` is off
        self.table = ComponentTable.for_model(model)
        self.level_table = self.table if collapse else None
        # invariants judged once per distinct combination of the components they read (needs the table)
        self.memo = InvariantMemo(model, checks.invariants) if self.table is not None else None
        self.frontier = new_level(self.level_table)
        self.next_frontier = new_level(self.level_table)
        self.edges_src = array("q")
        self.edges_dst = array("q")
        self.goals: list[bytearray] = [bytearray() for _ in checks.liveness]
        self.findings: list[Finding] = []
        self.generated = 0
        self.coverage: dict[str, int] | None = {} if coverage else None  # action name -> steps explored
        self.truncated = False  # a limit kept some reachable state out
        self.timed_out = False
        self.max_states = max_states
        self.stop_on_first = stop_on_first
        self.canonical: Callable[[Any], Any] | None = getattr(model, "canonical", None) if symmetry else None
        self.is_terminal: Callable[[Any], bool] | None = getattr(model, "is_terminal", None)
        self.ample = AmpleChooser(model) if por else None
        # successors on component ids, each distinct step effect run once (steps.py); not with reductions,
        # nor with liveness across workers (whose edges travel as whole states)
        plain = step_memo and collapse and not por and not symmetry and (not self.indexed or parts == 1)
        self.steps = StepMemo.for_model(model, self.table, checks.actions) if plain else None
        # action properties per action name: a model may say which actions can violate each one
        self.action_checks: dict[str, tuple[tuple[str, Callable[[Any, Action, Any], bool]], ...]] = {}
        self.fresh: set[int] = set()  # fingerprints first reached in the level being built (POR's C3)
        self.expanded_full: set[int] = set()  # global ids fully expanded in this level after C3
        self.outbox: list[list[Any]] = [[] for _ in range(parts)]  # flattened records, per owner
        # The claim protocol (several partitions, no liveness): a successor owned elsewhere is first
        # announced by fingerprint only; its state travels only if the owner claims it as new.
        self.claims = parts > 1 and not self.indexed
        # per owner: fp -> [state, parent gid, position, gids of reduced sources or None]
        self.pending: list[dict[int, list[Any]]] = [{} for _ in range(parts)]
        self.asked: list[dict[int, list[Any]]] = []
        # under the step memo, announcements are arrays and claimed states travel as component ids
        self.announced: list[Announcements] = [Announcements() for _ in range(parts)]
        self.asked_ids: list[Announcements] = []
        self.sender = PartsSender(self.table, parts) if self.steps is not None and self.claims else None
        self.receiver = PartsReceiver(self.table, parts) if self.sender is not None else None
        self.reserved = 0  # states claimed by this owner whose state has not arrived yet

    # ------------------------------------------------------------------ identities
    @property
    def distinct(self) -> int:
        return len(self.parent)

    def local(self, gid: int) -> int:
        return gid // self.parts

    def depth_of(self, local: int) -> int:
        """The BFS depth of a local state index (levels are contiguous runs of local indices)."""
        return bisect_right(self.level_starts, local) - 1

    def key_fp(self, state: Any) -> int:
        """The fingerprint this search gives ``state``: the sum of its components' shares under the step
        memo (whose steps change it by known amounts), else ``marshal`` + xxh3 of the whole state (one C
        call, faster where every successor is a state anyway). Fingerprints never leave a search."""
        canonical = self.canonical
        key = canonical(state) if canonical is not None else state
        table = self.table
        if self.steps is None or table is None:
            return fingerprint(key)
        return table.fingerprint(table.encode(key))

    def _widen_via(self, n: int) -> None:
        if n > 0xFFFF and self.via.typecode == "H":
            self.via = array("I", self.via)

    # ------------------------------------------------------------------ visited set
    def _is_seen(self, fp: int) -> bool:
        if self.indexed:
            return fp in self.index
        return fp in self.seen

    def receive(self, record: Record, depth: int, admit: bool) -> None:
        """Take a successor this partition owns: record the edge, and the state if it is new."""
        fp, state, parent_gid, pos = record
        if self.indexed:
            target = self.index.get(fp)
            if target is None:
                target = self._admit(fp, state, parent_gid, pos, depth, admit)
                if target is None:
                    return
            self.edges_src.append(parent_gid)
            self.edges_dst.append(target)
            return
        if fp not in self.seen:
            self._admit(fp, state, parent_gid, pos, depth, admit)

    def receive_batch(self, flat: list[Any], depth: int, admit: bool) -> None:
        """``receive`` for a flattened batch routed from another partition (the plain visited set inlined)."""
        fields = iter(flat)
        records: Any = zip(*[fields] * RECORD_FIELDS, strict=True)
        if self.indexed or self.ample is not None or not admit or self.max_states is not None:
            for record in records:
                self.receive(record, depth, admit)
            return
        seen = self.seen
        parent = self.parent
        parent_append = parent.append
        via_append = self.via.append
        queue = self._queue
        parts, me = self.parts, self.me
        for fp, state, parent_gid, pos in records:
            if fp in seen:
                continue
            gid = len(parent) * parts + me
            seen.add(fp)
            parent_append(parent_gid)
            via_append(pos)
            for name in queue(state):
                self.findings.append(Finding(depth, "invariant", name, gid))

    def _admit(self, fp: int, state: Any, parent_gid: int, pos: int, depth: int, admit: bool) -> int | None:
        if not admit or (self.max_states is not None and self.distinct >= self._share_of_max()):
            self.truncated = True
            return None
        local = len(self.parent)
        gid = local * self.parts + self.me
        if self.indexed:
            self.index[fp] = gid
            for goal, (_, prop) in zip(self.goals, self.checks.liveness, strict=True):
                goal.append(1 if prop.goal(state) else 0)
        else:
            self.seen.add(fp)
            if self.ample is not None:
                self.fresh.add(fp)
        self.parent.append(parent_gid)
        self.via.append(pos)
        for name in self._queue(state):
            self.findings.append(Finding(depth, "invariant", name, gid))
        return gid

    def _queue(self, state: Any, ids: list[int] | None = None) -> list[str]:
        """Put a newly admitted state into the level being built; the names of the invariants it violates.
        ``ids``: its component ids, if the caller has them already."""
        memo = self.memo
        if memo is None:
            self.next_frontier.append(state)
            return [name for name, invariant in self.checks.invariants if not invariant(state)]
        assert self.table is not None
        if ids is None:
            ids = self.table.encode(state)
        if isinstance(self.next_frontier, CollapsedStates):
            self.next_frontier.extend(ids)
        else:
            self.next_frontier.append(state)
        return memo.failed(state, ids)

    def _action_checks_for(self, kind: str) -> tuple[tuple[str, Callable[[Any, Action, Any], bool]], ...]:
        """The action properties a step named ``kind`` can violate (all, unless the model's
        ``flagged_by(property)`` names the actions that can), remembered per name."""
        flagged_by = getattr(self.model, "flagged_by", None)
        props = tuple(
            (name, prop) for name, prop in self.checks.actions
            if flagged_by is None or (kinds := flagged_by(name)) is None or kind in kinds
        )
        self.action_checks[kind] = props
        return props

    def _share_of_max(self) -> int:
        assert self.max_states is not None
        share, extra = divmod(self.max_states, self.parts)  # the shares add up to max_states
        return share + (1 if self.me < extra else 0)

    # ------------------------------------------------------------------ search
    def seed(self, inits: list[Any]) -> None:
        """Admit the initial states this partition owns (``via``: rank among inits); then ``end_level``."""
        self._widen_via(len(inits))
        if self.table is not None:
            for state in inits:
                self.table.check_round_trip(state)
        for pos, state in enumerate(inits):
            fp = self.key_fp(state)
            if owner_of(fp, self.parts) == self.me and not self._is_seen(fp):
                self._admit(fp, state, NO_PARENT, pos, 0, True)

    def end_level(self) -> None:
        """Close the level being built: its states become the frontier."""
        self.frontier = self.next_frontier
        self.next_frontier = new_level(self.level_table)
        self.fresh = set()
        self.expanded_full = set()
        self.level_starts.append(len(self.parent))
        if not self.indexed:
            self.seen.close_level()

    def expand_level(
        self,
        depth: int,
        *,
        admit: bool,
        deadline: float | None,
        tick: Callable[[int], None] | None = None,
    ) -> None:
        """Expand every frontier state (all at ``depth``); route successors; record findings.

        ``admit=False`` (the depth bound) still expands, to check deadlocks and action properties, but
        admits no new state. Stops early at the deadline (``timed_out``) or, when stopping on the first
        violation, once only a shorter deadlock could still matter.
        """
        if self.steps is not None:
            self._expand_memo(self.steps, depth, admit=admit, deadline=deadline, tick=tick)
            return
        successors = self.model.successors
        canonical = self.canonical
        parts, me = self.parts, self.me
        by_kind = self.action_checks  # action name -> the action properties that step can violate
        check_deadlock = self.checks.deadlock
        ample = self.ample
        building = self.seen.building  # the level being built; closed levels are in recent or the archive
        recent = self.seen.recent
        archive = self.seen.archive
        fast = not self.indexed  # the common case: a plain visited set, the receive() logic inlined
        proviso = self.CYCLE_PROVISO
        fresh = self.fresh
        parent = self.parent
        parent_append = parent.append
        queue = self._queue
        memo = self.memo
        next_append = self.next_frontier.append
        invariants = self.checks.invariants
        por_on = ample is not None
        cap = None if self.max_states is None else self._share_of_max()
        base = self.level_starts[depth] * parts + me
        next_depth = depth + 1
        only_deadlocks = False
        for i, state in enumerate(self.frontier):
            if i % TIME_CHECK_EVERY == 0 and self._out_of_time(i, deadline, tick):
                return
            gid = base + i * parts
            succ = list(successors(state))
            if not succ:
                deadlocked = check_deadlock and self._deadlock_unless_terminal(state, depth, gid)
                if deadlocked and self.stop_on_first:
                    return
                continue
            if only_deadlocks:
                continue
            if len(succ) > 0xFFFF:
                self._widen_via(len(succ))
            via_append = self.via.append
            chosen = ample.choose(succ, state) if ample is not None else None
            reduced = chosen is not None
            positions = range(len(succ)) if chosen is None else chosen
            self.generated += len(positions)
            if self.coverage is not None:
                self._cover(succ[pos][0] for pos in positions)
            old_ample = False
            for pos in positions:
                action, target = succ[pos]
                props = by_kind.get(action[0])
                if props is None:
                    props = self._action_checks_for(action[0])
                for name, prop in props:
                    if not prop(state, action, target):
                        self.findings.append(Finding(next_depth, "action", name, gid, pos))
                fp = _xxh3(_dumps(target if canonical is None else canonical(target), MARSHAL_VERSION))
                if parts != 1 and (fp * parts) >> 64 != me:
                    self._send_away((fp * parts) >> 64, fp, target, gid, pos, reduced)
                elif fast:
                    if fp in building[fp >> SHARD_SHIFT]:
                        continue  # reached before in the level being built
                    # VisitedSet.__contains__ for closed levels, inlined: recent, then one archive bucket
                    old = fp in recent
                    if not old:
                        bucket = archive[fp >> BUCKET_SHIFT]
                        k = bisect_left(bucket, fp)
                        old = k < len(bucket) and bucket[k] == fp
                    if old:
                        if reduced and proviso:
                            old_ample = True
                    elif not admit or (cap is not None and len(parent) >= cap):
                        self.truncated = True
                    else:  # admit: the fast path of _admit
                        new_gid = len(parent) * parts + me
                        building[fp >> SHARD_SHIFT].add(fp)
                        if por_on:
                            fresh.add(fp)
                        parent_append(gid)
                        via_append(pos)
                        if memo is None:  # _queue, inlined for models without components
                            next_append(target)
                            for name, invariant in invariants:
                                if not invariant(target):
                                    self.findings.append(Finding(next_depth, "invariant", name, new_gid))
                        else:
                            for name in queue(target):
                                self.findings.append(Finding(next_depth, "invariant", name, new_gid))
                else:
                    self.receive((fp, target, gid, pos), next_depth, admit)
            if old_ample:  # POR's C3: an ample successor is not deeper, expand the rest too
                self.expanded_full.add(gid)
                self.expand_rest(state, gid, succ, chosen, depth, admit)
            if self.findings and self.stop_on_first:
                only_deadlocks = True
                if not check_deadlock:
                    return

    def _expand_memo(
        self,
        steps: StepMemo,
        depth: int,
        *,
        admit: bool,
        deadline: float | None,
        tick: Callable[[int], None] | None,
    ) -> None:
        """``expand_level`` through the step memo: states stay component ids, a successor's fingerprint
        is its parent's plus the step's remembered change, and its ids are built only if it is new.
        ``StepMemo.expand`` is inlined here (this loop is the search's hot path)."""
        table = self.table
        frontier = self.frontier
        assert table is not None and isinstance(frontier, CollapsedStates)
        decode = table.decode
        parts, me = self.parts, self.me
        check_deadlock = self.checks.deadlock
        building = self.seen.building
        recent = self.seen.recent
        archive = self.seen.archive
        parent = self.parent
        parent_append = parent.append
        memo = self.memo
        assert memo is not None and isinstance(self.next_frontier, CollapsedStates)
        next_ids = self.next_frontier.ids
        next_fps = self.next_frontier.fps
        state_props = steps.state_props
        flagged_by = getattr(self.model, "flagged_by", None)
        cap = None if self.max_states is None else self._share_of_max()
        base = self.level_starts[depth] * parts + me
        next_depth = depth + 1
        width = table.width
        flat = frontier.ids
        count = len(frontier)
        fps = frontier.fps if len(frontier.fps) == count else None
        guard_rows = steps.guard_rows
        guards = steps.guards
        single_group = memo.single_group()  # FLE: one invariant group (the servers), nothing direct
        coverage = self.coverage
        multi = parts != 1
        indexed = self.indexed
        findings = self.findings
        only_deadlocks = False
        for i in range(count):
            if i % TIME_CHECK_EVERY == 0 and self._out_of_time(i, deadline, tick):
                return
            gid = base + i * parts
            ids = flat[i * width : (i + 1) * width].tolist()
            kinds = guards.get(tuple(map(getitem, guard_rows, ids)))
            if kinds is None:
                kinds = steps.enabled_kinds(ids)
            if not kinds:
                deadlocked = check_deadlock and self._deadlock_unless_terminal(decode(ids), depth, gid)
                if deadlocked and self.stop_on_first:
                    return
                continue
            if only_deadlocks:
                if check_deadlock and not steps.expand(ids, 0):  # every enabled step cut by a bound
                    self._deadlock_unless_terminal(decode(ids), depth, gid)
                continue
            if len(kinds) > 0xFFFF:
                self._widen_via(len(kinds))
            via_append = self.via.append
            fp0 = fps[i] if fps is not None else table.fingerprint(ids)
            pos = 0
            for kind in kinds:
                key = kind.key(ids)
                effect = kind.effects.get(key)
                if effect is None:
                    effect = steps.miss(kind, key, ids)
                    if effect is None:
                        continue  # cut by a bound
                changed, delta, failed = effect
                if failed:
                    for name in failed:
                        findings.append(Finding(next_depth, "action", name, gid, pos))
                if state_props:
                    self._judge_step(state_props, flagged_by, ids, kind.action, changed, gid, pos, next_depth)
                if coverage is not None:
                    self._cover((kind.action,))
                fp = (fp0 + delta) & FP_MASK
                pos += 1
                if multi and (fp * parts) >> 64 != me:
                    self.announced[(fp * parts) >> 64].add(fp, gid, pos - 1, changed)
                    continue
                if indexed:
                    self._receive_ids(fp, _apply(ids, changed), gid, pos - 1, next_depth, admit)
                    continue
                if fp in building[fp >> SHARD_SHIFT] or fp in recent:
                    continue
                bucket = archive[fp >> BUCKET_SHIFT]
                k = bisect_left(bucket, fp)
                if k < len(bucket) and bucket[k] == fp:
                    continue
                if not admit or (cap is not None and len(parent) >= cap):
                    self.truncated = True
                    continue
                new_gid = len(parent) * parts + me
                building[fp >> SHARD_SHIFT].add(fp)
                parent_append(gid)
                via_append(pos - 1)
                new = ids.copy()
                for k, cid in changed:
                    new[k] = cid
                try:
                    next_ids.extend(new)
                except OverflowError:  # an id beyond 2 bytes: the level is kept as 4-byte ids from now on
                    self.next_frontier.widen(len(next_ids) // width * width)  # whole states only
                    next_ids = self.next_frontier.ids
                    next_ids.extend(new)
                next_fps.append(fp)
                if single_group is not None:  # InvariantMemo.failed_lazily, inlined
                    key_of, known = single_group
                    verdict = known.get(key_of(new))
                    if verdict is None:
                        verdict = memo.failed_lazily(new, partial(decode, new))
                else:
                    verdict = memo.failed_lazily(new, partial(decode, new))
                for name in verdict:
                    findings.append(Finding(next_depth, "invariant", name, new_gid))
            self.generated += pos
            if pos == 0 and check_deadlock:  # every enabled step was cut by a bound
                self._deadlock_unless_terminal(decode(ids), depth, gid)
            if findings and self.stop_on_first:
                only_deadlocks = True
                if not check_deadlock:
                    return

    def _out_of_time(self, i: int, deadline: float | None, tick: Callable[[int], None] | None) -> bool:
        """Between states (every TIME_CHECK_EVERY): past the deadline (then ``timed_out``)? Else tick."""
        if deadline is not None and time.monotonic() > deadline:
            self.timed_out = True
            return True
        if tick is not None:
            tick(i)
        return False

    def _deadlock_unless_terminal(self, state: Any, depth: int, gid: int) -> bool:
        """Record a deadlock at ``state`` (which has no successor) unless the model accepts it as final."""
        if self.is_terminal is not None and self.is_terminal(state):
            return False
        self.findings.append(Finding(depth, "deadlock", "Deadlock", gid))
        return True

    def _judge_step(
        self,
        props: tuple[tuple[str, Callable[[Any, Action, Any], bool]], ...],
        flagged_by: Callable[[str], frozenset[str] | None] | None,
        ids: list[int],
        action: Action,
        changed: tuple[tuple[int, int], ...],
        gid: int,
        pos: int,
        length: int,
    ) -> None:
        """Action properties the step memo cannot remember, judged on the step's two states."""
        table = self.table
        assert table is not None
        before = after = None
        for name, prop in props:
            kinds = flagged_by(name) if flagged_by is not None else None
            if kinds is not None and action[0] not in kinds:
                continue
            if before is None:
                before, after = table.decode(ids), table.decode(_apply(ids, changed))
            if not prop(before, action, after):
                self.findings.append(Finding(length, "action", name, gid, pos))

    def _receive_ids(
        self, fp: int, ids: list[int], parent_gid: int, pos: int, depth: int, admit: bool
    ) -> None:
        """``receive`` for a successor the step memo gives as component ids (liveness: every edge kept)."""
        target = self.index.get(fp)
        if target is None:
            assert self.table is not None
            target = self._admit(fp, self.table.decode(ids), parent_gid, pos, depth, admit)
            if target is None:
                return
        self.edges_src.append(parent_gid)
        self.edges_dst.append(target)

    def expand_rest(
        self,
        state: Any,
        gid: int,
        succ: list[tuple[Action, Any]] | None,
        done: list[int] | None,
        depth: int,
        admit: bool,
    ) -> None:
        """POR's C3: expand the successors of ``state`` left out of its ample set."""
        if succ is None:
            succ = list(self.model.successors(state))
        if done is None:
            chooser = self.ample
            done = (chooser.choose(succ, state) if chooser is not None else None) or []
        skip = set(done)
        parts, me = self.parts, self.me
        for pos, (action, target) in enumerate(succ):
            if pos in skip:
                continue
            self.generated += 1
            if self.coverage is not None:
                self._cover((action,))
            for name, prop in self.checks.actions:
                if not prop(state, action, target):
                    self.findings.append(Finding(depth + 1, "action", name, gid, pos))
            fp = self.key_fp(target)
            if parts == 1 or owner_of(fp, parts) == me:
                self.receive((fp, target, gid, pos), depth + 1, admit)
            else:
                self._send_away(owner_of(fp, parts), fp, target, gid, pos, False)

    def reexpand_requested(self, gids: list[int], depth: int, admit: bool) -> None:
        """Fully expand frontier states (by global id) whose ample successors were old elsewhere."""
        start = self.level_starts[depth]
        for gid in sorted(set(gids) - self.expanded_full):
            self.expanded_full.add(gid)
            state = self.frontier[self.local(gid) - start]
            self.expand_rest(state, gid, None, None, depth, admit)

    def _cover(self, actions: Any) -> None:
        coverage = self.coverage
        assert coverage is not None
        for action in actions:
            name = str(action[0])
            coverage[name] = coverage.get(name, 0) + 1

    def _send_away(self, owner: int, fp: int, target: Any, gid: int, pos: int, reduced: bool) -> None:
        """Queue a successor owned by another partition (announced once per level per fingerprint)."""
        if not self.claims:
            self.outbox[owner].extend((fp, target, gid, pos))
            return
        box = self.pending[owner]
        entry = box.get(fp)
        if entry is None:
            # with a component table the announced state waits as its component ids (4 bytes each)
            held = target if self.level_table is None else array(ID_TYPECODE, self.table.encode(target))
            box[fp] = [held, gid, pos, [gid] if reduced else None]
        elif reduced:
            if entry[3] is None:
                entry[3] = [gid]
            else:
                entry[3].append(gid)

    # ------------------------------------------------------------------ the claim protocol
    def take_queries(self) -> list[Any]:
        """Sender: the fingerprints announced to each owner since the last call (a list, or under the
        step memo an ``array('Q')``)."""
        if self.sender is not None:
            self.asked_ids = self.announced
            self.announced = [Announcements() for _ in range(self.parts)]
            return [box.fps for box in self.asked_ids]
        self.asked = self.pending
        self.pending = [{} for _ in range(self.parts)]
        return [list(box) for box in self.asked]

    def claim(self, queries: list[Any], admit: bool) -> list[bytes]:
        """Owner: per sender, one code per announced fingerprint: 0 new (claimed: send the state),
        1 already reached in the level being built, 2 old (reached at this depth or before: POR's C3)."""
        seen, fresh = self.seen, self.fresh
        por = self.ample is not None
        cap = None if self.max_states is None else self._share_of_max()
        building, recent, archive = seen.building, seen.recent, seen.archive
        answers = []
        for fps in queries:
            codes = bytearray(len(fps))
            for i, fp in enumerate(fps):
                # ``fp in seen``, inlined (every announced successor is asked here)
                known = fp in building[fp >> SHARD_SHIFT] or fp in recent
                if not known:
                    bucket = archive[fp >> BUCKET_SHIFT]
                    k = bisect_left(bucket, fp)
                    known = k < len(bucket) and bucket[k] == fp
                if known:
                    codes[i] = 2 if por and fp not in fresh and self.CYCLE_PROVISO else 1
                elif not admit or (cap is not None and len(self.parent) + self.reserved >= cap):
                    self.truncated = True
                    codes[i] = 1
                else:
                    building[fp >> SHARD_SHIFT].add(fp)
                    if por:
                        fresh.add(fp)
                    self.reserved += 1
            answers.append(bytes(codes))
        return answers

    def answered(self, answers: list[bytes], depth: int, admit: bool) -> list[Any]:
        """Sender: the states each owner claimed (flattened: state, parent gid, position), after fully
        expanding every reduced source whose ample successor turned out old (which may announce more).
        Under the step memo: per owner a ``handoff.Batch`` of component ids instead."""
        if self.sender is not None:
            return self._answered_ids(answers, depth)
        out: list[list[Any]] = [[] for _ in range(self.parts)]
        sources: set[int] = set()
        for owner, (box, codes) in enumerate(zip(self.asked, answers, strict=True)):
            batch = out[owner]
            for entry, code in zip(box.values(), codes, strict=True):
                if code == 0:
                    held, parent_gid, pos = entry[:3]
                    state = held if self.level_table is None else self.level_table.decode(held)
                    batch.extend((state, parent_gid, pos))
                elif code == 2 and entry[3]:
                    sources.update(entry[3])
        self.asked = []
        if sources:
            self.reexpand_requested(sorted(sources), depth, admit)
        return out

    def _answered_ids(self, answers: list[bytes], depth: int) -> list[Any]:
        """``answered`` under the step memo: each claimed successor rebuilt from its parent's ids in the
        frontier (still there: the level is not closed) and its step's change, sent as ids."""
        assert self.sender is not None and isinstance(self.frontier, CollapsedStates)
        width = self.frontier.table.width
        flat = self.frontier.ids
        start = self.level_starts[depth]
        out: list[Any] = []
        for owner, (box, codes) in enumerate(zip(self.asked_ids, answers, strict=True)):
            states: list[list[int]] = []
            fps, gids, positions = array("Q"), array("q"), array("I")
            for k, code in enumerate(codes):
                if code != 0:
                    continue
                i = self.local(box.gids[k]) - start
                states.append(_apply(flat[i * width : (i + 1) * width].tolist(), box.changes[k]))
                fps.append(box.fps[k])
                gids.append(box.gids[k])
                positions.append(box.positions[k])
            out.append(self.sender.pack(owner, states, fps, gids, positions))
        self.asked_ids = []
        return out

    def admit_claimed_ids(self, batch: Any, sender: int, depth: int) -> None:
        """Owner: admit the states claimed from ``sender``, handed over as ids (``handoff.py``)."""
        assert self.receiver is not None and self.memo is not None
        assert isinstance(self.next_frontier, CollapsedStates)
        states, fps, gids, positions = self.receiver.unpack(sender, batch)
        parent = self.parent
        decode = self.frontier.table.decode if isinstance(self.frontier, CollapsedStates) else None
        assert decode is not None
        for ids, fp, parent_gid, pos in zip(states, fps, gids, positions, strict=True):
            gid = len(parent) * self.parts + self.me
            parent.append(parent_gid)
            self.via.append(pos)
            self.reserved -= 1
            self.next_frontier.extend(ids)
            self.next_frontier.fps.append(fp)
            for name in self.memo.failed_lazily(ids, partial(decode, ids)):
                self.findings.append(Finding(depth, "invariant", name, gid))

    def admit_claimed(self, flat: list[Any], depth: int) -> None:
        """Owner: admit the states it claimed, in claim order (fingerprints are already in the set)."""
        fields = iter(flat)
        parent = self.parent
        for state, parent_gid, pos in zip(fields, fields, fields, strict=True):
            gid = len(parent) * self.parts + self.me
            parent.append(parent_gid)
            self.via.append(pos)
            self.reserved -= 1
            for name in self._queue(state):
                self.findings.append(Finding(depth, "invariant", name, gid))

    def take_outbox(self) -> list[list[Any]]:
        out = self.outbox
        self.outbox = [[] for _ in range(self.parts)]
        return out

    # ------------------------------------------------------------------ paths
    def step_of(self, gid: int) -> tuple[int, int]:
        """(parent global id, position among the parent's successors) of a state this partition owns."""
        local = self.local(gid)
        return self.parent[local], self.via[local]
