"""The mutant catalogue: every historical fault is caught by its own command, and 3.8.0 passes that command.

Each mutant test has its twin: the same ``zkfle check`` arguments without ``--mutant`` must hold
(exit 0, exhaustive). The leader-restart-small twin is shared by four mutants and run once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from zkfle.cli import main
from zkfle.model import bugs, fle
from zkfle.model.config import ModelConfig, default_config
from zkfle.model.explorer import ExploreOptions, explore
from zkfle.model.fle import FleModel
from zkfle.model.mutants import MUTANTS, check_argv, historical, mutant
from zkfle.model.probes import RESTART_SCENARIO
from zkfle.model.variant import Variant
from zkfle.model.vote import LOOKING

QUICK = ["ZK-1419", "ZK-975", "ZK-159", "ZK-498", "ZK-275", "ZK-480", "ZK-1732", "ZK-1514", "ZK-3537"]


def test_every_required_fault_is_registered_with_its_history() -> None:
    for name in QUICK:
        m = mutant(name)
        assert m.jira.startswith("ZOOKEEPER-") and m.affected and m.fixed_in and m.change and m.expect
        assert m.variant != Variant(), f"{name} must change the model"
    assert set(QUICK) <= set(historical())


@pytest.mark.parametrize("name", QUICK)
def test_mutant_is_caught_by_its_check(name: str) -> None:
    run = bugs.run(name)
    v = run.result.violation
    assert v is not None, f"{name}: {run.command} found nothing"
    assert v.property == mutant(name).expect
    assert run.result.exit_code == 12
    assert len(v) < 40


@pytest.mark.parametrize("name", ["ZK-1419", "ZK-975", "ZK-159", "ZK-498", "ZK-3537"])
def test_correct_model_passes_the_same_command(name: str) -> None:
    run = bugs.run(name, correct=True)
    assert run.result.violation is None and run.result.complete and run.result.exit_code == 0


def test_correct_model_passes_the_restart_probe_scenario() -> None:
    # The twin of ZK-1514, ZK-480, ZK-1732 and ZK-275: every probe and default safety property holds.
    assert {mutant(n).scenario for n in ("ZK-1514", "ZK-480", "ZK-1732", "ZK-275")} == {RESTART_SCENARIO}
    model = bugs.build(["check", "--scenario", RESTART_SCENARIO])
    assert {"LeaderKeepsItsRound", "VoteIsBestSeen"} <= set(model.action_properties) | set(model.invariants)
    assert "QuorumHeeded" in model.invariants
    result = explore(model, ExploreOptions(check_liveness=False))
    assert result.complete and result.violation is None, result.verdicts


def test_zkfle_check_with_the_listed_command_exits_12_and_without_mutant_0(tmp_path: object) -> None:
    out = str(tmp_path)
    assert main([*check_argv("ZK-1419"), "--out", out]) == 12
    assert main([*check_argv("ZK-1419", correct=True), "--out", out]) == 0


def test_zk975_knob_decides_on_a_full_recvset_and_380_never_does() -> None:
    # With the shortcut a server leaves LOOKING on a LOOKING notification without a finalize wait.
    def shortcut_steps(variant: Variant) -> int:
        m = FleModel(ModelConfig(cfg=default_config(3), variant=variant))
        seen, frontier, hits = set(), m.init_states(), 0
        while frontier and len(seen) < 3000:
            nxt = []
            for s in frontier:
                for action, t in m.successors(s):
                    if action[0] == "Deliver":
                        j = m.idx[action[2]]
                        if s[0][j][fle.ST] == LOOKING and t[0][j][fle.ST] != LOOKING and not s[0][j][fle.FW]:
                            msg = s[1][m.idx[action[1]] * m.n + j][fle.INFL][0]
                            hits += msg[0] == LOOKING
                    if t not in seen:
                        seen.add(t)
                        nxt.append(t)
            frontier = nxt
        return hits

    assert shortcut_steps(Variant(all_votes_shortcut=True)) > 0
    assert shortcut_steps(Variant()) == 0


def test_mutants_cli_lists_and_rejects_unknown_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mutants"]) == 0
    text = capsys.readouterr().out
    for name in MUTANTS:
        assert name in text
    assert main(["mutants", "--only", "ZK-0000", "--bench"]) == 2
    assert "unknown mutant" in capsys.readouterr().err


def test_write_docs_and_bench_from_real_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mutants", "--write-docs", str(tmp_path), "--only", "ZK-498"]) == 0
    page = (tmp_path / "ZK-498.md").read_text()
    assert "zkfle check --scenario weighted" in page and "```mermaid" in page and "exit 0 (passes" in page
    assert (tmp_path / "ZK-498.svg").read_text().count('class="lane"') == 3
    assert main(["trace", "show", str(tmp_path / "ZK-498.itf.json")]) == 0  # the trace replays
    capsys.readouterr()
    assert main(["mutants", "--bench", "--no-correct", "--only", "ZK-498", "--only", "ZK-159"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert len(table) == 4 and "| ZK-498 | weighted | ExpectedOutcome | 7 |" in table[2]
