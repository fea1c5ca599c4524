"""The explorer's own SCC code (compressed rows, iterative Tarjan) against networkx, on random graphs."""

from __future__ import annotations

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from zkfle.model.explorer.liveness import StateGraph, find_lasso

graphs = st.integers(min_value=1, max_value=25).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=3 * n),
        st.lists(st.booleans(), min_size=n, max_size=n),
    )
)


Case = tuple[int, list[tuple[int, int]], list[bool]]


def networkx_bottoms(n: int, edges: list[tuple[int, int]]) -> set[frozenset[int]]:
    graph = nx.DiGraph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from(edges)
    dag = nx.condensation(graph)
    return {frozenset(dag.nodes[c]["members"]) for c in dag.nodes if dag.out_degree(c) == 0}


def ours(n: int, edges: list[tuple[int, int]]) -> tuple[StateGraph, set[frozenset[int]]]:
    graph = StateGraph(n, [u for u, _ in edges], [v for _, v in edges])
    comp, bottom = graph.bottom_components()
    groups: dict[int, set[int]] = {}
    for v in range(n):
        if bottom[comp[v]]:
            groups.setdefault(comp[v], set()).add(v)
    return graph, {frozenset(g) for g in groups.values()}


@settings(max_examples=300, deadline=None)
@given(graphs)
def test_bottom_sccs_match_networkx(case: Case) -> None:
    n, edges, _ = case
    assert ours(n, edges)[1] == networkx_bottoms(n, edges)


@settings(max_examples=300, deadline=None)
@given(graphs)
def test_lassos_are_real_cycles_through_a_bad_state(case: Case) -> None:
    n, edges, good = case
    graph, bottoms = ours(n, edges)
    holds, lasso = find_lasso(graph, [("P", lambda v: good[v])], depth_of=lambda v: v)
    expected = all(good[v] for members in bottoms for v in members)
    assert holds["P"] == expected
    assert (lasso is None) == expected
    if lasso is None:
        return
    members = next(m for m in bottoms if lasso.entry in m)
    assert lasso.entry == min(members)  # depth_of is the id here: the entry is the shallowest member
    edge_set = set(edges)
    if not lasso.cycle:
        assert members == {lasso.entry} and (lasso.entry, lasso.entry) not in edge_set
        assert not good[lasso.entry]
        return
    assert lasso.cycle[0] == lasso.cycle[-1] == lasso.entry
    assert all((u, v) in edge_set for u, v in zip(lasso.cycle, lasso.cycle[1:], strict=False))
    assert set(lasso.cycle) <= members
    assert not all(good[v] for v in lasso.cycle)


def test_a_wrong_scc_would_be_caught() -> None:
    """The negative twin: the oracle sees the difference between a cycle and a chain."""
    assert networkx_bottoms(3, [(0, 1), (1, 2), (2, 0)]) == {frozenset({0, 1, 2})}
    assert networkx_bottoms(3, [(0, 1), (1, 2)]) == {frozenset({2})}
    assert ours(3, [(0, 1), (1, 2)])[1] != ours(3, [(0, 1), (1, 2), (2, 0)])[1]
