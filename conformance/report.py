"""Conformance results: one ``TraceResult`` per trace, a rich summary table, ``--json`` and ``--junit``.

Rules:

- A trace passes, or has exactly one divergence: the FIRST step where the target's behaviour differs from
  the model's, with expected versus observed, the trace prefix that led there and a one-line command that
  reproduces it.
- Exit codes: 0 every trace conforms, 12 at least one divergence (bad input is exit 2 and an unavailable
  target exit 3; both are raised, never reported here).
"""

from __future__ import annotations

import json
import statistics
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

EXIT_CONFORMS, EXIT_DIVERGES = 0, 12


@dataclass
class Divergence:
    step: int
    action: str
    expected: str
    observed: str
    prefix: list[str] = field(default_factory=list)
    reproduce: str = ""
    server: int | None = None  # the server whose behaviour differs

    def text(self) -> str:
        lines = [f"  first divergence at step {self.action}",
                 f"    expected: {self.expected}",
                 f"    observed: {self.observed}"]
        if self.prefix:
            lines.append("    trace prefix:")
            if len(self.prefix) > 12:
                lines.append(f"      ... ({len(self.prefix) - 12} earlier steps)")
            lines += [f"      {p}" for p in self.prefix[-12:]]
        if self.reproduce:
            lines.append(f"    reproduce: {self.reproduce}")
        return "\n".join(lines)


@dataclass
class TraceResult:
    trace: str
    path: str
    target: str
    steps: int
    seconds: float
    divergence: Divergence | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.divergence is None


@dataclass
class Run:
    """All results of one ``zkfle conform`` invocation (possibly several targets)."""

    results: list[TraceResult] = field(default_factory=list)
    wall: dict[str, float] = field(default_factory=dict)  # target -> wall-clock seconds

    @property
    def exit_code(self) -> int:
        return EXIT_CONFORMS if all(r.ok for r in self.results) else EXIT_DIVERGES

    def by_target(self) -> dict[str, list[TraceResult]]:
        out: dict[str, list[TraceResult]] = {}
        for r in self.results:
            out.setdefault(r.target, []).append(r)
        return out

    def traces_per_minute(self, target: str) -> float:
        results = self.by_target().get(target, [])
        wall = self.wall.get(target) or sum(r.seconds for r in results)
        return 60.0 * len(results) / wall if wall > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        summary = {
            t: {"traces": len(rs), "passed": sum(r.ok for r in rs), "diverged": sum(not r.ok for r in rs),
                "wall_seconds": round(self.wall.get(t, 0.0), 3),
                "median_trace_seconds": round(statistics.median([r.seconds for r in rs]), 4) if rs else 0.0,
                "traces_per_minute": round(self.traces_per_minute(t), 1)}
            for t, rs in self.by_target().items()
        }
        return {"exit_code": self.exit_code, "summary": summary,
                "results": [{**asdict(r), "ok": r.ok} for r in self.results]}


def print_report(run: Run, *, console: Any = None, verbose: bool = False) -> None:
    """Per-trace lines for divergences (and passes when verbose), then the summary table."""
    from rich.console import Console
    from rich.table import Table

    con = console or Console(highlight=False)
    for r in run.results:
        if r.divergence is not None:
            con.print(f"[bold red]DIVERGES[/] {r.target} {r.trace}", markup=True)
            con.print(r.divergence.text(), markup=False)
        elif verbose:
            con.print(f"[green]conforms[/] {r.target} {r.trace} ({r.steps} steps)", markup=True)
        for note in r.notes:
            con.print(f"  note: {note}", markup=False)
    table = Table(title="zkfle conform")
    for col in ("target", "traces", "pass", "diverge", "wall s", "median s/trace", "traces/min"):
        table.add_column(col, justify="right" if col != "target" else "left")
    for target, rs in run.by_target().items():
        table.add_row(target, str(len(rs)), str(sum(r.ok for r in rs)), str(sum(not r.ok for r in rs)),
                      f"{run.wall.get(target, 0.0):.1f}",
                      f"{statistics.median([r.seconds for r in rs]):.3f}" if rs else "-",
                      f"{run.traces_per_minute(target):.0f}")
    con.print(table)
    con.print("all traces conform" if run.exit_code == 0 else "DIVERGENCE found (exit 12)", markup=False)


def write_json(run: Run, path: str | None) -> str:
    text = json.dumps(run.to_json(), indent=1)
    if path and path != "-":
        Path(path).write_text(text + "\n", encoding="utf-8")
    return text


def write_junit(run: Run, path: str) -> None:
    """A JUnit XML file: one testsuite per target, one testcase per trace, a failure per divergence."""
    suites = ET.Element("testsuites")
    for target, rs in run.by_target().items():
        suite = ET.SubElement(suites, "testsuite", name=f"zkfle conform {target}", tests=str(len(rs)),
                              failures=str(sum(not r.ok for r in rs)), errors="0",
                              time=f"{sum(r.seconds for r in rs):.3f}")
        for r in rs:
            case = ET.SubElement(suite, "testcase", classname=f"conform.{target}", name=r.trace,
                                 time=f"{r.seconds:.3f}")
            if r.divergence is not None:
                d = r.divergence
                message = f"diverges at {d.action}: expected {d.expected}"
                failure = ET.SubElement(case, "failure", message=message)
                failure.text = d.text()
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)


def merge(runs: Sequence[Run]) -> Run:
    out = Run()
    for r in runs:
        out.results += r.results
        for k, v in r.wall.items():
            out.wall[k] = out.wall.get(k, 0.0) + v
    return out
