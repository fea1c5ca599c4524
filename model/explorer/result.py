"""What a search is asked to do (``ExploreOptions``) and what it found (``ExploreResult``, ``Violation``).

Verdicts (``ExploreResult.verdicts``) map every property name, plus ``"Deadlock"``, to one of:

- ``"violated"``: a counterexample was found (the first, shortest one is ``ExploreResult.violation``);
- ``"holds"``: no violation in the states explored; ``complete`` says whether that was every reachable
  state (within the model's own bounds) or only part of them (a limit was hit, a walk was random, or
  the search stopped at the first violation);
- ``"not checked"``: the property was excluded (``properties=``, ``check_deadlock=False``,
  ``check_liveness=False``), or liveness could not run because the safety search was not complete.

Exit codes follow TLC: 0 all hold, 11 deadlock, 12 safety violation, 13 liveness violation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from zkfle.model.explorer.spec import Action

HOLDS = "holds"
VIOLATED = "violated"
NOT_CHECKED = "not checked"
DEADLOCK = "Deadlock"

EXIT_OK = 0
EXIT_DEADLOCK = 11
EXIT_SAFETY = 12
EXIT_LIVENESS = 13

KINDS = ("invariant", "action", "deadlock", "liveness")


@dataclass(frozen=True)
class ExploreOptions:
    """Limits, reductions and checks of one search (every field has a safe default)."""

    max_states: int | None = None
    max_depth: int | None = None
    max_seconds: float | None = None
    workers: int = 1
    por: bool = False
    symmetry: bool = False
    check_deadlock: bool = True
    check_liveness: bool = True
    properties: Sequence[str] | None = None
    progress: bool = False
    stop_on_first: bool = True
    coverage: bool = False  # count the explored steps of each action (ExploreResult.coverage), as TLC
    collapse: bool = True  # queue states as component ids when the model has components() (collapse.py)
    step_memo: bool = True  # successors on component ids, each distinct step effect run once (steps.py)
    scc: str = "tarjan"  # liveness: the SCC engine, "tarjan" (compact arrays) or "networkx" (liveness.py)


@dataclass
class Violation:
    """A counterexample.

    ``path[0]`` is ``(None, initial_state)``; every later entry is ``(action, state_after_action)``.
    For ``kind == "action"`` the last step is the offending transition. For ``kind == "liveness"`` the
    path is a lasso: ``path[loop]`` and ``path[-1]`` are the same state, and the run goes on forever
    around ``path[loop:]`` (if ``loop == len(path) - 1`` the run stutters in that state forever).
    """

    kind: str
    property: str
    path: list[tuple[Action | None, Any]]
    loop: int | None = None

    def __len__(self) -> int:
        """The number of steps (transitions) in the counterexample."""
        return len(self.path) - 1


@dataclass
class ExploreResult:
    """The outcome of ``explore`` or ``simulate``."""

    distinct_states: int = 0
    states_generated: int = 0
    diameter: int = 0
    seconds: float = 0.0
    complete: bool = False
    verdicts: dict[str, str] = field(default_factory=dict)
    violation: Violation | None = None
    notes: list[str] = field(default_factory=list)
    # multi-process runs: per worker {"cpu_seconds": ..., "peak_memory_bytes": ...} (benchmarks read it)
    worker_stats: list[dict[str, float]] = field(default_factory=list)
    # with ExploreOptions(coverage=True): action name -> steps explored (0: enabled nowhere reached)
    coverage: dict[str, int] = field(default_factory=dict)

    @property
    def collision_probability(self) -> float:
        """TLC's optimistic estimate of a fingerprint collision: n * (g - n) / 2**64."""
        n = self.distinct_states
        g = self.states_generated
        return n * max(g - n, 0) / 2.0**64

    @property
    def exit_code(self) -> int:
        if self.violation is None:
            return EXIT_OK
        if self.violation.kind == "deadlock":
            return EXIT_DEADLOCK
        if self.violation.kind == "liveness":
            return EXIT_LIVENESS
        return EXIT_SAFETY

    def to_json(self) -> dict[str, Any]:
        """A summary without any configuration or path detail (stable keys, JSON-serialisable)."""
        return {
            "distinct_states": self.distinct_states,
            "states_generated": self.states_generated,
            "diameter": self.diameter,
            "seconds": round(self.seconds, 3),
            "complete": self.complete,
            "collision_probability": self.collision_probability,
            "properties": dict(self.verdicts),
            "counterexample": None if self.violation is None else len(self.violation),
        }
