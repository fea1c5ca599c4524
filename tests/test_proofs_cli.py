"""``zkfle prove`` from the command line: exit codes, witnesses, JSON, SMT-LIB files, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zkfle.cli import main
from zkfle.proofs import catalogue
from zkfle.proofs.query import recheck_smt2


def write_cfg(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_order_proven_and_smt_written_to_default_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["prove", "order"]) == 0
    out = capsys.readouterr().out
    assert out.count("PROVEN") == 6 and "REFUTED" not in out
    files = sorted((tmp_path / "zkfle-out" / "smt").glob("*.smt2"))
    assert len(files) == 6
    assert all(recheck_smt2(f) == "proven" for f in files)


def test_order_mutant_1419_exit_12_with_witness(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prove", "order", "--mutant", "ZK-1419", "--out", str(tmp_path)]) == 12
    out = capsys.readouterr().out
    assert "REFUTED  totalOrderPredicate asymmetric" in out
    assert "vote a: leader sid=" in out and "vote b: leader sid=" in out


def test_order_mutant_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prove", "order", "--mutant", "ZK-498", "--json", "--out", str(tmp_path)]) == 12
    data = json.loads(capsys.readouterr().out)
    assert data["exit_code"] == 12
    refuted = [r for r in data["results"] if r["verdict"] == "refuted"]
    assert [r["property"] for r in refuted] == ["totalOrderPredicate weight-0 candidate never wins"]
    assert refuted[0]["witness"]["votes"]["a"]["weight"] == 0


def test_quorums_config_and_next(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    three = write_cfg(tmp_path, "three.cfg", catalogue.zoo_cfg_text("majority-3"))
    four = write_cfg(tmp_path, "four.cfg", catalogue.zoo_cfg_text("majority-4"))
    five = write_cfg(tmp_path, "five.cfg", catalogue.zoo_cfg_text("majority-5"))
    out = str(tmp_path / "smt")
    assert main(["prove", "quorums", "--config", str(three), "--out", out]) == 0
    assert main(["prove", "quorums", "--config", str(three), "--next", str(four), "--out", out]) == 0
    capsys.readouterr()
    assert main(["prove", "quorums", "--config", str(three), "--next", str(five), "--out", out]) == 12
    text = capsys.readouterr().out
    assert "REFUTED  old and new quorums intersect" in text and "quorum A = " in text


def test_quorums_half_inclusive_and_hierarchical(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    four = write_cfg(tmp_path, "four.cfg", catalogue.zoo_cfg_text("majority-4"))
    h25 = write_cfg(tmp_path, "h25.cfg", catalogue.zoo_cfg_text("hierarchical-25"))
    out = str(tmp_path / "smt")
    assert main(["prove", "quorums", "--config", str(four), "--out", out]) == 0
    assert main(["prove", "quorums", "--config", str(four), "--mutant", "half-inclusive", "--out", out]) == 12
    assert "quorum B = [" in capsys.readouterr().out
    assert main(["prove", "quorums", "--config", str(h25), "--json", "--out", out]) == 0
    data = json.loads(capsys.readouterr().out)
    (result,) = data["results"]
    assert result["verdict"] == "proven" and "25 voters, hierarchical 5 groups" in result["config"]


def test_malformed_zoo_cfg_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write_cfg(tmp_path, "bad.cfg", "server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:notaport:3889\n")
    assert main(["prove", "quorums", "--config", str(bad), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("zkfle: error: ") and "bad.cfg:2:" in err[0]
    assert main(["prove", "quorums", "--config", str(tmp_path / "missing.cfg")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_unwritable_out_is_user_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert main(["prove", "order", "--out", str(blocker / "smt")]) == 2
    assert capsys.readouterr().err.startswith("zkfle: error: --out")


def test_bad_mutant_flag_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["prove", "order", "--mutant", "ZK-1"])
    assert exc.value.code == 2


def test_prove_all_table_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prove", "all", "--json", "--induction-servers", "0", "--out", str(tmp_path)]) == 0
    data = json.loads(capsys.readouterr().out)
    results = data["results"]
    assert all(r["verdict"] == r["expected"] for r in results)
    # negative twins are part of the run, and they are refuted
    assert sum(r["expected"] == "refuted" for r in results) >= 5
    configs = " ".join(r["config"] for r in results)
    for name in ("majority-3", "majority-5", "majority-7", "hierarchical-9", "hierarchical-25", "observers"):
        assert name in configs


def test_prove_induction_cli_prints_the_cti(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 2 voters, one invariant: the model's LeaderCompleteness is not inductive, so exit 12 with the CTI
    argv = ["prove", "induction", "--servers", "2", "--invariant", "LeaderCompleteness", "--variant", "as-is"]
    code = main([*argv, "--out", str(tmp_path)])
    assert code == 12
    out = capsys.readouterr().out
    assert "CTI      inductive LeaderCompleteness" in out and "counterexample to induction" in out
    assert "server 1:" in out and "round" in out
