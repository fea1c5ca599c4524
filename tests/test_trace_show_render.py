"""zkfle trace show / render / minimize on real counterexamples written by zkfle check and zkfle simulate.

Negative twins: a trace whose step is not enabled, a trace that does not violate its property, a missing
file; each must fail with one line (exit 2), never a traceback. The HTML page is opened in headless Chromium.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from zkfle.cli import main
from zkfle.errors import TraceError
from zkfle.model import replay
from zkfle.model.minimize import first_violation, minimize
from zkfle.model.mutants import check_argv

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def zk1419_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("zk1419")
    assert main([*check_argv("ZK-1419"), "--out", str(out)]) == 12
    return out / "NoVoteCircle.itf.json"


@pytest.fixture(scope="module")
def simulated_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    code = main(["simulate", "--scenario", "fresh-3-small", "--mutant", "ZK-159", "--steps", "200",
                   "--walks", "300", "--seed", "11", "--out", str(out)])
    assert code == 12
    return out / "FollowsOnlyDecidedLeaders.itf.json"


def test_show_tells_which_comparison_won(zk1419_trace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "show", str(zk1419_trace)]) == 0
    text = capsys.readouterr().out
    steps = [line for line in text.splitlines() if re.match(r"\s*\d+\. ", line)]
    assert len(steps) == 4  # the BFS counterexample's length
    assert "the clause ZK-1419 fixed" in text  # sid beat a larger epoch
    assert "because peerEpoch 2 > 1" in text
    assert text.strip().endswith("NoVoteCircle = False on the last step")


def test_mermaid_has_every_participant_and_message(zk1419_trace: Path, tmp_path: Path) -> None:
    out = tmp_path / "d.mmd"
    assert main(["trace", "render", str(zk1419_trace), "-o", str(out), "--format", "mermaid"]) == 0
    text = out.read_text()
    assert text.startswith("sequenceDiagram")
    assert text.count("participant ") == 3
    assert len(re.findall(r"->>", text)) == 4
    assert "violates NoVoteCircle" in text


def test_html_page_is_standalone_and_complete(zk1419_trace: Path, tmp_path: Path) -> None:
    out = tmp_path / "review.html"
    assert main(["trace", "render", str(zk1419_trace), "-o", str(out)]) == 0
    page = out.read_text()
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page and "<script" not in page
    assert page.count('class="lane"') == 3
    assert len(re.findall(r'class="message', page)) == 4
    assert page.count("message violation") == 1  # the last step is the highlighted one


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium here (apt-get install chromium); CI has it")
def test_chromium_draws_every_lane_and_message(zk1419_trace: Path, tmp_path: Path) -> None:
    page = tmp_path / "review.html"
    assert main(["trace", "render", str(zk1419_trace), "-o", str(page)]) == 0
    flags = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=900,700"]
    shot = tmp_path / "shot.png"
    subprocess.run([*flags, f"--user-data-dir={tmp_path / 'u1'}", f"--screenshot={shot}", page.as_uri()],
                   check=True, capture_output=True, timeout=120)
    dom = subprocess.run([*flags, f"--user-data-dir={tmp_path / 'u2'}", "--dump-dom", page.as_uri()],
                         check=True, capture_output=True, timeout=120, text=True).stdout
    assert dom.count('class="lane"') == 3
    assert len(re.findall(r'class="message', dom)) == 4
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert _distinct_colours(data) > 4, "the screenshot is blank"
    # The twin: a blank page's screenshot is recognised as blank.
    blank, blank_shot = tmp_path / "blank.html", tmp_path / "blank.png"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    subprocess.run([*flags, f"--user-data-dir={tmp_path / 'u3'}", f"--screenshot={blank_shot}",
                    blank.as_uri()], check=True, capture_output=True, timeout=120)
    assert _distinct_colours(blank_shot.read_bytes()) <= 4


def _distinct_colours(png: bytes) -> int:
    """Distinct RGB values in a PNG (decoded with zlib; 8-bit RGB or RGBA, no interlace)."""
    import struct
    import zlib

    pos, idat, width, height, channels = 8, b"", 0, 0, 3
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        body = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, _, colour = struct.unpack(">IIBB", body[:10])
            channels = 4 if colour == 6 else 3
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels + 1
    colours = set()
    for row in range(0, height, 7):
        line = raw[row * stride + 1:(row + 1) * stride]  # filtered bytes are enough to tell blank from not
        colours.update(line[i:i + 3] for i in range(0, len(line) - 3, channels * 5))
    return len(colours)


def test_minimize_shortens_a_simulated_trace_and_rechecks(simulated_trace: Path, tmp_path: Path) -> None:
    r = replay.load(simulated_trace)
    actions = [a for a, _ in r.path[1:] if a is not None]
    out = tmp_path / "min.itf.json"
    assert main(["trace", "minimize", str(simulated_trace), "-o", str(out)]) == 0
    small = replay.load(out)
    kept = [a for a, _ in small.path[1:] if a is not None]
    assert len(kept) < len(actions)
    assert first_violation(small.model, kept, r.property) == len(kept)
    for k in range(len(kept)):  # 1-minimal: no single step can go
        assert first_violation(small.model, kept[:k] + kept[k + 1:], r.property) is None


def test_minimize_refuses_a_trace_that_does_not_violate(zk1419_trace: Path) -> None:
    r = replay.load(zk1419_trace)
    actions = [a for a, _ in r.path[1:] if a is not None]
    with pytest.raises(TraceError, match="does not violate"):
        minimize(r.model, actions[:-1], r.property)


def test_a_step_that_is_not_enabled_is_the_traces_fault(zk1419_trace: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    raw = json.loads(zk1419_trace.read_text())
    raw["states"][1]["#meta"]["action"] = "Establish"  # nobody leads at the start: not enabled
    raw["states"][1]["#meta"]["params"]["args"] = [{"#bigint": "1"}]
    bad = tmp_path / "bad.itf.json"
    bad.write_text(json.dumps(raw))
    assert main(["trace", "show", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "step 1" in err and "not enabled" in err
    with pytest.raises(TraceError, match=r"step 1 .* is not enabled"):
        replay.load(bad)


def test_missing_or_malformed_files_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "show", str(tmp_path / "nope.itf.json")]) == 2
    junk = tmp_path / "junk.itf.json"
    junk.write_text("{not json")
    assert main(["trace", "render", str(junk), "-o", str(tmp_path / "x.html")]) == 2
    err = capsys.readouterr().err
    assert err.count("zkfle: error:") == 2 and "Traceback" not in err


def test_a_lasso_loop_is_marked_in_the_story(zk1419_trace: Path) -> None:
    # No mutant has a cheap lasso at these bounds yet; this checks how a loop index (ITF "loop") is told.
    from zkfle.model.narrative import narrate

    r = replay.load(zk1419_trace)
    lines = narrate(r.model, r.path, "", loop=2)
    assert lines[2].endswith("<- the loop starts here") and "loop starts" not in lines[1] + lines[3]
    assert lines[-1] == "     ... back to the state after step 2, forever (a lasso)"


def test_action_parameters_are_read_by_name_not_by_key_order() -> None:
    """A trace written by another tool may order a record's keys differently: src/dst still mean src/dst."""
    from zkfle.model.replay import action_of

    big = {"#bigint": "2"}
    entry = {"#meta": {"action": "Deliver", "params": {"dst": {"#bigint": "1"}, "src": big}}}
    assert action_of(entry) == ("Deliver", 2, 1)
    legacy = {"#meta": {"action": "Deliver", "params": {"to": 1, "from": 2}}}
    assert action_of(legacy) == ("Deliver", 2, 1)
    positional = {"#meta": {"action": "Commit", "params": {"p2": 6, "p1": 3}}}
    assert action_of(positional) == ("Commit", 3, 6)
