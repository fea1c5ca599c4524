"""One proof obligation: a Z3 query for a counterexample, its verdict, its witness and its SMT-LIB file.

Rules: a ``Query`` holds the *negation* of a property. ``unsat`` = the property is proven; ``sat`` = it is
refuted and the model is decoded into a witness in ZooKeeper's vocabulary; anything else (timeout) is
``unknown``. Before solving, the query is written as an SMT-LIB 2 script (``Solver.to_smt2``) whose header
says how to read the answer, so a reviewer can re-run it with any SMT solver.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import z3

from zkfle.errors import UserInputError

PROVEN = "proven"
REFUTED = "refuted"
CTI = "cti"  # not inductive: a counterexample to induction (not necessarily reachable)
UNKNOWN = "unknown"

EXIT_PROVEN = 0
EXIT_REFUTED = 12
EXIT_UNKNOWN = 1

DEFAULT_OUT = Path("zkfle-out") / "smt"
DEFAULT_TIMEOUT_MS = 120_000

# A witness decoder: the model of a ``sat`` query -> (data for --json, lines for humans).
Decoder = Callable[[z3.ModelRef], tuple[dict[str, Any], list[str]]]


@dataclass
class Outcome:
    """The answer to one proof obligation."""

    prop: str
    config: str
    verdict: str
    seconds: float
    expected: str = PROVEN
    witness: dict[str, Any] | None = None
    witness_lines: list[str] = field(default_factory=list)
    smt2: str | None = None
    note: str = ""

    @property
    def as_expected(self) -> bool:
        return self.verdict == self.expected

    def to_json(self) -> dict[str, Any]:
        return {
            "property": self.prop,
            "config": self.config,
            "verdict": self.verdict,
            "expected": self.expected,
            "seconds": round(self.seconds, 4),
            "witness": self.witness,
            "smt2": self.smt2,
            "note": self.note,
        }


def slug(text: str) -> str:
    """A file-name-safe form of a property or config name."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "query"


def smt2_script(solver: z3.Solver, prop: str, config: str) -> str:
    """The solver's assertions as an SMT-LIB 2 benchmark, with a header saying how to read the answer."""
    header = [
        "; zkfle prove: a search for a counterexample",
        f"; property: {prop}",
        f"; config:   {config}",
        "; unsat = the property is PROVEN; sat = it is REFUTED (the model is a counterexample)",
        "(set-info :status unknown)",
    ]
    body = solver.to_smt2()
    if "(check-sat)" not in body:  # pragma: no cover - z3 always appends it
        body += "(check-sat)\n"
    return "\n".join(header) + "\n" + body


def write_smt2(solver: z3.Solver, out_dir: Path | None, prop: str, config: str) -> str | None:
    """Write the query under ``out_dir``; returns the path (None when ``out_dir`` is None)."""
    if out_dir is None:
        return None
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"{slug(prop)}--{slug(config)}.smt2"
        path.write_text(smt2_script(solver, prop, config), encoding="utf-8")
    except OSError as exc:
        raise UserInputError(
            f"--out {out_dir}: cannot write the SMT-LIB file there ({exc.strerror})"
        ) from None
    return str(path)


def solve(
    prop: str,
    config: str,
    assertions: Sequence[z3.BoolRef],
    decode: Decoder,
    *,
    out_dir: Path | None,
    expected: str = PROVEN,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
    refine: Sequence[Sequence[z3.BoolRef]] = (),
) -> Outcome:
    """Search for a counterexample to ``prop`` (``assertions`` = its negation).

    ``refine``: optional tiers of extra constraints (e.g. "small numbers"), tried in order when the query is
    ``sat``, only to print a readable witness; the verdict never depends on them.
    """
    solver = z3.Solver()
    solver.set("timeout", timeout_ms)
    solver.add(*assertions)
    smt2 = write_smt2(solver, out_dir, prop, config)
    start = time.perf_counter()
    answer = solver.check()
    seconds = time.perf_counter() - start
    if answer == z3.unsat:
        return Outcome(prop, config, PROVEN, seconds, expected, smt2=smt2)
    if answer != z3.sat:
        return Outcome(prop, config, UNKNOWN, seconds, expected, smt2=smt2, note=str(solver.reason_unknown()))
    model = solver.model()
    for tier in refine:
        solver.push()
        solver.add(*tier)
        found = solver.check() == z3.sat
        if found:
            model = solver.model()
        solver.pop()
        if found:
            break
    witness, lines = decode(model)
    return Outcome(prop, config, REFUTED, seconds, expected, witness=witness, witness_lines=lines, smt2=smt2)


def recheck_smt2(path: str | Path) -> str:
    """Re-load a written SMT-LIB file into a fresh Z3 solver: ``proven``, ``refuted`` or ``unknown``."""
    solver = z3.Solver()
    solver.add(z3.parse_smt2_file(str(path)))
    answer = solver.check()
    if answer == z3.unsat:
        return PROVEN
    if answer == z3.sat:
        return REFUTED
    return UNKNOWN


def exit_code(outcomes: Sequence[Outcome]) -> int:
    """12 when a property expected to hold is refuted (or not inductive); 1 when the solver gave up or a
    mutant expected to be refuted was not (the checker itself would be wrong); 0 when all is as expected."""
    if any(o.verdict == UNKNOWN for o in outcomes):
        return EXIT_UNKNOWN
    if any(o.expected == PROVEN and o.verdict in (REFUTED, CTI) for o in outcomes):
        return EXIT_REFUTED
    if not all(o.as_expected for o in outcomes):
        return EXIT_UNKNOWN
    return EXIT_PROVEN
