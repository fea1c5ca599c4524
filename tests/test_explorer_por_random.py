"""Partial-order reduction on random products of independent processes: the verdicts never change.

Each process has its own random local graph (cycles included, so the cycle proviso matters); a global
action moves one process, so actions of different processes are independent as the ``actor`` contract
requires. The invariant reads only the *watched* processes, whose actions are the visible ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkfle.model.explorer import ExploreOptions, explore
from zkfle.model.explorer.partition import Partition
from zkfle.model.explorer.spec import Action, Liveness

State = tuple[int, ...]


class Product:
    def __init__(self, locals_: list[list[tuple[int, int]]], watched: set[int], bad: set[State]) -> None:
        self.name = "product"
        self.moves = [{u: [v for a, v in graph if a == u] for u, _ in graph} for graph in locals_]
        self.k = len(locals_)
        self.watched = sorted(watched)
        self.bad = bad

    def init_states(self) -> list[State]:
        return [(0,) * self.k]

    def successors(self, state: State) -> list[tuple[Action, State]]:
        out = []
        for i, here in enumerate(state):
            for j, there in enumerate(self.moves[i].get(here, [])):
                out.append((("Move", i, j), (*state[:i], there, *state[i + 1 :])))
        return out

    def actor(self, action: Action) -> int:
        return int(action[1])

    def visible(self, action: Action) -> bool:
        return action[1] in self.watched

    @property
    def invariants(self) -> Mapping[str, Callable[[State], bool]]:
        return {"Good": lambda s: tuple(s[i] for i in self.watched) not in self.bad}

    @property
    def action_properties(self) -> Mapping[str, Callable[[State, Action, State], bool]]:
        return {}

    @property
    def liveness(self) -> Mapping[str, Liveness]:
        return {}


def local_graph(size: int) -> Any:
    return st.lists(st.tuples(st.integers(0, size - 1), st.integers(0, size - 1)), max_size=2 * size)


products = st.tuples(
    st.lists(st.integers(2, 4).flatmap(local_graph), min_size=2, max_size=4),
    st.sets(st.integers(0, 3), max_size=2),
    st.sets(st.tuples(st.integers(0, 3), st.integers(0, 3)), max_size=3),
)


def build(case: tuple[Any, ...]) -> Product:
    locals_, watched, bad_pairs = case
    watched = {w for w in watched if w < len(locals_)}
    arity = len(watched)
    bad = {pair[:arity] for pair in bad_pairs} if arity else set()
    return Product(locals_, watched, bad)


@settings(max_examples=300, deadline=None)
@given(products)
def test_por_keeps_every_verdict(case: tuple[Any, ...]) -> None:
    model = build(case)
    plain = explore(model, ExploreOptions(stop_on_first=False))
    reduced = explore(model, ExploreOptions(stop_on_first=False, por=True))
    assert reduced.verdicts == plain.verdicts
    assert reduced.distinct_states <= plain.distinct_states


@settings(max_examples=20, deadline=None)
@given(products)
def test_por_with_two_workers_matches_one(case: tuple[Any, ...]) -> None:
    model = build(case)
    one = explore(model, ExploreOptions(stop_on_first=False, por=True))
    two = explore(model, ExploreOptions(stop_on_first=False, por=True, workers=2))
    assert (two.verdicts, two.distinct_states, two.states_generated) == (
        one.verdicts, one.distinct_states, one.states_generated,
    )


def test_the_random_products_can_catch_a_missing_proviso(monkeypatch: pytest.MonkeyPatch) -> None:
    """The negative twin: without C3, a product with a spinning unwatched process loses its bug."""
    spin_then_bad = build(([[(0, 1), (1, 0)], [(0, 1)]], {1}, {(1, 0)}))
    assert explore(spin_then_bad, ExploreOptions(por=True)).exit_code == 12
    monkeypatch.setattr(Partition, "CYCLE_PROVISO", False)
    assert explore(spin_then_bad, ExploreOptions(por=True)).exit_code == 0
