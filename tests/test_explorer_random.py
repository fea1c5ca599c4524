"""Random transition systems: the explorer's counts and shortest counterexamples against a plain BFS."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from zkfle.model.explorer import ExploreOptions, explore
from zkfle.model.explorer.spec import Action, Liveness

State = tuple[int, ...]


class RandomSystem:
    """States (v,), v < n; edges from a list; bad states break ``Good``; bad edges break ``GoodStep``."""

    def __init__(self, n: int, edges: list[tuple[int, int]], bad: set[int], bad_edges: set[int]) -> None:
        self.name = "random"
        self.n = n
        self.out: dict[int, list[tuple[int, int]]] = {}
        for k, (u, v) in enumerate(edges):
            self.out.setdefault(u, []).append((k, v))
        self.bad, self.bad_edges = bad, bad_edges

    def init_states(self) -> list[State]:
        return [(0,)]

    def successors(self, state: State) -> list[tuple[Action, State]]:
        return [(("Go", k), (v,)) for k, v in self.out.get(state[0], [])]

    @property
    def invariants(self) -> Mapping[str, Callable[[State], bool]]:
        return {"Good": lambda s: s[0] not in self.bad}

    @property
    def action_properties(self) -> Mapping[str, Callable[[State, Action, State], bool]]:
        return {"GoodStep": lambda s, a, t: a[1] not in self.bad_edges}

    @property
    def liveness(self) -> Mapping[str, Liveness]:
        return {}


def expected(system: RandomSystem, deadlock: bool) -> tuple[int, int | None]:
    """(reachable states, length of the shortest counterexample or None), by a plain BFS."""
    depth = {0: 0}
    queue = deque([0])
    while queue:
        u = queue.popleft()
        for _, v in system.out.get(u, []):
            if v not in depth:
                depth[v] = depth[u] + 1
                queue.append(v)
    lengths = [d for v, d in depth.items() if v in system.bad]
    lengths += [d + 1 for u, d in depth.items() for k, _ in system.out.get(u, []) if k in system.bad_edges]
    if deadlock:
        lengths += [d for u, d in depth.items() if not system.out.get(u)]
    return len(depth), min(lengths, default=None)


systems = st.integers(min_value=1, max_value=14).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=3 * n),
        st.sets(st.integers(0, n - 1), max_size=2),
        st.sets(st.integers(0, 3 * n), max_size=2),
        st.booleans(),
    )
)


def check(case: tuple[Any, ...], workers: int) -> None:
    n, edges, bad, bad_edges, deadlock = case
    system = RandomSystem(n, edges, bad, bad_edges)
    reachable, shortest = expected(system, deadlock)
    whole = explore(system, ExploreOptions(stop_on_first=False, check_deadlock=deadlock, workers=workers))
    assert whole.distinct_states == reachable
    first = explore(system, ExploreOptions(check_deadlock=deadlock, workers=workers))
    if shortest is None:
        assert first.violation is None and first.exit_code == 0 and first.complete
    else:
        assert first.violation is not None and len(first.violation) == shortest
        assert whole.violation is not None and len(whole.violation) == shortest


@settings(max_examples=250, deadline=None)
@given(systems)
def test_one_process_matches_plain_bfs(case: tuple[Any, ...]) -> None:
    check(case, 1)


@settings(max_examples=25, deadline=None)
@given(systems)
def test_two_workers_match_plain_bfs(case: tuple[Any, ...]) -> None:
    check(case, 2)


def test_the_oracle_sees_a_longer_path() -> None:
    """The negative twin: moving the bad state one step further changes the expected length."""
    near = RandomSystem(3, [(0, 1), (1, 2)], {1}, set())
    far = RandomSystem(3, [(0, 1), (1, 2)], {2}, set())
    assert expected(near, False)[1] == 1 and expected(far, False)[1] == 2
    assert len(explore(far).violation or []) == 2
