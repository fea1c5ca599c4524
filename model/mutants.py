"""The mutant registry: historical FLE faults as ``Variant``s of the 3.8.0 model (``zkfle check --mutant``).

Rules:

- One entry per fault: name -> ``Mutant(variant, description, scenario)``. The description is one line; the
  scenario is the named setup (``zkfle.model.scenarios``) in which the fault shows.
- Others extend the catalogue by calling ``register``; names are unique (a second registration is a bug).
- A historical entry also says where the fault comes from (``jira``, ``affected``, ``fixed_in``), what the
  fix changed (``change``), the check that catches it (``expect``: the property expected to be violated)
  and the exact ``zkfle check`` flags (``flags``, ``channel``) under which it is caught at small bounds.
  ``check_argv(name)`` is that command; ``check_argv(name, correct=True)`` is the same command without
  ``--mutant``, which ZooKeeper 3.8.0's model must pass.

Theory of operation. Several faults are liveness bugs (a server that never decides, or decides on the wrong
leader and has to start over). Each is caught by a *probe*: a safety property that states, at the step
where it happens, the very thing the fix guarantees (``zkfle.model.probes``). A probe scenario adds its
probes to the model it builds, so ``zkfle check --scenario S`` checks them by default. The probe
scenarios' bounds keep the correct model's exhaustive run under a minute on 2 cores.
"""

from __future__ import annotations

from dataclasses import dataclass

from zkfle.errors import InternalError, UserInputError
from zkfle.model import properties
from zkfle.model.variant import Variant


@dataclass(frozen=True)
class Mutant:
    variant: Variant
    description: str
    scenario: str
    jira: str = ""  # the JIRA key(s) of the fix
    affected: str = ""  # the releases that had the fault
    fixed_in: str = ""  # the first release with the fix
    change: str = ""  # what the fix changed, i.e. what the mutant puts back
    expect: str = ""  # the property the fault violates in ``scenario``
    symptom: str = ""  # what the fault did to a real ensemble
    channel: str = "fifo"
    flags: tuple[str, ...] = ()  # further ``zkfle check`` flags (bounds) that keep the run small


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
    ("ZK-3537", Variant(same_round_check_recvset=False),
     "a same-round FOLLOWING/LEADING vote enters recvset as LOOKING and checkLeader reads outofelection",
     "late-joiner"),
)

for _name, _variant, _description, _scenario in _CATALOGUE:
    register(_name, Mutant(_variant, _description, _scenario))


# ---------------------------------------------------------------------------------------------- history
# Where each fault comes from (/work/shared/reference/historical-bugs.md, sections 1.3 and 3) and how the
# model catches it. The probe scenarios are registered by zkfle.model.probes (imported below).
_HISTORY: dict[str, dict[str, object]] = {
    "ZK-1419": dict(
        jira="ZOOKEEPER-1419", affected="3.4.0-3.4.3", fixed_in="3.4.4",
        change="the third clause of totalOrderPredicate, (newZxid == curZxid && newId > curId), is not "
               "nested under newEpoch == curEpoch, so the order is not antisymmetric",
        expect="NoVoteCircle",
        symptom="'Leader election never settles for a 5-node cluster': LOOKING servers keep switching "
                "between candidates with equal zxids and different epochs",
        flags=("--timeouts", "1")),
    "ZK-975": dict(
        jira="ZOOKEEPER-975", affected="3.3.x", fixed_in="3.4.0",
        change="lookForLeader decides on its own proposal as soon as recvset holds a vote from every voter "
               "(the shortcut the fix removed); stale LOOKING notifications from the send queues fill it",
        expect="JoinerNeverLeads",
        symptom="'new peer goes in LEADING state even if ensemble is online': a joiner with the highest sid "
                "leads alone instead of following the established leader",
        channel="zk"),
    "ZK-1514": dict(
        jira="ZOOKEEPER-1514", affected="3.3.x-3.4.3", fixed_in="3.4.4",
        change="checkLeader accepts leader == self without logicalclock == electionEpoch",
        expect="LeaderKeepsItsRound",
        symptom="a LOOKING server leads on FOLLOWING notifications of an older round and sets its round "
                "back; leader and followers end up in different rounds and later joiners cannot join"),
    "ZK-1732": dict(
        jira="ZOOKEEPER-1732", affected="3.4.0-3.4.5", fixed_in="3.4.6",
        change="no QuorumPeer.updateElectionVote after sync, the WorkerReceiver replies with logicalclock, "
               "and out-of-election votes must match on every field instead of (leader, peerEpoch)",
        expect="QuorumHeeded",
        symptom="'ZooKeeper server unable to join established ensemble': the joiner sees a quorum following "
                "one leader but with unequal zxid/round/peerEpoch, and stays LOOKING"),
    "ZK-275": dict(
        jira="ZOOKEEPER-275", affected="3.0.x-3.1.0", fixed_in="3.1.1",
        change="a LOOKING notification from a newer round resets the proposal to the own vote without "
               "comparing it with the notification's vote",
        expect="VoteIsBestSeen",
        symptom="after a round jump a server proposes a vote worse than one it has just seen: extra rounds"),
    "ZK-159": dict(
        jira="ZOOKEEPER-159", affected="3.0.0", fixed_in="3.0.1",
        change="no checkLeader: a quorum of FOLLOWING/LEADING votes suffices without the leader's own word",
        expect="FollowsOnlyDecidedLeaders",
        symptom="servers follow a leader that never decided to lead (or has crashed), over and over"),
    "ZK-480": dict(
        jira="ZOOKEEPER-480", affected="3.0.x-3.2.0", fixed_in="3.2.1",
        change="checkLeader wants a LEADING vote from the leader even when the leader is the server itself",
        expect="QuorumHeeded",
        symptom="a server that a quorum follows never leads through the FOLLOWING-notification exit"),
    "ZK-3537": dict(
        jira="ZOOKEEPER-3537", affected="3.4.0-3.5.x", fixed_in="3.6.0",
        change="a same-round FOLLOWING/LEADING vote goes into recvset without its state (as LOOKING) and "
               "checkLeader reads outofelection instead of recvset",
        expect="SameRoundLeaderHeeded",
        symptom="a LOOKING server that holds a quorum for the leader in its own round, the leader's LEADING "
                "vote included, keeps looking until out-of-election votes alone make a quorum (slower "
                "elections and joins)"),
    "ZK-498": dict(
        jira="ZOOKEEPER-498 / ZOOKEEPER-491", affected="3.2.0", fixed_in="3.2.1",
        change="totalOrderPredicate has no weight-0 rule: a zero-weight server can win",
        expect="ExpectedOutcome",
        symptom="'Unending Leader Elections: WAN configuration': a weight-0 server is elected and can never "
                "gather a quorum"),
}


def _historical() -> None:
    """Fold the history into the registry, adding ZK-975 (its knob is ``Variant.all_votes_shortcut``)."""
    from dataclasses import replace

    from zkfle.model import probes

    probes.register_scenarios()
    if "ZK-975" not in MUTANTS:
        register("ZK-975", Mutant(
            Variant(all_votes_shortcut=True),
            "3.3.x lookForLeader: a recvset holding every voter's vote decides the own proposal at once",
            probes.JOINER_SCENARIO))
    scenarios = {"ZK-1514": probes.RESTART_SCENARIO, "ZK-1732": probes.RESTART_SCENARIO,
                 "ZK-480": probes.RESTART_SCENARIO, "ZK-159": probes.FRESH_SCENARIO,
                 "ZK-275": probes.RESTART_SCENARIO, "ZK-3537": probes.SAME_ROUND_SCENARIO}
    for name, fields in _HISTORY.items():
        entry = replace(MUTANTS[name], **fields)  # type: ignore[arg-type]
        if name in scenarios:
            entry = replace(entry, scenario=scenarios[name])
        MUTANTS[name] = entry
    # A design variant, not a release: without the finalize wait a server follows a leader that is still
    # LOOKING, which the fresh-start probe scenario states at that very step.
    MUTANTS["no-finalize-wait"] = replace(MUTANTS["no-finalize-wait"], scenario=probes.FRESH_SCENARIO,
                                          expect="FollowsOnlyDecidedLeaders")


def historical() -> list[str]:
    """The mutants with a documented history (the ones ``zkfle mutants`` checks, benches and documents)."""
    return [name for name, m in MUTANTS.items() if m.jira]


def check_argv(name: str, *, correct: bool = False) -> list[str]:
    """``zkfle check`` arguments that catch mutant ``name`` (or, with ``correct``, the same run on 3.8.0)."""
    m = mutant(name)
    argv = ["check", "--scenario", m.scenario, "--channel", m.channel, *m.flags]
    if m.expect in (*properties.ALL, "ExpectedOutcome"):
        argv += ["--invariant", m.expect]  # a probe is checked by its scenario's models anyway
    return argv if correct else [*argv, "--mutant", name]


_historical()
