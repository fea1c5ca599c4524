"""Liveness on the state graph: a goal must hold in every state of every reachable bottom SCC.

Theory of operation (fairness notion of ``spec.Liveness``): faults are finitely many and every action
enabled infinitely often is eventually taken, so every fair run ends up forever inside one bottom
strongly connected component (BSCC) of the reachable state graph; a state without successors is a BSCC
of its own, where the run stutters. The property holds iff its goal is true in every state of every
BSCC. The check runs after a complete safety search, on the edge list the search kept.

The graph is held in compressed sparse rows (two int arrays) and the SCCs come, by default, from an
iterative Tarjan over those arrays: about 40 bytes per state and 8 per edge. ``scc="networkx"`` computes
them with networkx instead (``strongly_connected_components`` on a ``DiGraph`` built from the same
rows), at well over a kilobyte per state: the independent check, also the tests' oracle. Everything
after the SCCs (bottom components, lassos) is shared. States are dense ids ``0..n-1``.

A violation is a lasso: the shortest BFS path to a state of the offending BSCC (its member of least
depth, the *entry*), then a path inside the BSCC to the nearest state where the goal is false, then back
to the entry. ``Violation.loop`` is the entry's index; the path's last state is the entry again. A BSCC
with one state and no self-loop gives a stuttering lasso (``loop == len(path) - 1``). Among violated
properties, the one whose lasso has the shortest prefix is reported.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from zkfle.errors import UserInputError

UNSEEN = -1
SCC_ENGINES = ("tarjan", "networkx")


@dataclass(frozen=True)
class Lasso:
    """A liveness violation as dense ids: ``entry`` is reached by BFS, ``cycle`` runs entry ... entry."""

    property: str
    entry: int
    cycle: list[int]


class StateGraph:
    """The reachable graph in compressed sparse rows: v's successors are targets[offsets[v]:offsets[v+1]]."""

    def __init__(self, n: int, src: Sequence[int], dst: Sequence[int], scc: str = "tarjan") -> None:
        if scc not in SCC_ENGINES:
            raise UserInputError(f"unknown SCC engine {scc!r}: choose one of {', '.join(SCC_ENGINES)}")
        self.n = n
        self.scc = scc
        counts = array("q", bytes(8 * (n + 1)))
        for u in src:
            counts[u + 1] += 1
        for v in range(n):
            counts[v + 1] += counts[v]
        self.offsets = array("q", counts)
        fill = array("q", counts)
        self.targets = array("q", bytes(8 * len(src)))
        for u, v in zip(src, dst, strict=True):
            self.targets[fill[u]] = v
            fill[u] += 1

    def successors(self, v: int) -> array[int]:
        return self.targets[self.offsets[v] : self.offsets[v + 1]]

    def components(self) -> tuple[array[int], int]:
        """(component id of every state, number of components), by the chosen engine."""
        if self.scc == "networkx":
            return self._networkx_components()
        return self._tarjan_components()

    def _networkx_components(self) -> tuple[array[int], int]:
        """networkx's strongly connected components of the same graph."""
        import networkx as nx

        graph = nx.DiGraph()
        graph.add_nodes_from(range(self.n))
        offsets, targets = self.offsets, self.targets
        edges = ((u, targets[e]) for u in range(self.n) for e in range(offsets[u], offsets[u + 1]))
        graph.add_edges_from(edges)
        comp = array("q", [UNSEEN]) * self.n
        count = 0
        for members in nx.strongly_connected_components(graph):
            for v in members:
                comp[v] = count
            count += 1
        return comp, count

    def _tarjan_components(self) -> tuple[array[int], int]:
        """Tarjan's SCCs, iteratively: (component id of every state, number of components)."""
        n, offsets, targets = self.n, self.offsets, self.targets
        index = array("q", [UNSEEN]) * n
        low = array("q", [0]) * n
        comp = array("q", [UNSEEN]) * n
        on_stack = bytearray(n)
        stack: list[int] = []
        counter = 0
        count = 0
        for root in range(n):
            if index[root] != UNSEEN:
                continue
            index[root] = low[root] = counter
            counter += 1
            stack.append(root)
            on_stack[root] = 1
            calls = [[root, offsets[root]]]
            while calls:
                frame = calls[-1]
                v, edge = frame
                if edge < offsets[v + 1]:
                    frame[1] = edge + 1
                    w = targets[edge]
                    if index[w] == UNSEEN:
                        index[w] = low[w] = counter
                        counter += 1
                        stack.append(w)
                        on_stack[w] = 1
                        calls.append([w, offsets[w]])
                    elif on_stack[w] and index[w] < low[v]:
                        low[v] = index[w]
                    continue
                calls.pop()
                if calls:
                    parent = calls[-1][0]
                    if low[v] < low[parent]:
                        low[parent] = low[v]
                if low[v] == index[v]:
                    while True:
                        w = stack.pop()
                        on_stack[w] = 0
                        comp[w] = count
                        if w == v:
                            break
                    count += 1
        return comp, count

    def bottom_components(self) -> tuple[array[int], bytearray]:
        """(component of every state, 1 for each component no edge leaves)."""
        comp, count = self.components()
        bottom = bytearray(b"\x01") * count
        offsets, targets = self.offsets, self.targets
        for u in range(self.n):
            cu = comp[u]
            if bottom[cu]:
                for e in range(offsets[u], offsets[u + 1]):
                    if comp[targets[e]] != cu:
                        bottom[cu] = 0
                        break
        return comp, bottom


def find_lasso(
    graph: StateGraph,
    goals: list[tuple[str, Callable[[int], bool]]],
    depth_of: Callable[[int], int],
) -> tuple[dict[str, bool], Lasso | None]:
    """Per property whether it holds, and the lasso of the violation with the shortest prefix."""
    comp, bottom = graph.bottom_components()
    entry: dict[int, int] = {}
    for v in range(graph.n):
        c = comp[v]
        if bottom[c] and (c not in entry or (depth_of(v), v) < (depth_of(entry[c]), entry[c])):
            entry[c] = v
    holds: dict[str, bool] = {}
    best: tuple[int, int, int, str, int] | None = None
    for rank, (name, goal) in enumerate(goals):
        bad_components = {comp[v] for v in range(graph.n) if bottom[comp[v]] and not goal(v)}
        holds[name] = not bad_components
        for c in bad_components:
            key = (depth_of(entry[c]), rank, entry[c])
            if best is None or key < best[:3]:
                best = (*key, name, c)
    if best is None:
        return holds, None
    _, rank, start, name, c = best
    goal = goals[rank][1]
    return holds, Lasso(property=name, entry=start, cycle=_cycle(graph, comp, c, start, goal))


def _cycle(
    graph: StateGraph, comp: array[int], c: int, entry: int, goal: Callable[[int], bool]
) -> list[int]:
    """entry -> nearest state failing the goal -> entry, inside component c; [] for a lone stutterer."""
    inside = [w for w in graph.successors(entry) if comp[w] == c]
    if not inside:
        return []
    if not goal(entry):
        if entry in inside:
            return [entry, entry]
        return [entry, *_shortest(graph, comp, c, min(inside), lambda v: v == entry)]
    there = _shortest(graph, comp, c, entry, lambda v: not goal(v))
    back = _shortest(graph, comp, c, there[-1], lambda v: v == entry)
    return [*there, *back[1:]]


def _shortest(
    graph: StateGraph, comp: array[int], c: int, start: int, stop: Callable[[int], bool]
) -> list[int]:
    """BFS inside component c from start to the first state satisfying stop (start itself included)."""
    parent = {start: start}
    queue = deque([start])
    while queue:
        v = queue.popleft()
        if stop(v):
            path = [v]
            while path[-1] != start:
                path.append(parent[path[-1]])
            path.reverse()
            return path
        for w in graph.successors(v):
            if comp[w] == c and w not in parent:
                parent[w] = v
                queue.append(w)
    raise AssertionError("a strongly connected component must reach its own states")
