"""bench(model, workers) measures a real, complete search in a child process (no speed asserted)."""

from __future__ import annotations

import json
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


def test_model_bench_measures_the_config_after_the_separator(capsys: pytest.CaptureFixture[str]) -> None:
    from zkfle.model import bench as model_bench

    assert model_bench.main(["1", "--", "--scenario", "seed-first-start"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["command"], r["distinct_states"], r["complete"]) for r in rows] == [
        ("zkfle check --scenario seed-first-start", 112, True)
    ]
