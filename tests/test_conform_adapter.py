"""The ``cmd:`` target: the example adapter (docs/examples/adapter_example.py) conforms, its mutant not."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from zkfle.cli import main
from zkfle.conformance.scenarios import SCENARIOS
from zkfle.conformance.tracegen import generate

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "adapter_example.py"
PREDICATE = "return ne > ce or (ne == ce and (nz > cz or (nz == cz and nl > cl)))"


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("adapter-traces")
    for name in ("fresh-3", "epochs-3", "joiner-crash-3", "fresh-3-crash"):
        generate(SCENARIOS[name], out, count=None, cover_mode=True, seed=3, pool=60)
    return out


def test_example_adapter_conforms(traces: Path) -> None:
    assert main(["conform", "--target", f"cmd:{sys.executable} {EXAMPLE}", "--traces", str(traces)]) == 0


def test_mutated_example_adapter_diverges(traces: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    source = EXAMPLE.read_text()
    assert PREDICATE in source
    broken = tmp_path / "broken_adapter.py"
    # ZK-1419's predicate: the third clause no longer requires equal epochs
    zk1419 = "return ne > ce or (ne == ce and nz > cz) or (nz == cz and nl > cl)"
    broken.write_text(source.replace(PREDICATE, zk1419))
    assert main(["conform", "--target", f"cmd:{sys.executable} {broken}", "--traces", str(traces)]) == 12
    assert "DIVERGES" in capsys.readouterr().out


def test_adapter_that_answers_garbage_diverges_and_one_that_cannot_start_is_exit_3(
    traces: Path, tmp_path: Path
) -> None:
    liar = tmp_path / "liar.py"
    liar.write_text("import sys\nfor line in sys.stdin:\n    print('not json', flush=True)\n")
    one = sorted(traces.glob("*.json"))[0]
    assert main(["conform", "--target", f"cmd:{sys.executable} {liar}", "--traces", str(one)]) == 12
    assert main(["conform", "--target", f"cmd:{tmp_path / 'no-such-adapter'}", "--traces", str(one)]) == 3
