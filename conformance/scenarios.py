"""Conformance scenarios and mutants: which ensemble the model runs, which server is the system under test.

Rules:

- A ``Scenario`` is a model configuration (``zkfle.model.config.ModelConfig``) plus the sid of the server a
  live target plays for real (the SUT). The SUT always starts with what a fresh ZooKeeper dataDir holds:
  zxid 0, currentEpoch 0 (the harness never writes a dataDir). The servers the harness plays may start from
  any (currentEpoch, zxid): they exist only as messages on the wire.
- Traces are generated on the model's ``fifo`` channel (every send is explicit, one per ``sendNotifications``
  destination) with no Zab (``epochs=0``): a live SUT is never asked to establish an epoch.
- A mutant is the correct model with one ``Variant`` knob turned, named after the JIRA that fixed it. When the
  model's own registry (``zkfle.model.mutants``) is present, its variants are used for the names it knows;
  ``SUGGESTED`` names the scenario where each mutant's behaviour differs from ZooKeeper 3.8.0's.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field, replace
from typing import Any

from zkfle.errors import UserInputError
from zkfle.model.config import Bounds, ModelConfig, ServerStart, zxid_of
from zkfle.model.variant import Variant
from zkfle.zoocfg import majority_config


@dataclass(frozen=True)
class Scenario:
    """One conformance scenario."""

    name: str
    description: str
    voters: int
    sut: int
    starts: dict[int, ServerStart] = field(default_factory=dict)
    crashes: int = 0
    timeouts: int = 1
    max_steps: int = 40

    def model_config(self, variant: Variant | None = None) -> ModelConfig:
        bounds = Bounds(crashes=self.crashes, epochs=0, txns=0, timeouts=self.timeouts, max_in_flight=4,
                        max_round=3)
        return ModelConfig(cfg=majority_config(self.voters), starts=dict(self.starts), channel="fifo",
                           bounds=bounds, variant=variant or Variant(), track_votes=False,
                           label=f"conformance scenario {self.name}")

    def with_sut(self, sut: int) -> Scenario:
        if not 1 <= sut <= self.voters:
            raise UserInputError(f"--sut {sut}: scenario {self.name} has servers 1..{self.voters}")
        if self.starts.get(sut, ServerStart()).current_epoch or self.starts.get(sut, ServerStart()).zxid:
            raise UserInputError(f"--sut {sut}: in scenario {self.name} server {sut} does not start fresh "
                                 "(zxid 0, epoch 0), which is all a live target can start from")
        return replace(self, sut=sut)


_LATER = ServerStart(running=False, starts_later=True)

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("fresh-3", "three fresh servers start together; the SUT is server 2", 3, 2),
        Scenario("fresh-3-low", "three fresh servers; the SUT is server 1 (it dials nobody)", 3, 1),
        Scenario("fresh-3-high", "three fresh servers; the SUT is server 3 (the expected leader)", 3, 3),
        Scenario(
            "epochs-3",
            "server 1 has currentEpoch 1 and zxid 0, server 3 is fresh: votes differ in peerEpoch, not zxid",
            3, 2, starts={1: ServerStart(current_epoch=1, accepted_epoch=1, zxid=0)},
        ),
        Scenario(
            "zxids-3",
            "server 1 has the largest zxid (epoch 1, counter 3), server 3 is fresh; the SUT is server 2",
            3, 2, starts={1: ServerStart(current_epoch=1, accepted_epoch=1, zxid=zxid_of(1, 3))},
        ),
        Scenario(
            "joiner-3",
            "servers 1 and 3 elect first; the SUT (server 2) starts later and must find the leader",
            3, 2, starts={2: _LATER},
        ),
        Scenario(
            "joiner-crash-3",
            "servers 1 and 3 run, one may crash; the SUT (server 2) starts later",
            3, 2, starts={2: _LATER}, crashes=1, max_steps=50,
        ),
        Scenario("fresh-3-crash", "three fresh servers, one of the others may crash; the SUT is server 2",
                 3, 2, crashes=1, max_steps=50),
        Scenario("fresh-5", "five fresh servers; the SUT is server 3", 5, 3, timeouts=0, max_steps=60),
    )
}

# Mutant name -> (the variant knobs it turns, the scenario where it differs, what it re-introduces).
_MUTANTS: dict[str, tuple[dict[str, Any], str, str]] = {
    "ZK-1419": ({"predicate": "ZK-1419"}, "epochs-3",
                "totalOrderPredicate's third clause without newEpoch == curEpoch (3.4.0-3.4.3)"),
    "no-finalize-wait": ({"finalize_wait": False}, "fresh-3-low",
                         "a quorum decides at once, without the 200 ms finalizeWait for a better vote"),
    "ZK-275": ({"round_jump": "self"}, "joiner-crash-3",
               "a newer round resets the proposal to the server's own vote without comparing"),
    "ZK-159": ({"check_leader": False}, "fresh-3-high",
               "no checkLeader: follow a quorum of FOLLOWING votes without the leader's own LEADING word"),
    "ZK-3537": ({"same_round_check_recvset": False}, "fresh-3-high",
                "a same-round LEADING/FOLLOWING vote enters recvset as LOOKING; checkLeader reads "
                "outofelection"),
}
# Aliases the model's registry or users may use.
_ALIASES = {"M1419": "ZK-1419", "M275": "ZK-275", "M159": "ZK-159", "no-finalize": "no-finalize-wait",
            "no-finalizewait": "no-finalize-wait", "ZK-1419-predicate": "ZK-1419"}


def scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise UserInputError(f"unknown scenario {name!r}; valid: {', '.join(SCENARIOS)}") from None


def _registry() -> dict[str, Any]:
    """The model's mutant registry (``zkfle.model.mutants.MUTANTS``), or nothing if it is not there."""
    try:
        module = importlib.import_module("zkfle.model.mutants")
    except ImportError:  # not written yet, or mid-edit: this table still works
        return {}
    table = getattr(module, "MUTANTS", None)
    return dict(table) if isinstance(table, dict) else {}


def mutant_names() -> list[str]:
    return sorted(set(_MUTANTS) | set(_registry()))


def mutant(name: str) -> tuple[Variant, Scenario, str]:
    """(variant, suggested conformance scenario, description) of mutant ``name``.

    The variant comes from the model's registry when it knows the name; the scenario from this module's
    table (a scenario whose SUT shows the fault); a registry mutant this table does not know starts from
    ``fresh-3`` (``zkfle.conformance.suite.mutant_traces`` then searches the other scenarios).
    """
    key = _ALIASES.get(name, name)
    entry = _registry().get(key)
    if key not in _MUTANTS and entry is None:
        raise UserInputError(f"unknown mutant {name!r}; valid: {', '.join(mutant_names())}")
    variant = getattr(entry, "variant", None)
    if key in _MUTANTS:
        knobs, scen, text = _MUTANTS[key]
        return (variant if isinstance(variant, Variant) else Variant(**knobs)), SCENARIOS[scen], text
    assert isinstance(variant, Variant)
    return variant, SCENARIOS["fresh-3"], str(getattr(entry, "description", key))
