"""``explore``: breadth-first, level by level, with exact shortest counterexamples.

Theory of operation. The search is level-synchronous: all states at depth ``d`` (the frontier) are
expanded before any state at depth ``d + 1``. Each finding carries the length of its counterexample
(an invariant violated by a state at depth ``d``: ``d``; a deadlock at depth ``d``: ``d``; an action
property violated by a step out of depth ``d``: ``d + 1``). Invariants are checked when a state is first
reached and action properties when a step is generated, so after expanding level ``d`` every finding of
length ``<= d`` has been seen; when stopping on the first violation the search finishes the current
level (looking only for deadlocks, the one kind that can still be shorter) and reports the shortest.

One process runs one ``Partition`` owning every fingerprint; ``workers > 1`` runs the same partitions
in worker processes (``parallel.py``), which yields the same levels, hence the same counts and verdicts.
The garbage collector is disabled during the search (states are acyclic tuples) and re-enabled after.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from zkfle.errors import InternalError, UserInputError
from zkfle.model.explorer.checks import Checks, select_checks
from zkfle.model.explorer.fingerprint import check_fingerprintable
from zkfle.model.explorer.liveness import SCC_ENGINES, StateGraph, find_lasso
from zkfle.model.explorer.partition import Finding, Partition
from zkfle.model.explorer.por import AmpleChooser
from zkfle.model.explorer.progress import Progress
from zkfle.model.explorer.result import HOLDS, VIOLATED, ExploreOptions, ExploreResult, Violation
from zkfle.model.explorer.trace import positions_to, replay, step_to, violation_of


class Tracker:
    """Verdicts so far and the best (shortest, then first) finding."""

    def __init__(self, checks: Checks) -> None:
        self.verdicts = checks.initial_verdicts()
        self.best: Finding | None = None

    def add(self, findings: list[Finding]) -> None:
        for finding in findings:
            self.verdicts[finding.property] = VIOLATED
            if self.best is None or finding.length < self.best.length:
                self.best = finding
        findings.clear()


def validate(opts: ExploreOptions) -> None:
    """Reject impossible options (the caller's mistake)."""
    if opts.workers < 1:
        raise UserInputError(f"workers must be at least 1, got {opts.workers}")
    for name in ("max_states", "max_depth"):
        value = getattr(opts, name)
        if value is not None and value < 0:
            raise UserInputError(f"{name} must not be negative, got {value}")
    if opts.scc not in SCC_ENGINES:
        raise UserInputError(f"unknown SCC engine {opts.scc!r}: choose one of {', '.join(SCC_ENGINES)}")
    if opts.max_seconds is not None and opts.max_seconds <= 0:
        raise UserInputError(f"max_seconds must be positive, got {opts.max_seconds}")
    if isinstance(opts.properties, str):
        raise UserInputError(f"properties must be a list of names, got the string {opts.properties!r}")


def plan_reductions(model: Any, opts: ExploreOptions, checks: Checks) -> tuple[bool, bool, list[str]]:
    """Which reductions actually run (por, symmetry), with a note for each one that cannot."""
    por, symmetry, notes = opts.por, opts.symmetry, []
    if checks.liveness_on and (por or symmetry):
        notes.append("liveness is checked on the full state graph: partial-order and symmetry reduction off")
        return False, False, notes
    if symmetry and getattr(model, "canonical", None) is None:
        notes.append("symmetry requested but the model has no canonical(): symmetry reduction off")
        symmetry = False
    if por and not AmpleChooser(model).usable:
        notes.append("por requested but the model lacks actor() or visible(): no partial-order reduction")
        por = False
    return por, symmetry, notes


def initial_states(model: Any) -> list[Any]:
    inits = list(model.init_states())
    for state in inits:
        try:
            check_fingerprintable(state)
        except TypeError as exc:
            raise InternalError(f"model {getattr(model, 'name', '?')}: {exc}") from None
    return inits


def explore(model: Any, opts: ExploreOptions | None = None) -> ExploreResult:
    """Explore the model's reachable states breadth-first and check its properties."""
    opts = opts or ExploreOptions()
    validate(opts)
    checks = select_checks(
        model, opts.properties, check_deadlock=opts.check_deadlock, check_liveness=opts.check_liveness
    )
    por, symmetry, notes = plan_reductions(model, opts, checks)
    started = time.monotonic()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        if opts.workers > 1:
            from zkfle.model.explorer.parallel import explore_parallel

            result = explore_parallel(model, opts, checks, por=por, symmetry=symmetry)
        else:
            result = _explore_single(model, opts, checks, por=por, symmetry=symmetry, started=started)
    finally:
        if gc_was_enabled:
            gc.enable()
    result.notes[:0] = notes
    result.seconds = time.monotonic() - started
    return result


def _explore_single(
    model: Any, opts: ExploreOptions, checks: Checks, *, por: bool, symmetry: bool, started: float
) -> ExploreResult:
    inits = initial_states(model)
    part = Partition(
        model,
        checks,
        por=por,
        symmetry=symmetry,
        max_states=opts.max_states,
        stop_on_first=opts.stop_on_first,
        coverage=opts.coverage,
        collapse=opts.collapse,
        step_memo=opts.step_memo,
    )
    tracker = Tracker(checks)
    progress = Progress(opts.progress, getattr(model, "name", "explore"))
    deadline = None if opts.max_seconds is None else started + opts.max_seconds
    part.seed(inits)
    part.end_level()
    tracker.add(part.findings)
    depth = 0
    while part.frontier and not (tracker.best is not None and opts.stop_on_first):
        admit = opts.max_depth is None or depth < opts.max_depth
        level_size = len(part.frontier)

        def tick(i: int, depth: int = depth, level_size: int = level_size) -> None:
            queue = level_size - i + len(part.next_frontier)
            progress.tick(part.distinct, part.generated, queue, depth)

        part.expand_level(depth, admit=admit, deadline=deadline, tick=tick if opts.progress else None)
        part.end_level()
        tracker.add(part.findings)
        if part.timed_out:
            break
        depth += 1
    progress.tick(part.distinct, part.generated, len(part.frontier), depth, force=True)
    stopped = tracker.best is not None and opts.stop_on_first
    complete = not part.frontier and not part.truncated and not part.timed_out and not stopped
    result = ExploreResult(
        distinct_states=part.distinct,
        states_generated=part.generated + len(inits),
        diameter=diameter(part.level_starts),
        complete=complete,
        verdicts=tracker.verdicts,
    )
    if part.coverage is not None:
        result.coverage = dict(sorted(part.coverage.items()))
    if tracker.best is not None:
        result.violation = violation_of(model, tracker.best, inits, part.step_of, checks)
    if checks.liveness_on and complete and (result.violation is None or not opts.stop_on_first):
        check_liveness_single(model, part, inits, result, opts)
    return result


def diameter(level_starts: list[int]) -> int:
    """The deepest BFS level holding a state (level d holds local indices level_starts[d:d+2])."""
    deepest = 0
    for d in range(len(level_starts) - 1):
        if level_starts[d + 1] > level_starts[d]:
            deepest = d
    return deepest


def check_liveness_single(
    model: Any, part: Partition, inits: list[Any], result: ExploreResult, opts: ExploreOptions
) -> None:
    goals = [
        (name, _goal_reader(array)) for (name, _), array in zip(part.checks.liveness, part.goals, strict=True)
    ]
    # one process: global id = dense id
    graph = StateGraph(part.distinct, part.edges_src, part.edges_dst, opts.scc)
    holds, lasso = find_lasso(graph, goals, part.depth_of)
    for name, ok in holds.items():
        result.verdicts[name] = HOLDS if ok else VIOLATED
    if lasso is None or result.violation is not None:
        return
    path = replay(model, inits, positions_to(lasso.entry, part.step_of))
    loop = len(path) - 1
    for gid in lasso.cycle[1:]:
        path.append(step_to(model, path[-1][1], gid, part.index.get, part.key_fp))
    result.violation = Violation(kind="liveness", property=lasso.property, path=path, loop=loop)


def _goal_reader(array: bytearray) -> Any:
    def goal(gid: int) -> bool:
        return array[gid] == 1

    return goal
