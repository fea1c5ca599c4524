"""``bench(model, workers)``: how fast the explorer runs and how much memory a visited state costs.

Theory of operation. The search runs in a fresh forked child process (so earlier allocations of the
caller do not count), exhaustively, with the model's properties checked as in a real run. Reported:

- ``states_per_second``: distinct states / wall-clock seconds of the search;
- ``states_per_cpu_second``: distinct states / CPU seconds of every process involved (robust when the
  machine is shared: wall time then includes waiting for a core);
- ``bytes_per_state``: growth of resident memory (peak minus the level at the start, summed over the
  coordinator and the workers) / distinct states. It includes the visited set, the parent arrays and
  the frontier, i.e. everything the search keeps.

Run ``python -m zkfle.model.explorer.bench [workers...]`` for the toy benchmarks as JSON lines.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import sys
import time
from multiprocessing.connection import Connection
from typing import Any

from zkfle.errors import InternalError
from zkfle.model.explorer.bfs import explore
from zkfle.model.explorer.memory import peak_rss, reset_peak, rss
from zkfle.model.explorer.result import ExploreOptions

CHILD_TIMEOUT_SECONDS = 3600.0


def _child(conn: Connection, model: Any, opts: ExploreOptions) -> None:
    try:
        reset_peak()
        baseline = rss()
        cpu0 = time.process_time()
        result = explore(model, opts)
        own_cpu = time.process_time() - cpu0
        own_memory = max(peak_rss() - baseline, 0)
        conn.send(("ok", result.to_json(), own_cpu, own_memory, result.worker_stats))
    except BaseException as exc:  # reported to the parent, which raises
        conn.send(("error", f"{type(exc).__name__}: {exc}", 0.0, 0, []))
    finally:
        conn.close()


def bench(model: Any, workers: int = 1, opts: ExploreOptions | None = None) -> dict[str, Any]:
    """Explore ``model`` exhaustively in a child process with ``workers`` workers; rates and memory."""
    opts = opts or ExploreOptions(check_liveness=False)
    opts = ExploreOptions(**{**opts.__dict__, "workers": workers, "progress": False})
    methods = multiprocessing.get_all_start_methods()
    context: Any = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    ours, theirs = context.Pipe()
    proc = context.Process(target=_child, args=(theirs, model, opts))
    proc.start()
    theirs.close()
    try:
        if not ours.poll(CHILD_TIMEOUT_SECONDS):
            raise InternalError(f"bench of {getattr(model, 'name', '?')} did not finish in time")
        status, summary, own_cpu, own_memory, worker_stats = ours.recv()
    finally:
        proc.join(10)
        if proc.is_alive():
            proc.terminate()
            proc.join(10)
        ours.close()
    if status != "ok":
        raise InternalError(f"bench of {getattr(model, 'name', '?')} failed: {summary}")
    distinct = max(summary["distinct_states"], 1)
    cpu = own_cpu + sum(w["cpu_seconds"] for w in worker_stats)
    memory = own_memory + sum(max(w["peak_memory_bytes"], 0) for w in worker_stats)
    return {
        "model": getattr(model, "name", "?"),
        "workers": workers,
        "distinct_states": summary["distinct_states"],
        "states_generated": summary["states_generated"],
        "seconds": summary["seconds"],
        "cpu_seconds": round(cpu, 3),
        "states_per_second": round(summary["distinct_states"] / max(summary["seconds"], 1e-9)),
        "states_per_cpu_second": round(summary["distinct_states"] / max(cpu, 1e-9)),
        "bytes_per_state": round(memory / distinct, 1),
        "complete": summary["complete"],
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }


def toy_benchmarks() -> list[Any]:
    """The toy models ``make bench`` measures: flat tuples with known state counts."""
    from zkfle.model.explorer import toys

    return [toys.Counters(3, 100), toys.TokenRing(30, 5)]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    worker_counts = [int(a) for a in args] or [1, 2]
    for model in toy_benchmarks():
        for workers in worker_counts:
            print(json.dumps(bench(model, workers)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
