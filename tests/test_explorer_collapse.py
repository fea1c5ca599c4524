"""Collapse compression, the compact visited set and the invariant memo, each against a plain reference.

Every check here has a twin that must fail: a component table keyed too coarsely, an invariant memo told
that an invariant reads less than it does, an archive that is not kept sorted.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from zkfle.errors import InternalError
from zkfle.model.explorer import ExploreOptions, explore
from zkfle.model.explorer import partition as partition_module
from zkfle.model.explorer import visited as visited_module
from zkfle.model.explorer.collapse import CollapsedStates, ComponentTable, InvariantMemo
from zkfle.model.explorer.spec import Action, Liveness
from zkfle.model.explorer.visited import BUCKET_SHIFT, VisitedSet

State = tuple[Any, ...]


class Registers:
    """``k`` registers ``(value, writes)`` plus a step counter; random moves between them.

    The components are the registers and the counter. ``Bad`` reads registers 0 and 1 only (it says so
    in ``invariant_reads``); ``reads`` can be set narrower to build the memo's twin.
    """

    def __init__(
        self, seed: int, k: int = 3, m: int = 4, steps: int = 4, reads: tuple[int, ...] = (0, 1)
    ) -> None:
        rng = random.Random(seed)
        self.name = f"registers-{seed}"
        self.k, self.m, self.steps = k, m, steps
        self.add = [rng.randrange(1, m) for _ in range(k)]
        self.copies = [(r, q) for r in range(k) for q in range(k) if r != q and rng.random() < 0.4]
        self.bad = (rng.randrange(m), rng.randrange(m))
        self.reads = reads

    def init_states(self) -> list[State]:
        return [(tuple((0, 0) for _ in range(self.k)), (0,))]

    def successors(self, state: State) -> list[tuple[Action, State]]:
        regs, (t,) = state
        out: list[tuple[Action, State]] = []
        if t >= self.steps:
            return out
        for r in range(self.k):
            v, writes = regs[r]
            new = (*regs[:r], ((v + self.add[r]) % self.m, min(writes + 1, 2)), *regs[r + 1 :])
            out.append((("Inc", r), (new, (t + 1,))))
        for r, q in self.copies:
            new = (*regs[:r], (regs[q][0], regs[r][1]), *regs[r + 1 :])
            out.append((("Copy", r, q), (new, (t + 1,))))
        return out

    def components(self, state: State) -> tuple[Any, ...]:
        return (*state[0], state[1])

    def assemble(self, parts: list[Any]) -> State:
        return (tuple(parts[:-1]), parts[-1])

    def invariant_reads(self, name: str) -> tuple[int, ...] | None:
        return self.reads if name == "Bad" else None

    def is_terminal(self, state: State) -> bool:
        return state[1][0] >= self.steps

    @property
    def invariants(self) -> Mapping[str, Callable[[State], bool]]:
        return {"Bad": lambda s: (s[0][0][0], s[0][1][0]) != self.bad}

    @property
    def action_properties(self) -> Mapping[str, Callable[[State, Action, State], bool]]:
        return {}

    @property
    def liveness(self) -> Mapping[str, Liveness]:
        return {}


def reference(model: Registers) -> tuple[int, int | None]:
    """(reachable states, depth of the shallowest Bad state) by a BFS over whole states."""
    init = model.init_states()[0]
    depth = {init: 0}
    queue = deque([init])
    while queue:
        state = queue.popleft()
        for _, nxt in model.successors(state):
            if nxt not in depth:
                depth[nxt] = depth[state] + 1
                queue.append(nxt)
    bad = [d for s, d in depth.items() if not model.invariants["Bad"](s)]
    return len(depth), min(bad, default=None)


def summary(model: Any, **options: Any) -> tuple[int, int | None]:
    result = explore(model, ExploreOptions(stop_on_first=False, check_liveness=False, **options))
    shortest = len(result.violation) if result.violation is not None else None
    return result.distinct_states, shortest


SEEDS = range(12)


@pytest.mark.parametrize("seed", SEEDS)
def test_collapsed_search_equals_a_plain_bfs(seed: int) -> None:
    model = Registers(seed)
    assert summary(model) == reference(model)
    assert summary(model, collapse=False) == reference(model)


def test_collapsed_search_with_two_workers_equals_a_plain_bfs() -> None:
    for seed in (1, 2):
        model = Registers(seed)
        assert summary(model, workers=2) == reference(model)


class CoarseTable(ComponentTable):
    """The twin: components are told apart by their first field only (a cache keyed too coarsely)."""

    def intern(self, part: Any) -> int:
        key = (len(part), part[0])  # a register's write count is left out of the key
        known = self.by_content.get(key)
        if known is not None:
            return known
        self.parts.append(part)
        self.by_content[key] = self.by_address[id(part)] = len(self.parts) - 1
        return len(self.parts) - 1


def test_a_table_keyed_too_coarsely_changes_the_count(monkeypatch: pytest.MonkeyPatch) -> None:
    model = Registers(3)
    expected = reference(model)
    assert summary(model) == expected
    monkeypatch.setattr(partition_module, "ComponentTable", CoarseTable)
    assert summary(model)[0] != expected[0]


def test_the_invariant_memo_finds_every_violation_the_plain_search_finds() -> None:
    found = 0
    for seed in SEEDS:
        model = Registers(seed)
        expected = reference(model)
        assert summary(model)[1] == expected[1]
        found += expected[1] is not None
    assert found >= 3  # the seeds do exercise violations


def test_an_invariant_memo_told_too_little_misjudges() -> None:
    """The twin: ``Bad`` declared as reading register 0 alone is judged on the first state per value."""
    differs = 0
    for seed in SEEDS:
        right = reference(Registers(seed))
        twin = Registers(seed, reads=(0,))
        differs += summary(twin)[1] != right[1]
    assert differs > 0


def test_memo_keeps_the_order_of_the_checks() -> None:
    checks = (("A", lambda s: False), ("B", lambda s: False), ("C", lambda s: False))

    class Reads:
        def invariant_reads(self, name: str) -> tuple[int, ...] | None:
            return (0,) if name in ("A", "C") else None

    memo = InvariantMemo(Reads(), checks)
    assert memo.failed(("x",), [1]) == ["A", "B", "C"]
    assert memo.failed(("x",), [1]) == ["A", "B", "C"]  # the memoised answer


def test_round_trip_of_components_is_checked() -> None:
    class Broken(Registers):
        def assemble(self, parts: list[Any]) -> State:
            return (tuple(reversed(parts[:-1])), parts[-1])

    model = Broken(0)
    model.init_states = lambda: [(((1, 0), (2, 0), (3, 0)), (0,))]  # type: ignore[method-assign]
    with pytest.raises(InternalError, match="assemble"):
        explore(model, ExploreOptions(check_liveness=False))


def test_component_table_stores_each_component_once_and_finds_it_by_identity() -> None:
    model = Registers(0)
    table = ComponentTable(model.components, model.assemble)
    state = model.init_states()[0]
    ids = table.encode(state)
    assert len(table) == 2  # one register value (0, 0), one counter
    rebuilt = table.decode(ids)
    assert rebuilt == state
    # a successor keeps the parts it did not change: the same stored objects
    _, nxt = model.successors(rebuilt)[0]
    assert nxt[0][1] is rebuilt[0][1]
    assert table.decode(table.encode(nxt)) == nxt
    level = CollapsedStates(table)
    level.append(state)
    level.append(nxt)
    assert len(level) == 2 and list(level) == [state, nxt] and level[1] == nxt


def test_component_count_must_not_change() -> None:
    model = Registers(0)
    table = ComponentTable(model.components, model.assemble)
    table.encode(model.init_states()[0])
    with pytest.raises(InternalError, match="parts"):
        table.encode((((0, 0),), (0,)))


# ---------------------------------------------------------------------------------------------- visited set
@pytest.mark.parametrize("merge_at_least", [64, 4096])
def test_visited_set_equals_a_python_set_across_levels(
    monkeypatch: pytest.MonkeyPatch, merge_at_least: int
) -> None:
    monkeypatch.setattr(visited_module, "MERGE_AT_LEAST", merge_at_least)  # many merges, or few
    rng = random.Random(7)
    visited, reference_set = VisitedSet(), set()
    for _ in range(30):
        for _ in range(rng.randrange(0, 400)):
            fp = rng.getrandbits(64) if rng.random() < 0.7 else rng.choice([0, 1, 2**64 - 1, 2**63])
            assert (fp in visited) == (fp in reference_set)
            if fp not in visited:
                visited.add(fp)
                reference_set.add(fp)
        visited.close_level()
        for fp in [rng.getrandbits(64) for _ in range(50)] + rng.sample(sorted(reference_set), 20):
            assert (fp in visited) == (fp in reference_set)
    assert len(visited) == len(reference_set)
    assert visited.archived > 0
    assert all(list(bucket) == sorted(bucket) for bucket in visited.archive)


def test_an_unsorted_archive_loses_states() -> None:
    """The twin: a bucket appended to without sorting makes bisect miss fingerprints it holds."""
    visited = VisitedSet()
    top = 5 << BUCKET_SHIFT
    for fp in (top + 9, top + 3, top + 7):
        visited.add(fp)
    visited.close_level()
    visited.merge()
    assert all(fp in visited for fp in (top + 9, top + 3, top + 7))
    visited.archive[5].append(top + 1)  # out of order
    assert (top + 1) not in visited  # what a non-sorting close_level would do


# ---------------------------------------------------------------------------------------------- FLE
def _fle(argv: list[str]) -> Any:
    from zkfle.cli import build_parser
    from zkfle.model.cli import build_model

    return build_model(build_parser().parse_args(argv))


def _facts(model: Any, **options: Any) -> tuple[Any, ...]:
    result = explore(model, ExploreOptions(**options))
    path = None
    if result.violation is not None:
        path = (result.violation.kind, result.violation.property, result.violation.loop,
                tuple(step for step, _ in result.violation.path), tuple(s for _, s in result.violation.path))
    return (result.distinct_states, result.states_generated, result.diameter, result.complete,
            tuple(sorted(result.verdicts.items())), path)


@pytest.mark.parametrize("argv, options", [
    (["check", "--scenario", "weighted"], {}),  # liveness on: the whole graph
    (["check", "--scenario", "weighted"], {"workers": 2}),
    (["check", "--scenario", "fresh-3-small"], {"check_liveness": False}),
    (["check", "--scenario", "mixed-epochs", "--mutant", "ZK-1419", "--timeouts", "1"], {}),
    (["check", "--scenario", "leader-restart-small", "--mutant", "ZK-275"], {"check_liveness": False}),
])
def test_fle_search_is_the_same_with_and_without_collapse(argv: list[str], options: dict[str, Any]) -> None:
    """Counts, depth, verdicts and the counterexample itself (its steps and states) do not change."""
    assert _facts(_fle(argv), **options) == _facts(_fle(argv), collapse=False, **options)


def test_fle_components_round_trip_and_server_only_invariants() -> None:
    model = _fle(["check", "--scenario", "seed-reelection"])
    state = model.init_states()[0]
    parts = model.components(state)
    assert len(parts) == model.n + model.n * model.n + 1
    assert model.assemble(list(parts)) == state
    for name in ("OneLeaderPerEpoch", "Agreement", "ValidVote", "VoteIsBestSeen"):
        assert model.invariant_reads(name) == tuple(range(model.n))
    assert model.invariant_reads("ExpectedOutcome") is None  # a scenario's own invariant: the whole state


class _NoReceipts(dict[Any, Any]):
    """No cache: every delivery computes ``_receive`` afresh (the reference)."""

    def __setitem__(self, key: Any, value: Any) -> None:
        pass


class _CoarseReceipts(dict[Any, Any]):
    """The twin: receipts keyed without the notification (a cache keyed too coarsely)."""

    def get(self, key: Any, default: Any = None) -> Any:
        return super().get(key[:3], default)

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key[:3], value)


@pytest.mark.parametrize("scenario", ["weighted"])
def test_fle_receipt_cache_changes_nothing_and_its_coarse_twin_does(scenario: str) -> None:
    argv = ["check", "--scenario", scenario]
    cached = _fle(argv)
    plain = _fle(argv)
    plain._receipts = _NoReceipts()
    twin = _fle(argv)
    twin._receipts = _CoarseReceipts()
    assert _facts(cached, check_liveness=False) == _facts(plain, check_liveness=False)
    assert len(cached._receipts) > 0 and len(plain._receipts) == 0
    assert _facts(twin, check_liveness=False)[:2] != _facts(plain, check_liveness=False)[:2]


# ---------------------------------------------------------------------------------------------- action filter
def _becomes_leader(before: State, after: State) -> bool:
    from zkfle.model import fle
    from zkfle.model.vote import LEADING

    pairs = zip(before[0], after[0], strict=True)
    return any(t[fle.ST] == LEADING and s[fle.ST] != LEADING for s, t in pairs)


def _proposal_changes(before: State, after: State) -> bool:
    from zkfle.model import fle
    from zkfle.model.vote import LOOKING

    fields = (fle.PL, fle.PZ, fle.PE)
    return any(
        s[fle.ALIVE] == t[fle.ALIVE] == fle.UP and s[fle.ST] == t[fle.ST] == LOOKING
        and s[fle.RND] == t[fle.RND] and any(s[f] != t[f] for f in fields)
        for s, t in zip(before[0], after[0], strict=True)
    )


def _steps_taking(model: Any, happens: Callable[[State, State], bool], limit: int = 30000) -> set[str]:
    """The action names of the steps (of a BFS over ``model``) where ``happens(before, after)``."""
    seen = set(model.init_states())
    queue = deque(seen)
    names: set[str] = set()
    while queue and len(seen) < limit:
        state = queue.popleft()
        for action, nxt in model.successors(state):
            if happens(state, nxt):
                names.add(action[0])
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return names


def test_fle_action_properties_are_skipped_only_on_steps_that_cannot_violate_them() -> None:
    """Every step that makes a leader or changes a LOOKING proposal within a round is of a declared action."""
    leaders: set[str] = set()
    changes: set[str] = set()
    for argv in (["check", "--scenario", "seed-reelection"],
                 ["check", "--scenario", "leader-crash", "--max-in-flight", "1", "--crashes", "1"]):
        model = _fle(argv)
        leaders |= _steps_taking(model, _becomes_leader)
        changes |= _steps_taking(model, _proposal_changes)
        assert leaders <= model.flagged_by("LeaderCompleteness")
        assert changes <= model.flagged_by("NoVoteCircle")
    # the searches exercise the declared actions: a smaller set would miss some of these steps (a
    # re-queued FOLLOWING/LEADING vote could also make a leader; these searches do not meet one)
    assert leaders >= {"Deliver", "FinalizeExpire"}
    assert changes == {"Deliver", "ProcessRequeued"}


def test_an_action_filter_missing_a_step_misses_the_violation() -> None:
    """The twin: NoVoteCircle declared as violable only by FinalizeExpire; ZK-1419's circle is not seen."""
    from zkfle.model import properties

    argv = ["check", "--scenario", "mixed-epochs", "--mutant", "ZK-1419", "--timeouts", "1"]
    right = explore(_fle(argv), ExploreOptions(check_liveness=False, max_states=5000))
    assert right.verdicts["NoVoteCircle"] == "violated"
    twin = _fle(argv)
    prop = twin.action_properties["NoVoteCircle"]
    setattr(prop, properties.FLAGGED_BY, frozenset({"FinalizeExpire"}))
    wrong = explore(twin, ExploreOptions(check_liveness=False, max_states=5000))
    assert wrong.verdicts["NoVoteCircle"] == "holds"
