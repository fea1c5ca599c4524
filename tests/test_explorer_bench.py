"""bench(model, workers) measures a real, complete search in a child process (no speed asserted)."""

from __future__ import annotations

import multiprocessing

import pytest

from zkfle.errors import InternalError
from zkfle.model.explorer import toys
from zkfle.model.explorer.bench import bench


@pytest.mark.parametrize("workers", [1, 2])
def test_bench_reports_rates_and_memory_of_a_complete_search(workers: int) -> None:
    model = toys.Counters(3, 30)
    report = bench(model, workers)
    assert report["distinct_states"] == model.expected_states()
    assert report["complete"] is True
    assert report["workers"] == workers
    assert report["states_per_second"] > 0 and report["states_per_cpu_second"] > 0
    assert report["bytes_per_state"] > 0
    assert multiprocessing.active_children() == []


def test_bench_of_a_broken_model_fails_loudly() -> None:
    class Broken(toys.Counters):
        def successors(self, state: tuple[int, ...]) -> list[tuple[tuple[str, int], tuple[int, ...]]]:
            raise RuntimeError("model bug")

    with pytest.raises(InternalError, match="model bug"):
        bench(Broken(2, 3), 1)
