"""Induction proofs: the Z3 core is pinned to zkfle.model.fle, and the Houdini verdicts have negative twins.

The pin: random walks of the explicit model; for each explicit step, the core's action (fed the explicit
pre-state and the delivered notification) must have a true guard, a post-state equal to the explicit
successor's abstraction, and must send every notification the explicit step put on a channel.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import z3
from hypothesis import given, settings
from hypothesis import strategies as st

from zkfle.model import fle
from zkfle.model.config import Bounds, ModelConfig, ServerStart, default_config
from zkfle.model.fle import FleModel
from zkfle.model.variant import Variant
from zkfle.proofs.core import Core, abstract, concrete_action, msg_values, same_state
from zkfle.proofs.induction import (
    AS_IS,
    NO_EPOCH_CHECK,
    ZK1419,
    Houdini,
    make_core,
    prove_induction,
    run_variant,
)
from zkfle.proofs.query import PROVEN, recheck_smt2


def new_messages(m: FleModel, before: Any, action: tuple[Any, ...], after: Any) -> set[tuple[int, ...]]:
    """Notifications the explicit step put on a channel (in flight, or in a send slot)."""
    out: set[tuple[int, ...]] = set()
    for c in range(m.n * m.n):
        a, b = before[1][c], after[1][c]
        old = list(a[fle.INFL])
        if action[0] == "Deliver" and c == m.idx[action[1]] * m.n + m.idx[action[2]]:
            old = old[1:]
        new = list(b[fle.INFL])
        out |= set(new[len(old):]) if new[: len(old)] == old else set(new)
        if b[fle.SLOT] is not None and b[fle.SLOT] != a[fle.SLOT]:
            out.add(b[fle.SLOT])
    return out


def mismatch(core: Core, m: FleModel, before: Any, action: tuple[Any, ...], after: Any) -> str | None:
    """Why the core does not admit exactly this explicit step (None when it does)."""
    act = concrete_action(core, m, before, action)
    if act is None:  # Transmit: only a channel changes
        same = same_state(abstract(m, before), abstract(m, after))
        return None if same else f"{action}: Transmit changed a server"
    if not z3.is_true(z3.simplify(act.guard)):
        return f"{action}: the core's guard is false"
    if not same_state(act.post, abstract(m, after)):
        return f"{action}: the core's successor differs from the model's"
    sent = {msg_values(msg) for cond, msg in act.sends if z3.is_true(z3.simplify(cond))}
    missing = new_messages(m, before, action, after) - sent
    if missing:
        return f"{action}: the model sent {sorted(missing)} but the core did not"
    return None


def walk(m: FleModel, core: Core, seed: int, steps: int, per_state: int) -> tuple[list[str], set[str]]:
    rng = random.Random(seed)
    state = m.init_states()[0]
    problems: list[str] = []
    kinds: set[str] = set()
    for _ in range(steps):
        succ = list(m.successors(state))
        if not succ:
            break
        # prefer the rarer actions now and then, so Zab and crash steps are covered
        rare = [s for s in succ if s[0][0] not in ("Deliver", "Transmit")]
        taken = rng.choice(rare) if rare and rng.random() < 0.4 else rng.choice(succ)
        for action, after in {taken, *rng.sample(succ, min(per_state, len(succ)))}:
            kinds.add(action[0])
            why = mismatch(core, m, state, action, after)
            if why:
                problems.append(why)
        state = taken[1]
    return problems, kinds


def model_of(channel: str, late: bool = False, variant: Variant | None = None) -> FleModel:
    starts = {3: ServerStart(running=False)} if late else {}
    mc = ModelConfig(
        cfg=default_config(3), channel=channel, starts=starts, variant=variant or Variant(),
        bounds=Bounds(crashes=1, epochs=3, txns=2, max_round=5, max_in_flight=3),
    )
    return FleModel(mc)


WANTED = {
    "Deliver", "FinalizeExpire", "ProcessRequeued", "Timeout", "Establish", "Join", "Commit", "LeaderQuit",
    "Crash", "Restart",
}


def test_core_admits_exactly_the_model_steps_covering_every_action() -> None:
    m = model_of("fifo")
    core = Core(m.mc.qv)
    kinds: set[str] = set()
    for seed in range(16):
        problems, seen = walk(m, core, seed=seed, steps=70, per_state=1)
        assert problems == []
        kinds |= seen
        if kinds >= WANTED:
            break
    assert kinds >= WANTED, f"the walks never took {sorted(WANTED - kinds)}"


@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 10_000), channel=st.sampled_from(["fifo", "zk"]), late=st.booleans())
def test_core_admits_exactly_the_model_steps_on_random_walks(seed: int, channel: str, late: bool) -> None:
    m = model_of(channel, late)
    problems, _ = walk(m, Core(m.mc.qv), seed=seed, steps=25, per_state=1)
    assert problems == []


def test_pin_detects_a_model_that_drifts() -> None:
    # Negative twin: the same core against a model without finalizeWait must be caught (decides at once).
    m = model_of("fifo", variant=Variant(finalize_wait=False))
    problems: list[str] = []
    for seed in range(5):
        problems += walk(m, Core(m.mc.qv), seed=seed, steps=40, per_state=2)[0]
        if problems:
            break
    assert problems, "a model that decides without finalizeWait went unnoticed"


def test_houdini_two_voters_model_as_is(tmp_path: Path) -> None:
    names = ["OneLeaderPerEpoch", "Agreement", "ProposalDominatesSelf", "LeaderCompleteness"]
    outcomes = {o.prop: o for o in run_variant(2, AS_IS, names, tmp_path)}
    assert outcomes["inductive OneLeaderPerEpoch"].verdict == PROVEN
    assert outcomes["inductive Agreement"].verdict == PROVEN
    assert outcomes["inductive ProposalDominatesSelf"].verdict == PROVEN
    completeness = outcomes["inductive LeaderCompleteness"]
    assert completeness.verdict == "cti" and any("LEADING" in line for line in completeness.witness_lines)
    # every written consecution query of the kept invariants is unsat when re-loaded
    files = sorted(tmp_path.glob("induction-*.smt2"))
    assert files
    assert all(recheck_smt2(f) == PROVEN for f in files[:6])


KEPT_3 = ["StateRange", "EpochOrder", "LookingNotInZab", "FinalizeWaitOnlyLooking", "ProposalDominatesSelf",
          "EpochQuorum", "OneLeaderPerEpoch", "Agreement", "MsgRange", "MsgLookingDominatesSender"]


def test_join_without_the_learner_epoch_check_breaks_the_epoch_quorum() -> None:
    # 3 voters: the model's Join checks as ZooKeeper's Learner.registerWithLeader does (a leader epoch below
    # acceptedEpoch is refused), and preserves everything kept ...
    guarded = make_core(3, AS_IS)
    assert guarded.join_epoch_check and Core(guarded.qv).join_epoch_check  # the check is the default
    for ld in (1, 2):
        assert Houdini(guarded).check_step(guarded.join(0, ld, guarded.pre()), KEPT_3) == {}
    # ... a Join without the check lowers a follower's acceptedEpoch (negative twin)
    unchecked = make_core(3, NO_EPOCH_CHECK)
    broken = Houdini(unchecked).check_step(unchecked.join(0, 1, unchecked.pre()), KEPT_3)
    assert "EpochQuorum" in broken
    assert any("acceptedEpoch" in line for line in broken["EpochQuorum"].lines)


def test_zk1419_predicate_breaks_proposal_dominates_self() -> None:
    names = ["StateRange", "ProposalDominatesSelf", "MsgRange", "MsgLookingDominatesSender"]
    good = make_core(2, AS_IS)
    assert Houdini(good).check_step(good.deliver(1, 0, good.pre(), _msg()), names) == {}
    bad = make_core(2, ZK1419)
    broken = Houdini(bad).check_step(bad.deliver(1, 0, bad.pre(), _msg()), names)
    assert "ProposalDominatesSelf" in broken


def _msg() -> Any:
    from zkfle.proofs.core import Msg

    return Msg.fresh("msg")


def test_unknown_invariant_and_server_count_are_user_errors() -> None:
    from zkfle.errors import UserInputError

    with pytest.raises(UserInputError, match="unknown"):
        prove_induction(2, "NoSuchInvariant", out_dir=None)
    with pytest.raises(UserInputError, match="1 to 5"):
        prove_induction(9, None, out_dir=None)
