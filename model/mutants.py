"""The mutant registry: historical FLE faults as ``Variant``s of the 3.8.0 model (``zkfle check --mutant``).

Rules:

- One entry per fault: name -> ``Mutant(variant, description, scenario)``. The description is one line; the
  scenario is the named setup (``zkfle.model.scenarios``) in which the fault shows.
- Others extend the catalogue by calling ``register``; names are unique (a second registration is a bug).
"""

from __future__ import annotations

from dataclasses import dataclass

from zkfle.errors import InternalError, UserInputError
from zkfle.model.variant import Variant


@dataclass(frozen=True)
class Mutant:
    variant: Variant
    description: str
    scenario: str


MUTANTS: dict[str, Mutant] = {}


def register(name: str, mutant: Mutant) -> None:
    if name in MUTANTS:
        raise InternalError(f"mutant {name!r} is registered twice")
    MUTANTS[name] = mutant


def mutant(name: str) -> Mutant:
    try:
        return MUTANTS[name]
    except KeyError:
        raise UserInputError(f"unknown mutant {name!r}; valid: {', '.join(MUTANTS)}") from None


_CATALOGUE: tuple[tuple[str, Variant, str, str], ...] = (
    ("ZK-1419", Variant(predicate="ZK-1419"),
     "3.4.0-3.4.3 totalOrderPredicate: its third clause lacks newEpoch == curEpoch (vote circles)",
     "mixed-epochs"),
    ("no-finalize-wait", Variant(finalize_wait=False),
     "decide as soon as a quorum agrees, without the finalizeWait for a better vote",
     "fresh-3"),
    ("ZK-275", Variant(round_jump="self"),
     "a newer round resets the proposal to the own vote without comparing the notification",
     "staggered-rounds"),
    ("ZK-159", Variant(check_leader=False),
     "follow a quorum of FOLLOWING/LEADING votes without the leader's own LEADING vote",
     "leader-crash"),
    ("round-keep", Variant(round_jump="keep"),
     "a newer round compares with the current proposal instead of the initial vote",
     "staggered-rounds"),
    ("ZK-1514", Variant(check_leader_round_for_self=False),
     "checkLeader lets a server lead on FOLLOWING votes of any round",
     "seed-first-start"),
    ("ZK-480", Variant(check_leader_self_needs_leading=True),
     "checkLeader for self also wants a LEADING vote from self: that exit never elects self",
     "seed-first-start"),
    ("ZK-498", Variant(weight_zero_guard=False),
     "totalOrderPredicate ignores weight 0: a weight-0 server can be elected",
     "weighted"),
    ("ZK-1732", Variant(update_election_vote=False),
     "no updateElectionVote, and out-of-election votes must match on every field",
     "late-joiner"),
)

for _name, _variant, _description, _scenario in _CATALOGUE:
    register(_name, Mutant(_variant, _description, _scenario))
