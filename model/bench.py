"""``python -m zkfle.model.bench [workers...]``: the explorer's speed and memory on the FLE model itself.

Measures, with ``zkfle.model.explorer.bench.bench`` (a fresh child process per run), the fixed configs that
docs/BENCHMARKS.md quotes: ``zkfle check --servers 3`` (fifo) and ``--channel zk``, safety properties only
(liveness keeps the whole graph in memory and is measured by ``zkfle check-model``). One JSON line per run.
``python -m zkfle.model.bench 2 -- --servers 3 --late-current-vote`` measures another ``zkfle check`` config.
"""

from __future__ import annotations

import json
import sys

from zkfle.cli import build_parser
from zkfle.model.cli import build_model
from zkfle.model.explorer import ExploreOptions
from zkfle.model.explorer.bench import bench

CONFIGS: tuple[tuple[str, ...], ...] = (
    ("check", "--servers", "3"),
    ("check", "--servers", "3", "--channel", "zk"),
)


def main(argv: list[str] | None = None) -> int:
    """``[workers...] [-- zkfle check flags]``: the flags after ``--`` replace the fixed configs."""
    args = sys.argv[1:] if argv is None else argv
    configs = CONFIGS
    if "--" in args:
        cut = args.index("--")
        args, configs = args[:cut], (("check", *args[cut + 1 :]),)
    worker_counts = [int(a) for a in args] or [1, 2]
    parser = build_parser()
    for flags in configs:
        model = build_model(parser.parse_args(list(flags)))
        for workers in worker_counts:
            row = bench(model, workers, ExploreOptions(check_liveness=False, check_deadlock=True))
            row["command"] = "zkfle " + " ".join(flags)
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
