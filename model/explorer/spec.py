"""The contract between the explorer and any model it explores (Stateright's ``Model`` trait, in Python).

A model is a value with:

- ``name``: a short name for reports;
- ``init_states()``: the initial states;
- ``successors(state)``: every ``(action, next_state)`` pair enabled in ``state``. ``action`` is a plain
  tuple whose first item is the action's name (a ``str``) and whose other items are ints or strs, e.g.
  ``("Deliver", 2, 1)``; it must be hashable and picklable. States are immutable, hashable, picklable
  values built only from tuples, ints, strs, bools and None (so they fingerprint stably, see
  ``fingerprint``), and successors are a pure function of the state (counterexamples are rebuilt by
  re-executing the actions from an initial state).
- ``invariants``: name -> predicate on one state (safety; ``False`` = violated);
- ``action_properties``: name -> predicate on a transition ``(state, action, next_state)`` (safety
  properties about steps, e.g. "a decision is made from a quorum holding a vote no smaller than ...");
- ``liveness``: name -> ``Liveness``: a goal that must hold in every state of every bottom strongly
  connected component of the state graph (see ``Liveness``);
- optionally ``is_fault(action) -> bool`` (crash, restart, timeout...), ``actor(action) -> int | None``
  (the server whose local state the action changes, for partial-order reduction),
  ``independent(a, b) -> bool``, ``canonical(state)`` (symmetry reduction), ``state_to_itf(state)`` and
  ``action_to_itf(action)`` (for ITF counterexamples), ``describe(action) -> str``,
  ``is_terminal(state) -> bool`` (an accepted final state: no successors there is not a deadlock) and
  ``visible(action) -> bool`` (partial-order reduction: True if the action may change anything a
  checked invariant or action property reads, or is itself constrained by an action property;
  without it the explorer does not reduce);
- optionally ``components(state) -> tuple`` and ``assemble(parts) -> state``, its inverse (always the
  same number of parts): queued states are then stored as ids of their parts (collapse compression,
  ``collapse.py``); and ``invariant_reads(name) -> tuple[int, ...] | None``, the positions among the
  parts that an invariant reads (None: all of the state), so the explorer judges it once per distinct
  combination of those parts. A model that declares less than an invariant reads gets wrong verdicts;
- optionally ``flagged_by(name) -> frozenset[str] | None``: the names of the actions whose steps can
  violate action property ``name`` (None: any); the property is skipped on every other step;
- optionally, on top of ``components``, the step memo's four (``steps.py``): ``enabled(state)``,
  ``fire(state, step)``, ``guard_reads()`` and ``footprint(action)``, with
  ``action_reads_changed_only(name)`` for the action properties it may judge once per step effect. Then
  a plain search (no reduction, no liveness) computes successors on component ids and runs each
  distinct step effect once; ``successors`` is still what counterexamples are rebuilt with, so the two
  must agree (the model's tests compare them on every reachable state).

Partial-order reduction relies on this contract for ``actor``: actions of different actors are
*independent* (they commute, and neither enables nor disables the other; ``None`` = dependent on every
action). A delivery that sends messages enabling other servers' deliveries breaks it: give such an action
``actor = None``. See docs/explorer.md.

The explorer never looks inside a state except through these functions.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

S = TypeVar("S", bound=Hashable)
Action = tuple[Any, ...]


@dataclass(frozen=True)
class Liveness:
    """A liveness property: under fairness, every fair run ends in states where ``goal`` holds.

    Fairness notion (documented in docs/properties.md): faults are finitely many (bounded by the model),
    and every action enabled infinitely often is eventually taken. Under that notion a run ends up
    forever inside one bottom SCC of the state graph (a terminal state is a bottom SCC of size one), so
    the property holds iff ``goal`` is true in every state of every reachable bottom SCC. A violation is
    reported as a lasso: a path to the SCC, then a cycle inside it (ITF ``loop``).
    """

    goal: Callable[[Any], bool]
    description: str = ""


class Model(Protocol[S]):
    name: str

    def init_states(self) -> Iterable[S]: ...

    def successors(self, state: S) -> Iterable[tuple[Action, S]]: ...

    @property
    def invariants(self) -> Mapping[str, Callable[[S], bool]]: ...

    @property
    def action_properties(self) -> Mapping[str, Callable[[S, Action, S], bool]]: ...

    @property
    def liveness(self) -> Mapping[str, Liveness]: ...
