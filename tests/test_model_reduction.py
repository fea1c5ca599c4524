"""Partial-order reduction and observer symmetry on the FLE model (model/reduction.py, docs/reductions.md).

Each reduction must give the verdicts of the plain search, visit only reachable states, keep every state
without successors, and still catch the mutants; each unsound twin (no persistence check, a symmetry that
also permutes voters) must be seen to lose something the plain search finds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from zkfle.cli import main
from zkfle.model import fle, mutants, reduction, suite
from zkfle.model.cli import _config_flags, build_model
from zkfle.model.config import Bounds, ModelConfig, ServerStart, default_config
from zkfle.model.explorer import ExploreOptions, explore
from zkfle.model.fle import FleModel
from zkfle.model.suite import CRASH_ROW_BOUNDS

State = tuple[Any, ...]


def model_of(argv: list[str]) -> FleModel:
    """The model ``zkfle check ARGV`` builds."""
    parser = argparse.ArgumentParser()
    _config_flags(parser)
    parser.add_argument("--invariant", action="append")
    args = parser.parse_args(argv)
    args.command = "check"
    return build_model(args)


class Recording:
    """A model that remembers every state the explorer expanded, and those without successors."""

    def __init__(self, model: FleModel) -> None:
        self._model = model
        self.expanded: set[State] = set()
        self.final: set[State] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def successors(self, state: State) -> Any:
        succ = list(self._model.successors(state))
        self.expanded.add(state)
        if not succ:
            self.final.add(state)
        return iter(succ)


def run(model: Any, **opts: Any) -> Any:
    return explore(model, ExploreOptions(check_liveness=False, **opts))


def late_observers(count: int, properties: frozenset[str]) -> FleModel:
    """check-model's late-observer model (``zkfle.model.suite``), without vote tracking."""
    return suite.late_observers(count, properties, track_votes=False)


def crash_row(properties: frozenset[str]) -> FleModel:
    """check-model's crash row (faults only on a quiet network), with the given properties."""
    from zkfle.model.scenarios import scenario

    return scenario("leader-crash").build(bounds=CRASH_ROW_BOUNDS, selected=properties, track_votes=False)


def small(channel: str, bounds: Bounds) -> FleModel:
    """Three fresh voters, OneLeaderPerEpoch and Agreement only."""
    mc = ModelConfig(cfg=default_config(3), channel=channel, bounds=bounds, track_votes=False)
    return FleModel(mc, selected=frozenset({"OneLeaderPerEpoch", "Agreement"}))


COARSE = ["--invariant", "OneLeaderPerEpoch", "--invariant", "Agreement"]
SAFETY = ("OneLeaderPerEpoch", "Agreement", "ValidVote", "VoteIsBestSeen", "LeaderCompleteness",
          "NoVoteCircle")
CONFIGS = {
    "fresh-3 coarse": (lambda: model_of(["--max-in-flight", "1", *COARSE]), True),
    "fresh-3 all safety": (lambda: model_of(["--max-in-flight", "1"]), False),
    "fresh-3 two leaders": (lambda: model_of(["--max-in-flight", "1", "--invariant",
                                              "AtMostOneLeadingPerRound"]), False),
    "crash, quiet faults": (lambda: small("fifo", Bounds(crashes=1, epochs=1, max_in_flight=1, max_round=1,
                                                         faults_when_quiet=True)), True),
    "seed-first-start": (lambda: model_of(["--scenario", "seed-first-start"]), False),
    "weighted": (lambda: model_of(["--scenario", "weighted", "--max-in-flight", "1"]), False),
    "late observer": (lambda: model_of(["--scenario", "late-observer", "--max-in-flight", "1", *COARSE]),
                      False),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_por_keeps_the_verdicts_of_the_plain_search(name: str) -> None:
    build, must_shrink = CONFIGS[name]
    plain = run(build())
    reduced = run(build(), por=True)
    assert reduced.verdicts == plain.verdicts
    assert reduced.exit_code == plain.exit_code
    assert reduced.complete == plain.complete
    assert reduced.distinct_states <= plain.distinct_states
    if must_shrink:
        assert reduced.distinct_states < plain.distinct_states * 0.9


def test_por_is_a_no_op_on_the_zk_channel() -> None:
    """Documented: the zk send slot makes a delivery depend on the sender's later sends."""
    plain = run(small("zk", Bounds(max_in_flight=1)), max_depth=10)
    reduced = run(small("zk", Bounds(max_in_flight=1)), max_depth=10, por=True)
    assert reduced.distinct_states == plain.distinct_states > 1000


FAST_MUTANTS = ["ZK-1419", "no-finalize-wait", "ZK-275", "ZK-159", "ZK-498", "ZK-975"]


@pytest.mark.parametrize("name", FAST_MUTANTS)
def test_por_still_catches_every_fast_mutant(name: str) -> None:
    argv = mutants.check_argv(name)[1:]
    plain = run(model_of(argv))
    model = model_of(argv)
    reduced = run(model, por=True)
    assert plain.violation is not None and reduced.violation is not None
    assert reduced.exit_code == plain.exit_code == 12
    assert reduced.violation.property == plain.violation.property
    assert len(reduced.violation) >= len(plain.violation)  # shortest in the reduced graph only
    state = model.init_states()[0]
    for action, nxt in reduced.violation.path[1:]:  # a real path of the model
        assert (action, nxt) in list(model.successors(state))
        state = nxt


def deadlock_search(**opts: Any) -> tuple[Any, Recording]:
    model = Recording(model_of(["--max-in-flight", "1", "--timeouts", "0"]))
    result = run(model, properties=["Deadlock"], stop_on_first=False, **opts)
    return result, model


def test_por_visits_only_reachable_states_and_every_deadlock() -> None:
    plain, full = deadlock_search()
    reduced, part = deadlock_search(por=True)
    assert plain.exit_code == reduced.exit_code == 11
    assert part.expanded <= full.expanded
    assert len(part.expanded) < len(full.expanded)
    assert part.final == full.final and len(full.final) > 10  # every deadlock state (Godefroid)


def test_without_the_persistence_check_deadlocks_are_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    """The twin: ample sets that ignore C1 (new input, cut steps, Establish, Zab) miss deadlock states."""
    _, full = deadlock_search()
    monkeypatch.setattr(reduction, "CHECK_C1", False)
    _, part = deadlock_search(por=True)
    assert part.final < full.final


def test_por_answers_no_reduction_where_faults_need_no_quiet_network() -> None:
    model = model_of(["--scenario", "leader-crash", "--max-in-flight", "1", "--invariant",
                      "OneLeaderPerEpoch"])
    state = model.init_states()[0]
    succ = list(model.successors(state))
    assert len(succ) > 1 and reduction.ample(model, state, succ) is None
    # the crash row's faults wait for a quiet network: there, the same start is reduced
    row = crash_row(frozenset({"OneLeaderPerEpoch"}))
    state = row.init_states()[0]
    succ = list(row.successors(state))
    chosen = reduction.ample(row, state, succ)
    assert chosen is not None and 0 < len(chosen) < len(succ)


def test_an_unknown_property_makes_every_step_visible() -> None:
    def anything(state: State) -> bool:
        return True

    mc = ModelConfig(cfg=default_config(3), bounds=Bounds(max_in_flight=1), track_votes=False)
    model = FleModel(mc, selected=frozenset({"Mine"}), extra_invariants={"Mine": anything})
    assert run(model, por=True).distinct_states == run(model).distinct_states


# ---------------------------------------------------------------------------------------------- symmetry
def test_observer_symmetry_keeps_verdicts_with_fewer_states() -> None:
    props = frozenset(SAFETY)
    plain = run(late_observers(2, props))
    reduced = run(late_observers(2, props), symmetry=True)
    assert reduced.verdicts == plain.verdicts and reduced.exit_code == plain.exit_code == 0
    assert reduced.complete and reduced.distinct_states < plain.distinct_states


def test_observer_symmetry_still_finds_a_violation_on_a_concrete_path() -> None:
    props = frozenset({"AtMostOneLeadingPerRound"})
    plain = run(late_observers(2, props))
    model = late_observers(2, props)
    reduced = run(model, symmetry=True, por=True)
    assert plain.exit_code == reduced.exit_code == 12 and reduced.violation is not None
    state = model.init_states()[0]
    for action, nxt in reduced.violation.path[1:]:
        assert (action, nxt) in list(model.successors(state))
        state = nxt
    assert not model.invariants["AtMostOneLeadingPerRound"](state)


def test_an_observer_sid_appears_only_in_its_own_initial_vote() -> None:
    """The assumption canonical() rests on, over every reachable state of a two-observer config."""
    model = Recording(late_observers(2, frozenset({"OneLeaderPerEpoch"})))
    run(model)
    observers = {4, 5}
    for state in model.expanded:
        servers, channels, _ = state
        for k, s in enumerate(servers):
            own = model.sids[k]
            assert s[fle.PL] not in observers
            assert s[fle.CV][0] not in observers - {own}
            assert not any(e[0] in observers or e[1] in observers for e in (*s[fle.RS], *s[fle.OOE]))
        for ch in channels:
            assert all(msg[1] not in observers for msg in ch[fle.INFL])
        n = model.n
        assert not channels[3 * n + 4][fle.INFL] and not channels[4 * n + 3][fle.INFL]  # never talk
        for k, s in enumerate(servers):  # what _ranked relies on: a server not up has blank channels
            if s[fle.ALIVE] != fle.UP:
                blank = {channels[k * n + i] for i in range(n)} | {channels[i * n + k] for i in range(n)}
                assert blank == {(None, (), None, False)}


def test_canonical_is_the_same_for_both_namings_of_the_observers() -> None:
    model = Recording(late_observers(2, frozenset({"OneLeaderPerEpoch"})))
    run(model)
    swap = [0, 1, 2, 4, 3]
    seen = 0
    for state in model.expanded:
        other = reduction.permute(model._model, state, swap)
        assert reduction.canonical(model._model, other) == reduction.canonical(model._model, state)
        seen += other != state
    assert seen > 100  # many states really have their observers in different situations


def test_symmetry_is_the_identity_without_interchangeable_observers() -> None:
    one = model_of(["--scenario", "late-observer", "--max-in-flight", "1"])
    state = one.init_states()[0]
    assert reduction.canonical(one, state) is state
    starts = {4: ServerStart(running=False, after_decision=True), 5: ServerStart(running=False,
                                                                                after_decision=True)}
    mc = ModelConfig(cfg=default_config(3, 2), starts=starts, bounds=Bounds(max_in_flight=1))
    named = FleModel(mc, selected=frozenset({"ExpectedOutcome"}),
                     extra_invariants={"ExpectedOutcome": lambda s: s[0][3][fle.ST] != fle.LEADING})
    assert reduction._plan(named).groups == ()  # ExpectedOutcome names a server: no symmetry
    assert reduction._plan(late_observers(2, frozenset({"OneLeaderPerEpoch"}))).groups == ((3, 4),)


def test_a_symmetry_that_permutes_voters_loses_final_states(monkeypatch: pytest.MonkeyPatch) -> None:
    """The twin: FLE breaks ties by sid, so merging voter renamings drops reachable end states."""
    argv = ["--max-in-flight", "1", "--invariant", "OneLeaderPerEpoch"]
    full = Recording(model_of(argv))
    run(full, symmetry=True)  # no observers: the sound canonical is the identity
    monkeypatch.setattr(reduction, "PERMUTE_VOTERS", True)
    merged = Recording(model_of(argv))
    run(merged, symmetry=True)
    assert merged.final < full.final


def test_zkfle_check_symmetry_visits_fewer_states(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["check", "--servers", "3", "--observers", "2", "--max-in-flight", "1", "--max-depth", "7",
            "--invariant", "OneLeaderPerEpoch", "--json", "--out", str(tmp_path)]
    counts = []
    for extra in ([], ["--symmetry"]):
        assert main([*args, *extra]) == 0
        counts.append(json.loads(capsys.readouterr().out)["distinct_states"])
    assert counts[1] < counts[0]


def test_zkfle_check_symmetry_reduces_with_the_default_properties(capsys: pytest.CaptureFixture[str]) -> None:
    # Through the CLI with every default property: --symmetry turns liveness off (it needs the full graph)
    # instead of being dropped silently, so it visits fewer states with the same safety verdicts.
    argv = ["check", "--servers", "3", "--observers", "2", "--max-in-flight", "1", "--max-depth", "8",
            "--json"]
    assert main(argv) == 0
    plain = json.loads(capsys.readouterr().out)
    assert main([*argv, "--symmetry"]) == 0
    reduced = json.loads(capsys.readouterr().out)
    assert reduced["distinct_states"] < plain["distinct_states"]
    assert reduced["properties"]["Termination"] == "not checked"
    safety = {k: v for k, v in plain["properties"].items() if k != "Termination"}
    assert {k: v for k, v in reduced["properties"].items() if k != "Termination"} == safety
