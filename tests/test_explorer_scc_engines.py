"""Liveness with either SCC engine (``ExploreOptions(scc=...)``, ``zkfle check --scc``): the compact Tarjan
and networkx must give the same components, verdicts and lassos."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkfle.cli import build_parser, main
from zkfle.errors import UserInputError
from zkfle.model.cli import build_model
from zkfle.model.explorer import ExploreOptions, explore, toys
from zkfle.model.explorer.liveness import StateGraph

graphs = st.integers(min_value=1, max_value=30).flatmap(
    lambda n: st.tuples(
        st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=3 * n)
    )
)


def partition(graph: StateGraph) -> tuple[set[frozenset[int]], set[frozenset[int]]]:
    """(every SCC, the bottom ones) as sets of states, whatever the engine numbered them."""
    comp, bottom = graph.bottom_components()
    groups: dict[int, set[int]] = {}
    for v in range(graph.n):
        groups.setdefault(comp[v], set()).add(v)
    every = {frozenset(g) for g in groups.values()}
    return every, {frozenset(g) for c, g in groups.items() if bottom[c]}


@settings(max_examples=200, deadline=None)
@given(graphs)
def test_both_engines_find_the_same_components(case: tuple[int, list[tuple[int, int]]]) -> None:
    n, edges = case
    src, dst = [u for u, _ in edges], [v for _, v in edges]
    assert partition(StateGraph(n, src, dst, "networkx")) == partition(StateGraph(n, src, dst, "tarjan"))


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("kind", ["livelock", "stuck"])
def test_both_engines_report_the_same_lasso(kind: str, workers: int) -> None:
    runs = [explore(toys.Livelock(4, kind), ExploreOptions(scc=scc, workers=workers))
            for scc in ("tarjan", "networkx")]
    assert [r.exit_code for r in runs] == [13, 13]  # the violation is seen by both (the checker says no)
    tarjan, nx = (r.violation for r in runs)
    assert tarjan is not None and nx is not None
    assert nx.property == tarjan.property and nx.loop == tarjan.loop
    assert [a for a, _ in nx.path] == [a for a, _ in tarjan.path]


def test_both_engines_agree_that_the_fle_model_terminates() -> None:
    args = build_parser().parse_args(["check", "--servers", "3", "--max-in-flight", "1"])
    runs = [explore(build_model(args), ExploreOptions(scc=scc)) for scc in ("tarjan", "networkx")]
    assert runs[0].verdicts["Termination"] == runs[1].verdicts["Termination"] == "holds"
    assert runs[0].distinct_states == runs[1].distinct_states > 10_000


def test_zkfle_check_takes_the_engine(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--scenario", "seed-first-start", "--scc", "networkx", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["properties"]["Termination"] == "holds" and out["complete"]


def test_an_unknown_engine_is_the_users_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UserInputError, match="unknown SCC engine 'igraph'"):
        explore(toys.Livelock(3, "ok"), ExploreOptions(scc="igraph"))
    with pytest.raises(SystemExit) as exc:
        main(["check", "--servers", "3", "--scc", "igraph"])
    assert exc.value.code == 2
    assert "invalid choice: 'igraph'" in capsys.readouterr().err
