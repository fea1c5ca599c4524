"""Which properties a search checks: the model's named properties, filtered by ``ExploreOptions``.

Rules: ``properties=None`` selects every invariant, action property and liveness property of the model;
otherwise only the named ones (an unknown name is the user's mistake: ``UserInputError``). The name
``"Deadlock"`` may appear in the list and is otherwise governed by ``check_deadlock``. Liveness is
checked only when ``check_liveness`` is true and at least one liveness property is selected.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from zkfle.errors import UserInputError
from zkfle.model.explorer.result import DEADLOCK, HOLDS, NOT_CHECKED
from zkfle.model.explorer.spec import Action, Liveness


@dataclass(frozen=True)
class Checks:
    invariants: tuple[tuple[str, Callable[[Any], bool]], ...]
    actions: tuple[tuple[str, Callable[[Any, Action, Any], bool]], ...]
    liveness: tuple[tuple[str, Liveness], ...]
    deadlock: bool
    all_names: tuple[str, ...]

    @property
    def liveness_on(self) -> bool:
        return bool(self.liveness)

    def initial_verdicts(self) -> dict[str, str]:
        """Every property name -> "holds" if selected, else "not checked" (liveness starts unchecked)."""
        selected = {name for name, _ in self.invariants} | {name for name, _ in self.actions}
        if self.deadlock:
            selected.add(DEADLOCK)
        return {name: HOLDS if name in selected else NOT_CHECKED for name in self.all_names}


def _named(model: Any, attr: str) -> dict[str, Any]:
    value = getattr(model, attr, None)
    return dict(value) if value else {}


def select_checks(
    model: Any, properties: Sequence[str] | None, *, check_deadlock: bool, check_liveness: bool
) -> Checks:
    """The checks a search runs, resolved once (raises ``UserInputError`` for an unknown name)."""
    invariants = _named(model, "invariants")
    actions = _named(model, "action_properties")
    liveness = _named(model, "liveness")
    known = [*invariants, *actions, *liveness]
    wanted: set[str] | None = None
    if properties is not None:
        wanted = set(properties)
        unknown = sorted(wanted - set(known) - {DEADLOCK})
        if unknown:
            raise UserInputError(
                f"unknown property {', '.join(unknown)} for model {getattr(model, 'name', '?')}; "
                f"known: {', '.join(sorted(known)) or '(none)'}, {DEADLOCK}"
            )

    def keep(name: str) -> bool:
        return wanted is None or name in wanted

    return Checks(
        invariants=tuple((n, f) for n, f in invariants.items() if keep(n)),
        actions=tuple((n, f) for n, f in actions.items() if keep(n)),
        liveness=tuple((n, p) for n, p in liveness.items() if keep(n)) if check_liveness else (),
        deadlock=check_deadlock,
        all_names=(*known, DEADLOCK),
    )
