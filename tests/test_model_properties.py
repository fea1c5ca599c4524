"""Each property of docs/properties.md holds on ZooKeeper 3.8.0 and fails on its negative twin."""

from __future__ import annotations

import dataclasses

import pytest

from zkfle.model import fle, properties
from zkfle.model.config import Bounds, ModelConfig, ServerStart, default_config, zxid_of
from zkfle.model.explorer import ExploreOptions, explore
from zkfle.model.fle import FleModel, State
from zkfle.model.mutants import MUTANTS, mutant
from zkfle.model.scenarios import SCENARIOS, scenario
from zkfle.model.testing import empty_channels, with_server
from zkfle.model.variant import Variant
from zkfle.model.vote import FOLLOWING, LEADING

ALL_BUT_NOT_GUARANTEED = frozenset(properties.DEFAULT) | {"ExpectedOutcome", "ExpectedDecision"}


def run(m: FleModel, **opts: object) -> dict[str, str]:
    result = explore(m, ExploreOptions(**opts))  # type: ignore[arg-type]
    if result.violation is None:
        assert result.complete, "a property run must be exhaustive to count as 'holds'"
    return dict(result.verdicts)


def plain(**bounds: object) -> FleModel:
    b = Bounds(**bounds)  # type: ignore[arg-type]
    return FleModel(ModelConfig(default_config(3), bounds=b), selected=None)


@pytest.fixture(scope="module")
def seed_reelection() -> dict[str, str]:
    everything = ALL_BUT_NOT_GUARANTEED | {"AtMostOneLeadingPerRound"}
    return run(scenario("seed-reelection").build(selected=everything))


# ---- the seed scenarios hold --------------------------------------------------------------------------
def test_seed_reelection_elects_4_on_the_vote_1_120_4(seed_reelection: dict[str, str]) -> None:
    assert seed_reelection["ExpectedDecision"] == "holds"
    assert seed_reelection["ExpectedOutcome"] == "holds"
    assert all(v == "holds" for v in seed_reelection.values()), seed_reelection


def test_seed_first_start_ends_with_2_leading_and_1_and_3_following() -> None:
    verdicts = run(scenario("seed-first-start").build(selected=ALL_BUT_NOT_GUARANTEED))
    assert verdicts["ExpectedOutcome"] == "holds" and verdicts["Termination"] == "holds"
    assert all(v == "holds" for v in verdicts.values()), verdicts


def test_seed_reelection_twin_with_server_2_most_up_to_date_fails_its_expectation() -> None:
    sc = scenario("seed-reelection")
    starts = dict(sc.starts)
    starts[2] = ServerStart(1, 1, zxid_of(1, 130))
    twin = dataclasses.replace(sc, starts=starts)
    verdicts = run(twin.build(selected=frozenset({"ExpectedDecision"})))
    assert verdicts["ExpectedDecision"] == "violated"


def test_seed_first_start_twin_where_3_starts_early_can_elect_3() -> None:
    sc = scenario("seed-first-start")
    twin = dataclasses.replace(sc, starts={3: ServerStart(running=False, starts_later=True)})
    verdicts = run(twin.build(selected=frozenset({"ExpectedOutcome"})))
    assert verdicts["ExpectedOutcome"] == "violated"


def test_weighted_zero_weight_server_is_never_elected_unless_zk498() -> None:
    ok = run(scenario("weighted").build(selected=ALL_BUT_NOT_GUARANTEED))
    assert all(v == "holds" for v in ok.values()), ok
    zk498 = mutant("ZK-498").variant
    bad = run(scenario("weighted").build(variant=zk498, selected=frozenset({"ExpectedOutcome"})))
    assert bad["ExpectedOutcome"] == "violated"


# ---- FLE does not guarantee one LEADING per round ------------------------------------------------------
def test_at_most_one_leading_per_round_is_not_guaranteed_by_fle() -> None:
    m = FleModel(ModelConfig(default_config(3), bounds=Bounds(max_in_flight=2)),
                 selected=frozenset({"AtMostOneLeadingPerRound"}))
    assert run(m)["AtMostOneLeadingPerRound"] == "violated"


def test_at_most_one_leading_per_round_holds_when_every_live_voter_is_needed(
    seed_reelection: dict[str, str],
) -> None:
    assert seed_reelection["AtMostOneLeadingPerRound"] == "holds"


# ---- vote-order properties: ZK-1419 and ZK-275 ---------------------------------------------------------
def test_zk1419_breaks_no_vote_circle_and_leader_completeness() -> None:
    sc = scenario("mixed-epochs")
    v = mutant("ZK-1419").variant
    assert run(sc.build(variant=v, selected=frozenset({"NoVoteCircle"})))["NoVoteCircle"] == "violated"
    lc = run(sc.build(variant=v, selected=frozenset({"LeaderCompleteness"})))
    assert lc["LeaderCompleteness"] == "violated"


def test_vote_order_properties_hold_on_380_with_mixed_epochs() -> None:
    sc = scenario("mixed-epochs")
    m = sc.build(bounds=Bounds(max_in_flight=1, epochs=3),
                 selected=frozenset({"NoVoteCircle", "LeaderCompleteness", "VoteIsBestSeen", "ValidVote"}))
    verdicts = run(m, check_liveness=False)
    assert all(v == "holds" for v in verdicts.values()), verdicts


def test_zk275_breaks_vote_is_best_seen(seed_reelection: dict[str, str]) -> None:
    assert seed_reelection["VoteIsBestSeen"] == "holds"
    zk275 = mutant("ZK-275").variant
    m = scenario("staggered-rounds").build(variant=zk275, selected=frozenset({"VoteIsBestSeen"}))
    assert run(m)["VoteIsBestSeen"] == "violated"


# ---- state invariants on broken states -----------------------------------------------------------------
def invariant(m: FleModel, name: str) -> object:
    return m.invariants[name]


def test_one_leader_per_epoch_and_agreement_see_broken_states() -> None:
    m = plain()
    s = empty_channels(m, m.init_states()[0])
    good = with_server(m, s, 2, st=LEADING, cv=(2, 0, 1, 1), zab=1, cep=1, aep=1)
    good = with_server(m, good, 1, st=FOLLOWING, cv=(2, 0, 1, 1), zab=1, cep=1, aep=1)
    assert invariant(m, "OneLeaderPerEpoch")(good) and invariant(m, "Agreement")(good)  # type: ignore[operator]
    two = with_server(m, good, 3, st=LEADING, cv=(3, 0, 1, 1), zab=1, cep=1, aep=1)
    assert not invariant(m, "OneLeaderPerEpoch")(two)  # type: ignore[operator]
    astray = with_server(m, good, 1, cv=(3, 0, 1, 1))
    assert not invariant(m, "Agreement")(astray)  # type: ignore[operator]


def test_valid_vote_sees_an_invented_zxid_and_a_non_voter_leader() -> None:
    m = FleModel(ModelConfig(default_config(3, 1)))
    s = m.init_states()[0]
    assert invariant(m, "ValidVote")(s)  # type: ignore[operator]
    inflated = with_server(m, s, 1, proposal=(2, zxid_of(1, 9), 1))
    assert not invariant(m, "ValidVote")(inflated)  # type: ignore[operator]
    observer = with_server(m, s, 1, proposal=(4, 0, 0))
    assert not invariant(m, "ValidVote")(observer)  # type: ignore[operator]
    real = with_server(m, with_server(m, s, 2, cep=1, zx=zxid_of(1, 9)), 1, proposal=(2, zxid_of(1, 9), 1))
    assert invariant(m, "ValidVote")(real)  # type: ignore[operator]


def test_leader_completeness_compares_the_leader_with_its_quorum_ghosts() -> None:
    m = plain()
    s = empty_channels(m, m.init_states()[0])
    lead = with_server(m, s, 3, st=LEADING, vs=(0b011, (1, zxid_of(1, 2))))
    prop = m.action_properties["LeaderCompleteness"]
    assert not prop(s, ("FinalizeExpire", 3), lead)
    assert prop(s, ("FinalizeExpire", 3), with_server(m, lead, 3, cep=1, zx=zxid_of(1, 2)))


# ---- liveness ------------------------------------------------------------------------------------------
class LeaderNeverGivesUp(FleModel):
    """A mutant: a leader keeps leading without a quorum of followers (no ``LeaderQuit``)."""

    def _leader_has_quorum(self, state: State, k: int) -> bool:
        return True


def test_termination_holds_for_three_fresh_servers_and_fails_when_a_leader_never_gives_up() -> None:
    ok = run(FleModel(ModelConfig(default_config(3), bounds=Bounds(max_in_flight=1)),
                      selected=frozenset({"Termination"})))
    assert ok["Termination"] == "holds"
    stuck = LeaderNeverGivesUp(ModelConfig(default_config(3), bounds=Bounds(max_in_flight=1)),
                               selected=frozenset({"Termination"}))
    result = explore(stuck, ExploreOptions(check_deadlock=False))
    assert result.verdicts["Termination"] == "violated" and result.exit_code == 13


def test_the_round_bound_is_the_edge_of_the_space_not_a_stuck_state() -> None:
    """With ``max_round=1`` nobody may give up leading or following: a lone leader without quorum then
    stops only because of the bound, which ``bound_hit`` says (as for the epoch bound), so neither
    Termination nor the deadlock check blames the protocol for it."""
    capped = FleModel(ModelConfig(default_config(3), bounds=Bounds(max_in_flight=1, max_round=1)),
                      selected=frozenset({"Termination"}))
    result = explore(capped, ExploreOptions())
    assert result.verdicts["Termination"] == "holds" and result.verdicts["Deadlock"] == "holds"
    capped_quits = [s for s in _reachable(capped) if _capped_quit(capped, s)]
    assert capped_quits and all(capped.bound_hit(s) for s in capped_quits)


def _reachable(m: FleModel) -> list[State]:
    seen = {m.init_states()[0]}
    todo = list(seen)
    while todo:
        state = todo.pop()
        for _, nxt in m.successors(state):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return list(seen)


def _capped_quit(m: FleModel, state: State) -> bool:
    """A state where some leader without quorum would give up, but for the round bound."""
    servers = state[0]
    return m._quiet(state) and any(
        s[fle.ST] == LEADING and s[fle.RND] >= m.bounds.max_round and not m._leader_has_quorum(state, k)
        for k, s in enumerate(servers)
    )


# ---- catalogues -----------------------------------------------------------------------------------------
def test_every_mutant_names_a_real_scenario_and_changes_the_variant() -> None:
    assert {"ZK-1419", "no-finalize-wait", "ZK-275", "ZK-159"} <= set(MUTANTS)
    for name, mu in MUTANTS.items():
        assert mu.scenario in SCENARIOS, name
        assert mu.variant != Variant() and mu.description, name


def test_tracking_off_keeps_ghosts_out_of_the_state() -> None:
    m = FleModel(ModelConfig(default_config(3), track_votes=False))
    assert all(msg[5:] == (0, 0) for ch in m.init_states()[0][1] for msg in ch[fle.INFL])
