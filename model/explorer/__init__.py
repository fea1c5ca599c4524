"""The model-agnostic explorer: breadth-first model checking of any model following ``spec.py``.

Entry points: ``explore(model, ExploreOptions(...)) -> ExploreResult`` (exhaustive BFS, exact shortest
counterexamples, deadlock, invariants, action properties, liveness by bottom SCCs, optional
partial-order and symmetry reduction, multi-process), ``simulate(model, steps=, walks=, seed=)`` (random
walks for configurations too large to exhaust) and ``fingerprint(state)`` (stable 64-bit). How it works
and its limits: docs/explorer.md.
"""

from zkfle.model.explorer.bfs import explore
from zkfle.model.explorer.fingerprint import fingerprint
from zkfle.model.explorer.result import ExploreOptions, ExploreResult, Violation
from zkfle.model.explorer.simulate import simulate

__all__ = ["ExploreOptions", "ExploreResult", "Violation", "explore", "fingerprint", "simulate"]
