"""Bounded liveness (DecideWithin<K>): a K too small for an election is violated, a large enough one holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from zkfle.cli import main
from zkfle.model import replay
from zkfle.model.bounded import decide_within
from zkfle.model.bugs import build

FLAGS = ["--scenario", "fresh-3", "--max-in-flight", "1", "--epochs", "0"]


def test_small_k_is_violated_by_the_shortest_undecided_run(tmp_path: Path) -> None:
    model = build(["check", *FLAGS])
    result = decide_within(model, 8)
    v = result.violation
    assert v is not None and v.property == "DecideWithin8" and len(v) == 8
    assert not model.is_terminal(v.path[-1][1])
    # The run is a real run of the model: re-executing its actions reproduces it.
    assert replay.execute(model, [a for a, _ in v.path[1:] if a is not None]) == v.path


def test_large_enough_k_holds_and_the_cli_exit_codes_differ(tmp_path: Path) -> None:
    assert decide_within(build(["check", *FLAGS]), 40).verdicts["DecideWithin40"] == "holds"
    assert main(["decide-within", "40", *FLAGS, "--out", str(tmp_path)]) == 0
    assert main(["decide-within", "8", *FLAGS, "--out", str(tmp_path)]) == 13
    assert (tmp_path / "DecideWithin8.itf.json").is_file()


def test_k_below_one_is_the_users_mistake(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decide-within", "0", *FLAGS]) == 2
    assert "K must be at least 1" in capsys.readouterr().err
