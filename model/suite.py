"""``zkfle check-model``: the default suite of bounded configurations, each explored exhaustively.

Rules:

- Every row is a complete search within its bounds (``complete`` true) or the suite fails.
- Rows cover: 3 servers fresh under both channel semantics; 3 servers with a crash and restart, two
  epochs and one transaction; both seed scenarios; 3 voters + 1 observer; the weighted zoo.cfg; mixed
  epochs; and 3 voters + 3 late observers, the one row run with the reductions (observer symmetry and
  partial-order reduction), so it checks the safety properties only (liveness needs the full graph).
- ``--quick`` keeps the rows that finish in seconds (tests call it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zkfle.model import properties
from zkfle.model.config import Bounds, ModelConfig, ServerStart, default_config
from zkfle.model.fle import FleModel
from zkfle.model.scenarios import scenario


@dataclass(frozen=True)
class Row:
    label: str
    build: Callable[[], FleModel]
    quick: bool = False
    reduced: bool = False  # explored with symmetry and partial-order reduction: safety properties only


def _plain(
    label: str, channel: str, bounds: Bounds, starts: dict[int, ServerStart] | None = None
) -> FleModel:
    mc = ModelConfig(cfg=default_config(3), channel=channel, bounds=bounds, starts=starts or {}, label=label)
    return FleModel(mc, selected=frozenset(properties.DEFAULT))


def _scenario(name: str, bounds: Bounds | None = None) -> Callable[[], FleModel]:
    def build() -> FleModel:
        sc = scenario(name)
        return sc.build(bounds=bounds or sc.bounds,
                        selected=frozenset(properties.DEFAULT) | {"ExpectedOutcome", "ExpectedDecision"})

    return build


SAFETY = frozenset(properties.DEFAULT) - {"Termination"}


def late_observers(count: int, selected: frozenset[str] = SAFETY, *, track_votes: bool = True) -> FleModel:
    """Three fresh voters and ``count`` observers that start once the voters have decided (F = 1)."""
    sids = range(4, 4 + count)
    mc = ModelConfig(cfg=default_config(3, count), channel="fifo", bounds=Bounds(max_in_flight=1),
                     starts={sid: ServerStart(running=False, after_decision=True) for sid in sids},
                     track_votes=track_votes, label=f"3 voters + {count} late observers")
    return FleModel(mc, selected=selected)


# The leader-crash scenario (epoch-1 leader 3 down, restarting at any quiet moment) plus one more crash.
CRASH_ROW_BOUNDS = Bounds(crashes=1, epochs=2, txns=1, max_in_flight=1, faults_when_quiet=True)

SUITE: tuple[Row, ...] = (
    Row("3 fresh, fifo", lambda: _plain("3 fresh, fifo", "fifo", Bounds(max_in_flight=2))),
    Row("3 fresh, zk", lambda: _plain("3 fresh, zk", "zk", Bounds(max_in_flight=2))),
    Row("3, crash+restart, 2 epochs, 1 txn",
        _scenario("leader-crash", CRASH_ROW_BOUNDS)),
    Row("seed-first-start", _scenario("seed-first-start"), quick=True),
    Row("seed-reelection", _scenario("seed-reelection"), quick=True),
    Row("3 voters + observer", _scenario("late-observer")),
    Row("weighted", _scenario("weighted"), quick=True),
    Row("mixed-epochs", _scenario("mixed-epochs")),
    Row("3 voters + 3 late observers, symmetry+POR", lambda: late_observers(3), reduced=True),
)


def run_suite(*, quick: bool, workers: int = 1) -> list[dict[str, Any]]:
    from zkfle.model.explorer import ExploreOptions, explore

    rows = []
    for row in SUITE:
        if quick and not row.quick:
            continue
        model = row.build()
        result = explore(model, ExploreOptions(workers=workers, check_liveness=not row.reduced,
                                               por=row.reduced, symmetry=row.reduced))
        rows.append({
            "config": row.label,
            "model": model.name,
            "distinct_states": result.distinct_states,
            "diameter": result.diameter,
            "seconds": round(result.seconds, 2),
            "complete": result.complete,
            "properties": dict(result.verdicts),
            "exit_code": int(result.exit_code),
        })
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    names: list[str] = []
    for row in rows:
        for name in row["properties"]:
            if name not in names:
                names.append(name)
    table = Table(title="zkfle check-model (ZooKeeper 3.8.0 FLE)")
    table.add_column("config", no_wrap=True)
    for col in ("states", "diameter", "seconds", "complete"):
        table.add_column(col, justify="right", no_wrap=True)
    for name in names:
        table.add_column(name, no_wrap=True)
    for row in rows:
        cells = [row["config"], str(row["distinct_states"]), str(row["diameter"]), f"{row['seconds']:.1f}",
                 "yes" if row["complete"] else "NO"]
        cells += [_verdict(row["properties"].get(name, "-")) for name in names]
        table.add_row(*cells)
    Console(width=240).print(table)


def _verdict(text: str) -> str:
    return {"holds": "ok", "violated": "VIOLATED", "not checked": "-"}.get(text, text)
