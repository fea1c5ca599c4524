"""A conformance trace never ends while the SUT has a forced step pending (its loop-back vote or a
re-queued notification): a live SUT takes that step at once, so a trace cut there expects a state the SUT
has already left (the epochs-3-s2-0002 false divergence on 3.4.3, docs/versions.md §8)."""

from __future__ import annotations

import random

import pytest

from zkfle.conformance.scenarios import scenario
from zkfle.conformance.tracegen import RecordingModel, walk
from zkfle.model.profiles import variant_for

CASES = [("epochs-3", "zookeeper-3.4.3"), ("epochs-3", "zookeeper-3.8.0"), ("fresh-3", "zookeeper-3.8.0"),
         ("fresh-3-crash", "zookeeper-3.8.0")]


class CutAtMaxSteps(RecordingModel):
    """The twin: the old walk, which stopped at max_steps whatever the SUT had pending."""

    def sut_step_forced(self, state: tuple) -> bool:  # type: ignore[override]
        return False


def _final_states_forced(model_cls: type[RecordingModel], name: str, profile: str, walks: int,
                         max_steps: int) -> tuple[int, int]:
    scen = scenario(name)
    m = model_cls(scen, variant_for(profile))
    rng = random.Random(7)
    forced = longer = 0
    for _ in range(walks):
        w = walk(m, rng, max_steps)
        forced += RecordingModel.sut_step_forced(m, w.states[-1])
        longer += len(w.actions) - 1 > max_steps
    return forced, longer


@pytest.mark.parametrize(("name", "profile"), CASES)
def test_no_trace_ends_with_a_forced_sut_step(name: str, profile: str) -> None:
    forced, _ = _final_states_forced(RecordingModel, name, profile, walks=150, max_steps=12)
    assert forced == 0


def test_twin_walks_cut_at_max_steps_do_end_with_a_forced_step() -> None:
    # the same walks with the old rule: some end with the SUT's step pending, which the test above rejects
    total = sum(_final_states_forced(CutAtMaxSteps, n, p, walks=150, max_steps=12)[0] for n, p in CASES)
    assert total > 0


def test_walks_only_run_past_max_steps_for_forced_steps() -> None:
    _, longer = _final_states_forced(RecordingModel, "epochs-3", "zookeeper-3.4.3", walks=150, max_steps=12)
    assert longer > 0  # the tail exists ...
    scen = scenario("epochs-3")
    m = RecordingModel(scen, variant_for("zookeeper-3.4.3"))
    rng = random.Random(7)
    for _ in range(150):
        w = walk(m, rng, 12)
        for state in w.states[12:-1]:  # ... and every step taken past max_steps was forced
            assert RecordingModel.sut_step_forced(m, state)
