"""Named initial setups (``zkfle scenarios``, ``zkfle check --scenario NAME``) and their expected outcomes.

Rules:

- A scenario fixes the ensemble (a zoo.cfg text or a majority config), each server's starting point and
  default bounds; command-line flags may override the bounds and the channel, never the setup.
- Its expected outcome is a *checked* property added to the model: a liveness goal (``ExpectedOutcome``:
  every fair run ends there) and, where the seed says which vote wins, an action property
  (``ExpectedDecision``: every decision is on that vote) or an invariant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from zkfle.errors import UserInputError
from zkfle.model import fle
from zkfle.model.config import Bounds, ModelConfig, ServerStart, default_config, zxid_of
from zkfle.model.explorer.spec import Liveness
from zkfle.model.fle import FleModel
from zkfle.model.variant import Variant
from zkfle.model.vote import FOLLOWING, LEADING, LOOKING, OBSERVING
from zkfle.zoocfg import ZooCfg, parse_zoo_cfg

State = tuple[Any, ...]
Action = tuple[Any, ...]

WEIGHTED_CFG = """\
# Three voters in one group; server 3 has weight 0 and so may never be elected (QuorumHierarchical).
tickTime=2000
initLimit=10
syncLimit=5
server.1=127.0.0.1:2888:3888
server.2=127.0.0.1:2889:3889
server.3=127.0.0.1:2890:3890
group.1=1:2:3
weight.1=1
weight.2=1
weight.3=0
"""


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    expected: str  # the expected outcome, in words
    cfg: Callable[[], ZooCfg]
    starts: dict[int, ServerStart] = field(default_factory=dict)
    bounds: Bounds = field(default_factory=Bounds)
    outcome: Callable[[FleModel, State], bool] | None = None  # liveness goal ExpectedOutcome
    decision: tuple[int, int, int] | None = None  # ExpectedDecision: every end vote is (leader, zxid, epoch)
    never_leads: int | None = None  # invariant ExpectedOutcome: this sid never becomes LEADING

    def build(
        self,
        *,
        channel: str = "fifo",
        bounds: Bounds | None = None,
        variant: Variant | None = None,
        selected: frozenset[str] | None = None,
        track_votes: bool = True,
    ) -> FleModel:
        mc = ModelConfig(
            cfg=self.cfg(),
            starts=dict(self.starts),
            channel=channel,
            bounds=bounds or self.bounds,
            variant=variant or Variant(),
            track_votes=track_votes,
            label=self.name,
        )
        invariants: dict[str, Callable[[State], bool]] = {}
        actions: dict[str, Callable[[State, Action, State], bool]] = {}
        liveness: dict[str, Liveness] = {}
        holder: list[FleModel] = []
        if self.outcome is not None:
            outcome = self.outcome
            liveness["ExpectedOutcome"] = Liveness(
                goal=lambda s: outcome(holder[0], s) or holder[0].bound_hit(s), description=self.expected
            )
        if self.decision is not None:
            actions["ExpectedDecision"] = _decision_property(self.decision)
        if self.never_leads is not None:
            invariants["ExpectedOutcome"] = _never_leads(self.never_leads, holder)
        if selected is not None:
            selected = selected | set(invariants) | set(actions) | set(liveness)
        model = FleModel(
            mc,
            extra_invariants=invariants,
            extra_action_properties=actions,
            extra_liveness=liveness,
            selected=selected,
        )
        holder.append(model)
        return model


def _decision_property(vote: tuple[int, int, int]) -> Callable[[State, Action, State], bool]:
    def every_decision_is(before: State, action: Action, after: State) -> bool:
        for k, t in enumerate(after[0]):
            if t[fle.ST] != LOOKING and before[0][k][fle.ST] == LOOKING and t[fle.ALIVE] == fle.UP:
                leader, zxid, _, pe = t[fle.CV]
                if (leader, zxid, pe) != vote:
                    return False
        return True

    return every_decision_is


def _never_leads(sid: int, holder: list[FleModel]) -> Callable[[State], bool]:
    def never_leads(state: State) -> bool:
        s = holder[0].server(state, sid)
        return not (s[fle.ALIVE] == fle.UP and s[fle.ST] == LEADING)

    return never_leads


def _leads_and_followed(leader: int, followers: tuple[int, ...]) -> Callable[[FleModel, State], bool]:
    def outcome(m: FleModel, state: State) -> bool:
        ls = m.server(state, leader)
        if ls[fle.ALIVE] != fle.UP or ls[fle.ST] != LEADING:
            return False
        for sid in followers:
            s = m.server(state, sid)
            if s[fle.ALIVE] != fle.UP or s[fle.ST] not in (FOLLOWING, OBSERVING) or s[fle.CV][0] != leader:
                return False
        return True

    return outcome


def _observer_observes(observer: int) -> Callable[[FleModel, State], bool]:
    def outcome(m: FleModel, state: State) -> bool:
        s = m.server(state, observer)
        if s[fle.ST] != OBSERVING:
            return False
        leader = m.idx.get(s[fle.CV][0])
        return leader is not None and state[0][leader][fle.ST] == LEADING

    return outcome


_E1 = 1  # the epoch the re-election scenarios start in

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "seed-first-start",
            "servers 1 and 2 start fresh (zxid 0); server 3 starts once they have decided",
            "2 leads, 1 follows 2, and 3 joins and follows 2",
            cfg=lambda: default_config(3),
            starts={3: ServerStart(running=False, starts_later=True, after_decision=True)},
            outcome=_leads_and_followed(2, (1, 3)),
        ),
        Scenario(
            "seed-reelection",
            "epoch 1, leader 3 and server 5 are down; 1, 2, 4 vote with zxids 1:100, 1:110, 1:120",
            "4 is elected, every decision is on the vote (sid 4, zxid 1:120, peerEpoch 1), 1 and 2 follow 4",
            cfg=lambda: default_config(5),
            starts={
                1: ServerStart(_E1, _E1, zxid_of(_E1, 100)),
                2: ServerStart(_E1, _E1, zxid_of(_E1, 110)),
                3: ServerStart(_E1, _E1, zxid_of(_E1, 120), running=False, starts_later=False),
                4: ServerStart(_E1, _E1, zxid_of(_E1, 120)),
                5: ServerStart(_E1, _E1, zxid_of(_E1, 90), running=False, starts_later=False),
            },
            outcome=_leads_and_followed(4, (1, 2)),
            decision=(4, zxid_of(_E1, 120), _E1),
        ),
        Scenario(
            "fresh-3",
            "three servers start fresh at the same time",
            "every fair run ends with one leader followed by the others (Termination)",
            cfg=lambda: default_config(3),
            bounds=Bounds(max_in_flight=2),
        ),
        Scenario(
            "fresh-5",
            "five servers start fresh at the same time (too large to exhaust: use --max-states or simulate)",
            "every fair run ends with one leader followed by the others (Termination)",
            cfg=lambda: default_config(5),
            bounds=Bounds(max_in_flight=2),
        ),
        Scenario(
            "late-joiner",
            "1 and 2 (epoch 1, zxid 1:3) elect; 3 (epoch 1, lagging at 1:1) starts once they have decided",
            "3 does not disturb them: 2 leads, 1 and 3 follow 2",
            cfg=lambda: default_config(3),
            starts={
                1: ServerStart(_E1, _E1, zxid_of(_E1, 3)),
                2: ServerStart(_E1, _E1, zxid_of(_E1, 3)),
                3: ServerStart(_E1, _E1, zxid_of(_E1, 1), running=False, after_decision=True),
            },
            outcome=_leads_and_followed(2, (1, 3)),
        ),
        Scenario(
            "leader-crash",
            "epoch-1 leader 3 has crashed and may restart at any time; 1 and 2 re-elect; one more crash",
            "every fair run ends with one leader followed by every live server (Termination)",
            cfg=lambda: default_config(3),
            starts={
                1: ServerStart(_E1, _E1, zxid_of(_E1, 2)),
                2: ServerStart(_E1, _E1, zxid_of(_E1, 1)),
                3: ServerStart(_E1, _E1, zxid_of(_E1, 2), running=False, starts_later=True),
            },
            bounds=Bounds(crashes=1, epochs=3, max_in_flight=2),
        ),
        Scenario(
            "observer",
            "three voters and one observer (sid 4) start fresh (large: bound it, or see late-observer)",
            "the observer is never counted and ends OBSERVING the elected leader",
            cfg=lambda: default_config(3, 1),
            outcome=_observer_observes(4),
            bounds=Bounds(max_in_flight=2),
        ),
        Scenario(
            "late-observer",
            "three voters start fresh; the observer (sid 4) starts once they have decided",
            "the observer is never counted and ends OBSERVING the elected leader",
            cfg=lambda: default_config(3, 1),
            starts={4: ServerStart(running=False, after_decision=True)},
            outcome=_observer_observes(4),
            bounds=Bounds(max_in_flight=2),
        ),
        Scenario(
            "weighted",
            "a hierarchical zoo.cfg (one group 1:2:3) in which server 3, the largest sid, has weight 0",
            "server 3 is never elected (it never becomes LEADING); 2 leads",
            cfg=lambda: parse_zoo_cfg(WEIGHTED_CFG, "weighted.cfg"),
            never_leads=3,
            bounds=Bounds(max_in_flight=2),
        ),
        Scenario(
            "staggered-rounds",
            "epoch 1, zxids 1:100, 1:110, 1:120; server 3 is in round 2 when the others start round 1",
            "one leader in every fair run; a proposal is never worse than a vote of its round it has seen",
            cfg=lambda: default_config(3),
            starts={
                1: ServerStart(_E1, _E1, zxid_of(_E1, 100)),
                2: ServerStart(_E1, _E1, zxid_of(_E1, 110)),
                3: ServerStart(_E1, _E1, zxid_of(_E1, 120), round=2),
            },
            bounds=Bounds(max_in_flight=2),
        ),
        Scenario(
            "mixed-epochs",
            "equal zxids (1:5) but server 1 already holds currentEpoch 2 (ZK-1419's setting)",
            "no vote circle, and every fair run ends with one leader (2 and 3 may elect 3 before 1 is heard)",
            cfg=lambda: default_config(3),
            starts={
                1: ServerStart(2, 2, zxid_of(1, 5)),
                2: ServerStart(1, 1, zxid_of(1, 5)),
                3: ServerStart(1, 1, zxid_of(1, 5)),
            },
            bounds=Bounds(max_in_flight=2, epochs=3),
        ),
    )
}


def scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise UserInputError(f"unknown scenario {name!r}; valid: {', '.join(SCENARIOS)}") from None


def with_bounds(sc: Scenario, **changes: Any) -> Bounds:
    """The scenario's bounds with some fields replaced (None values are ignored)."""
    return replace(sc.bounds, **{k: v for k, v in changes.items() if v is not None})
