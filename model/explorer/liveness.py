"""Liveness on the state graph: a goal must hold in every state of every reachable bottom SCC.

Theory of operation (fairness notion of ``spec.Liveness``): faults are finitely many and every action
enabled infinitely often is eventually taken, so every fair run ends up forever inside one bottom
strongly connected component (BSCC) of the reachable state graph; a state without successors is a BSCC
of its own, where the run stutters. The property holds iff its goal is true in every state of every
BSCC. The check runs after a complete safety search, on the edge list the search kept (two int arrays),
with networkx's condensation.

A violation is a lasso: the shortest BFS path to a state of the offending BSCC (its member of least
depth), then a path inside the BSCC to the nearest state where the goal is false, then back to the
entry. ``Violation.loop`` is the entry's index; the path's last state is the entry again. A BSCC with
one state and no self-loop gives a stuttering lasso (``loop == len(path) - 1``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import networkx as nx


@dataclass(frozen=True)
class Lasso:
    """A liveness violation as global ids: ``entry`` is reached by BFS, ``cycle`` runs entry ... entry."""

    property: str
    entry: int
    cycle: list[int]


def bottom_sccs(nodes: Iterable[int], edges: Iterable[tuple[int, int]]) -> tuple[nx.DiGraph, list[set[int]]]:
    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from(edges)
    dag = nx.condensation(graph)
    bottoms = [set(dag.nodes[c]["members"]) for c in dag.nodes if dag.out_degree(c) == 0]
    return graph, bottoms


def find_lasso(
    nodes: Iterable[int],
    edges: Iterable[tuple[int, int]],
    goals: list[tuple[str, Callable[[int], bool]]],
    depth_of: Callable[[int], int],
) -> tuple[dict[str, bool], Lasso | None]:
    """Per property whether it holds, and the lasso of the violation with the shortest prefix."""
    graph, bottoms = bottom_sccs(nodes, edges)
    holds: dict[str, bool] = {}
    best: tuple[int, int, int, str, set[int], list[int]] | None = None
    for rank, (name, goal) in enumerate(goals):
        holds[name] = True
        for members in bottoms:
            bad = [m for m in members if not goal(m)]
            if not bad:
                continue
            holds[name] = False
            entry = min(members, key=lambda m: (depth_of(m), m))
            key = (depth_of(entry), rank, entry)
            if best is None or key < best[:3]:
                best = (*key, name, members, bad)
    if best is None:
        return holds, None
    _, _, entry, name, members, bad = best
    return holds, Lasso(property=name, entry=entry, cycle=_cycle(graph, members, entry, set(bad)))


def _cycle(graph: nx.DiGraph, members: set[int], entry: int, bad: set[int]) -> list[int]:
    """entry -> nearest bad state -> entry, inside the BSCC; [] if the BSCC is a lone state (stutter)."""
    sub = graph.subgraph(members)
    if sub.number_of_edges() == 0:
        return []
    lengths = nx.single_source_shortest_path_length(sub, entry)
    target = entry if entry in bad else min(bad, key=lambda b: (lengths[b], b))
    if target == entry:
        if sub.has_edge(entry, entry):
            return [entry, entry]
        back = min(sub.successors(entry), key=lambda s: s)
        return [entry, *nx.shortest_path(sub, back, entry)]
    there = nx.shortest_path(sub, entry, target)
    back = nx.shortest_path(sub, target, entry)
    return [*there, *back[1:]]
