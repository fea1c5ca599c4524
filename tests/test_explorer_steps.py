"""The explorer's step memo (model/explorer/steps.py) against the model's own ``successors``.

The memo remembers FLE's enabled steps per guard key and each step's effect per footprint key, so it is
right only if ``FleModel.guard_reads()`` covers every read of ``_enabled`` and ``footprint(action)`` every
read of the step's effect. Nothing at run time can see a missed read: the differential check here can.
On every state a BFS over ``successors`` reaches (capped per configuration, then seeded random walks down
to the deep steps), ``StepMemo.expand`` must give the same actions in the same order, successors that
decode to exactly the states ``successors`` gives, the fingerprints of those states, and the verdicts the
action properties give on the step. Each part of that check has a twin that must fail: a footprint that
misses a read, a guard projection that misses a field, an action property that reads more than the step
changes, a footprint that misses a changed part (``InternalError``), a fingerprint summed without its
per-position seed, a model that overrides ``successors`` alone. The memo also forgets (a bounded memory)
and must agree after that; and the search counts, verdicts and counterexamples are the same without it.
"""

from __future__ import annotations

import json
import marshal
import os
import random
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
import xxhash

from zkfle.errors import InternalError
from zkfle.model import mutants
from zkfle.model.explorer import ExploreOptions, ExploreResult, explore, steps
from zkfle.model.explorer.collapse import ComponentTable
from zkfle.model.explorer.fingerprint import MARSHAL_VERSION
from zkfle.model.explorer.steps import StepMemo
from zkfle.model.fle import FW, INFL, ST, FleModel, _server_guard
from zkfle.model.vote import LOOKING

State = tuple[Any, ...]
Action = tuple[Any, ...]
WALK_STEPS = 200  # longer than any config's diameter: a walk ends where nothing is enabled


def _fle(argv: list[str]) -> FleModel:
    """The model ``zkfle ARGV`` builds."""
    from zkfle.cli import build_parser
    from zkfle.model.cli import build_model

    return build_model(build_parser().parse_args(argv))


def _as(cls: type[FleModel], argv: list[str]) -> FleModel:
    """The model ``zkfle ARGV`` builds, as an instance of the FleModel subclass ``cls`` (the CLI builds a
    plain FleModel; a twin only changes a declaration, so it takes over the very same object)."""
    model = _fle(argv)
    model.__class__ = cls
    return model


def _memo(model: Any) -> tuple[ComponentTable, StepMemo]:
    table = ComponentTable.for_model(model)
    assert table is not None
    memo = StepMemo.for_model(model, table, tuple(model.action_properties.items()))
    assert memo is not None, "the model opts in to the step memo"
    return table, memo


@dataclass
class Comparison:
    """What one differential run compared, and the first mismatch (None: the memo agreed everywhere)."""

    states: int = 0  # states compared (the BFS prefix, then the walks' states)
    steps: int = 0
    entries: int = 0
    guard_keys: int = 0
    complete: bool = False  # the BFS reached every reachable state
    actions: set[str] = field(default_factory=set)  # the action names compared
    mismatch: str | None = None


def compare_memo(model: Any, max_states: int | None = None, walks: int = 0) -> Comparison:
    """Walk the reachable states breadth-first with ``model.successors`` (at most ``max_states`` of them)
    and compare, on each, ``StepMemo.expand`` with ``list(model.successors(state))``. BFS order makes the
    memo meet the same guard and footprint keys again and again, so both its hits and misses are tested.
    A capped BFS stays shallow, so ``walks`` seeded random walks then go deep (Zab's steps, quits,
    restarts), on the same memo, comparing on every state they pass."""
    table, memo = _memo(model)
    out = Comparison()

    def compared(state: State) -> list[tuple[Action, State]] | None:
        out.states += 1
        ids = table.encode(state)
        got = memo.expand(ids, table.fingerprint(ids))
        want = list(model.successors(state))
        out.mismatch = _first_mismatch(model, table, memo, state, ids, got, want)
        out.steps += len(want)
        out.actions.update(action[0] for action, _ in want)
        return want if out.mismatch is None else None

    inits = list(model.init_states())
    seen = set(inits)
    queue = deque(inits)
    while queue and (max_states is None or out.states < max_states):
        want = compared(queue.popleft())
        if want is None:
            return out
        for _, target in want:
            if target not in seen:
                seen.add(target)
                queue.append(target)
    out.complete = not queue
    rng = random.Random(20261127)
    for _ in range(walks):
        state = rng.choice(inits)
        for _ in range(WALK_STEPS):
            want = compared(state)
            if want is None:
                return out
            if not want:
                break
            state = rng.choice(want)[1]
    out.entries = memo.entries
    out.guard_keys = len(memo.guards)
    return out


def _first_mismatch(
    model: Any, table: ComponentTable, memo: StepMemo, state: State, ids: list[int],
    got: list[Any], want: list[tuple[Action, State]],
) -> str | None:
    where = f"at {state!r}"
    if [action for _, action, _ in got] != [action for action, _ in want]:
        memo_actions = [action for _, action, _ in got]
        return f"actions {memo_actions} from the memo, {[a for a, _ in want]} from successors {where}"
    for (fp, action, (changed, _, failed)), (_, target) in zip(got, want, strict=True):
        new = list(ids)
        for k, cid in changed:
            new[k] = cid
        if table.decode(new) != target:
            return f"{action!r} leads to {table.decode(new)!r} in the memo, {target!r} in successors {where}"
        if fp != table.fingerprint(table.encode(target)):
            return f"{action!r}: the memo's fingerprint {fp} is not the target's {where}"
        judged = tuple(
            name for name, prop, kinds in memo.memo_props
            if (kinds is None or action[0] in kinds) and not prop(state, action, target)
        )
        if failed != judged:
            return f"{action!r}: the memo remembers {failed} violated, the properties say {judged} {where}"
    return None


def _check(argv: list[str]) -> list[str]:
    return ["check", *argv]


# The kinds of step FleModel._enabled adds (docs/model.md).
FLE_ACTIONS = {"Deliver", "Transmit", "ProcessRequeued", "FinalizeExpire", "SetCurrentVote", "Timeout",
               "Establish", "Join", "Commit", "LeaderQuit", "FollowerQuit", "Crash", "Restart"}
ELECTION = {"Deliver", "FinalizeExpire", "ProcessRequeued", "Timeout"}
ZAB = {"Establish", "Join", "LeaderQuit", "FollowerQuit"}
FAULTS = {"Crash", "Restart"}
CRASH = ["--servers", "3", "--crashes", "1", "--epochs", "2", "--txns", "1"]
# Each configuration with its BFS cap (a few thousand states for the big ones: in BFS order that prefix
# holds every state up to some depth; all of them for the small ones), and the action names its comparison
# must have met, the walks included. Under a second each on one core.
CONFIGS: list[tuple[str, list[str], int | None, set[str]]] = [
    ("fifo", ["--servers", "3"], 2500, ELECTION | ZAB),
    ("zk", ["--servers", "3", "--channel", "zk", "--max-in-flight", "2"], 2500, ELECTION | ZAB),
    ("crash-fifo", [*CRASH, "--channel", "fifo"], 2500, ELECTION | ZAB | FAULTS | {"Commit"}),
    ("crash-zk", [*CRASH, "--channel", "zk"], 2500, ELECTION | ZAB | FAULTS | {"Commit", "Transmit"}),
    ("observer", ["--scenario", "observer"], 2000, ELECTION | {"Establish", "Join", "FollowerQuit"}),
    ("weighted", ["--scenario", "weighted"], None, {"Deliver", "Timeout", "Establish", "Join"}),
    ("seed-reelection", ["--scenario", "seed-reelection"], 2500, {"Deliver", "Establish"}),
    ("late-joiner", ["--scenario", "late-joiner"], None, {"Restart", "Join"}),
    ("leader-crash", ["--scenario", "leader-crash"], 2500, ELECTION | ZAB | FAULTS),
    ("late-current-vote", ["--servers", "3", "--late-current-vote"], 2500,
     ELECTION | ZAB | {"SetCurrentVote"}),
    ("ZK-1419", mutants.check_argv("ZK-1419")[1:], 2500, ELECTION | ZAB),
    ("no-finalize-wait", mutants.check_argv("no-finalize-wait")[1:], None, {"Deliver", "Join"}),
]
WALKS = 100


def test_the_configurations_meet_every_action_of_the_model() -> None:
    """Between them the comparisons below run every kind of step ``FleModel._enabled`` adds (and each
    comparison checks it met no other kind, so a new kind of step must be listed here and met)."""
    assert set().union(*(cover for *_, cover in CONFIGS)) == FLE_ACTIONS


@pytest.mark.parametrize("argv, cap, cover", [c[1:] for c in CONFIGS], ids=[c[0] for c in CONFIGS])
def test_memo_agrees_with_successors_on_every_reachable_state(
    argv: list[str], cap: int | None, cover: set[str]
) -> None:
    model = _fle(_check(argv))
    result = compare_memo(model, cap, walks=WALKS)
    assert result.mismatch is None, result.mismatch
    assert result.complete or (cap is not None and result.states > cap)  # all of it, or the cap then walks
    assert cover <= result.actions <= FLE_ACTIONS
    assert result.steps > result.states  # states with several successors were compared
    # hits, not only misses: far fewer remembered effects than steps compared, guard keys than states
    assert result.entries * 2 < result.steps
    assert result.guard_keys < result.states


# ---------------------------------------------------------------------------------------------- twins
class DeliverBlindToAlive(FleModel):
    """The twin: a delivery's footprint without the other servers' liveness, which ``_send`` reads (a
    message to a server that is down is lost) but never changes."""

    def footprint(self, action: Action) -> tuple[tuple[int, Callable[[Any], Any] | None], ...]:
        reads = super().footprint(action)
        if action[0] != "Deliver":
            return reads
        return tuple((p, fn) for p, fn in reads if fn is None)


class GuardBlindToFinalizeWait(FleModel):
    """The twin: guards keyed on a server projection without the finalize-wait flag FW (``FinalizeExpire``
    and the quiet network both read it)."""

    def guard_reads(self) -> tuple[Callable[[Any], Any] | None, ...]:
        return tuple(_without_fw if fn is _server_guard else fn for fn in super().guard_reads())


def _without_fw(s: tuple[Any, ...]) -> tuple[Any, ...]:
    return (*_server_guard(s)[:3], *_server_guard(s)[4:])


def test_the_projections_the_twins_drop_are_read() -> None:
    """The twins drop something real: the guard projection has FW as its 4th field, and the delivery's
    footprint of the crash config projects the other servers (their liveness)."""
    model = _fle(_check(CONFIGS[2][1]))
    server = model.init_states()[0][0][0]
    assert _server_guard(server)[3] is server[FW]
    assert any(fn is not None for _, fn in model.footprint(("Deliver", 1, 2)))
    assert all(fn is None for _, fn in _fle(_check(CONFIGS[0][1])).footprint(("Deliver", 1, 2)))  # always up


@pytest.mark.parametrize("twin, argv, found", [
    (DeliverBlindToAlive, CRASH, "('Deliver', "),  # a successor the memo gets wrong
    (GuardBlindToFinalizeWait, ["--servers", "3"], "'FinalizeExpire'"),  # a step the memo misses
])
def test_a_declaration_that_misses_a_read_is_caught(
    twin: type[FleModel], argv: list[str], found: str
) -> None:
    """No exception anywhere (the memo cannot see a missed read): the comparison must find the mismatch."""
    result = compare_memo(_as(twin, _check(argv)), 20000)
    assert result.mismatch is not None and found in result.mismatch.split(" at ")[0]
    assert compare_memo(_fle(_check(argv)), result.states).mismatch is None  # the real declarations agree


class SenderReadAsChanged(FleModel):
    """The twin: an action property said to read only the parts a step changes, which reads the sender of
    a delivery (a server the step never changes): the memo would remember its first verdict per effect."""

    @property
    def action_properties(self) -> Mapping[str, Callable[[State, Action, State], bool]]:
        return {**super().action_properties, "SenderStillLooking": self._sender_still_looking}

    def _sender_still_looking(self, state: State, action: Action, target: State) -> bool:
        return action[0] != "Deliver" or self.server(target, action[1])[ST] == LOOKING

    def action_reads_changed_only(self, name: str) -> bool:
        return name == "SenderStillLooking" or super().action_reads_changed_only(name)


def test_an_action_property_that_reads_an_unchanged_part_is_caught() -> None:
    argv = _check(["--servers", "3"])
    result = compare_memo(_as(SenderReadAsChanged, argv), 20000)
    assert result.mismatch is not None and "SenderStillLooking" in result.mismatch
    _, memo = _memo(_fle(argv))
    assert [name for name, _, _ in memo.memo_props]  # FLE's own are judged with the effect, and agree above


class DeliverBlindToItsChannel(FleModel):
    """The twin: a delivery's footprint without the channel it takes the notification from (which the
    step changes)."""

    def footprint(self, action: Action) -> tuple[tuple[int, Callable[[Any], Any] | None], ...]:
        reads = super().footprint(action)
        if action[0] != "Deliver":
            return reads
        source = self.n + self.idx[action[1]] * self.n + self.idx[action[2]]
        return tuple((p, fn) for p, fn in reads if p != source)


class CrashBlindToCounters(FleModel):
    """The twin: a crash's footprint without the counters (the crash count goes up)."""

    def footprint(self, action: Action) -> tuple[tuple[int, Callable[[Any], Any] | None], ...]:
        reads = super().footprint(action)
        counters = self.n + self.n * self.n
        return reads if action[0] != "Crash" else tuple((p, fn) for p, fn in reads if p != counters)


@pytest.mark.parametrize("twin, argv", [
    (DeliverBlindToItsChannel, ["--servers", "3"]),
    (CrashBlindToCounters, ["--servers", "3", "--crashes", "1"]),
])
def test_a_footprint_that_misses_a_changed_part_is_the_models_fault(
    twin: type[FleModel], argv: list[str]
) -> None:
    model = _as(twin, _check(argv))
    with pytest.raises(InternalError, match="footprint"):
        explore(model, ExploreOptions(check_liveness=False))
    # the same search without the memo never asks the footprint (so the error above came from the memo)
    plain = explore(model, ExploreOptions(check_liveness=False, step_memo=False, max_states=2000))
    assert plain.distinct_states >= 2000


# ---------------------------------------------------------------------------------------------- search
def _facts(model: Any, **options: Any) -> tuple[Any, ...]:
    """Everything a search reports that the memo must not change (not its time)."""
    result: ExploreResult = explore(model, ExploreOptions(check_liveness=False, **options))
    path = None
    if result.violation is not None:
        v = result.violation
        path = (v.kind, v.property, tuple(step for step, _ in v.path), tuple(state for _, state in v.path))
    return (result.distinct_states, result.states_generated, result.diameter, result.complete,
            tuple(sorted(result.verdicts.items())), result.exit_code, path)


@pytest.mark.parametrize("argv, options, memo_options", [
    (["--servers", "3", "--invariant", "AtMostOneLeadingPerRound"], {}, {}),  # a violation: exit 12
    (["--servers", "3", "--max-in-flight", "1", "--timeouts", "0"],
     {"properties": ["Deadlock"], "stop_on_first": False}, {}),
    (["--servers", "3", "--max-in-flight", "1", "--timeouts", "0"], {"properties": ["Deadlock"]}, {}),
    (["--servers", "3", "--channel", "zk"], {"max_states": 3000}, {}),
    (["--servers", "3", "--crashes", "1"], {"max_depth": 7}, {}),
    (["--scenario", "weighted"], {}, {"workers": 2}),  # two workers with the memo, one without
])
def test_search_is_the_same_with_and_without_the_memo(
    argv: list[str], options: dict[str, Any], memo_options: dict[str, Any]
) -> None:
    with_memo = _facts(_fle(_check(argv)), step_memo=True, **options, **memo_options)
    without = _facts(_fle(_check(argv)), step_memo=False, **options)
    assert with_memo == without
    distinct, generated, _, complete, _, exit_code, path = with_memo
    assert generated > distinct > 100
    if "max_states" in options or "max_depth" in options:
        assert not complete  # the limit cut the search, in both
    if "AtMostOneLeadingPerRound" in argv:
        assert exit_code == 12 and path is not None and len(path[2]) > 2
    if options.get("properties") == ["Deadlock"]:
        assert exit_code == 11 and path is not None and len(path[2]) > 2


def test_memo_agrees_after_it_forgets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past ``EFFECTS_KEPT`` remembered effects (or guard keys) the memo empties itself, to bound its memory;
    with a bound of 32 it does so every few states and must still agree with ``successors``, and the
    search must still be the one without the memo."""
    monkeypatch.setattr(steps, "EFFECTS_KEPT", 32)
    argv = _check([*CRASH, "--channel", "zk"])
    result = compare_memo(_fle(argv), 800, walks=10)
    assert result.mismatch is None, result.mismatch
    assert result.entries <= 32 and result.guard_keys <= 32 and result.steps > 100 * 32  # it forgot often
    assert _facts(_fle(argv), max_states=2000) == _facts(_fle(argv), step_memo=False, max_states=2000)


# ---------------------------------------------------------------------------------------------- fingerprints
def _first_states(argv: list[str], count: int) -> list[State]:
    model = _fle(_check(argv))
    inits = list(model.init_states())
    seen, queue, out = set(inits), deque(inits), []
    while queue and len(out) < count:
        state = queue.popleft()
        out.append(state)
        for _, target in model.successors(state):
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return out


_FINGERPRINTS_SCRIPT = """
import json, sys
from collections import deque
from zkfle.cli import build_parser
from zkfle.model.cli import build_model
from zkfle.model.explorer.collapse import ComponentTable
argv, count = json.loads(sys.argv[1]), int(sys.argv[2])
model = build_model(build_parser().parse_args(argv))
inits = list(model.init_states())
seen, queue, states = set(inits), deque(inits), []
while queue and len(states) < count:
    states.append(queue.popleft())
    for _, target in model.successors(states[-1]):
        if target not in seen:
            seen.add(target)
            queue.append(target)
table = ComponentTable.for_model(model)
ids = [table.encode(s) for s in reversed(states)]  # ids unlike the parent's: encoded the other way round
print(json.dumps([table.fingerprint(i) for i in reversed(ids)]))
"""


def test_fingerprints_are_the_same_in_another_process_with_another_hash_seed() -> None:
    argv = ["--servers", "3", "--channel", "zk"]
    states = _first_states(argv, 300)
    table = ComponentTable.for_model(_fle(_check(argv)))
    assert table is not None
    mine = [table.fingerprint(table.encode(s)) for s in states]
    assert len(set(mine)) == len(states)  # distinct states, distinct fingerprints
    seed = "7" if os.environ.get("PYTHONHASHSEED") != "7" else "8"
    env = {**os.environ, "PYTHONHASHSEED": seed}
    run = subprocess.run(
        [sys.executable, "-c", _FINGERPRINTS_SCRIPT, json.dumps(_check(argv)), str(len(states))],
        capture_output=True, text=True, env=env, timeout=60, check=True,
    )
    assert json.loads(run.stdout) == mine


def test_swapping_two_channels_changes_the_fingerprint() -> None:
    """Shares are seeded by position: without the seed a sum would not see which channel holds what."""
    model = _fle(_check(["--servers", "3"]))
    servers, channels, counters = model.init_states()[0]
    a, b = model.n * 0 + 1, model.n * 1 + 0  # 0 -> 1 and 1 -> 0: each carries its sender's vote
    assert channels[a][INFL] != channels[b][INFL]
    swapped = list(channels)
    swapped[a], swapped[b] = channels[b], channels[a]
    one, two = (servers, channels, counters), (servers, tuple(swapped), counters)
    table = ComponentTable.for_model(model)
    assert table is not None
    assert table.fingerprint(table.encode(one)) != table.fingerprint(table.encode(two))

    def unseeded(state: State) -> int:  # the twin: every position hashed alike
        parts = model.components(state)
        return sum(xxhash.xxh3_64_intdigest(marshal.dumps(p, MARSHAL_VERSION)) for p in parts) % 2**64

    assert unseeded(one) == unseeded(two)


# ---------------------------------------------------------------------------------------------- opt-out
class NoExpiryWhileBusy(FleModel):
    """A model that changes ``successors`` alone (the finalize wait expires only once no notification is
    in flight): the memo, which would follow ``enabled``, must step aside."""

    def successors(self, state: State) -> Iterator[tuple[Action, State]]:
        busy = any(ch[INFL] for ch in state[1])
        return iter([(a, t) for a, t in super().successors(state) if not (busy and a[0] == "FinalizeExpire")])


def _plain_bfs(model: Any) -> tuple[int, int]:
    """(distinct states, states generated) of a BFS over ``model.successors`` (as TLC counts them, the
    initial states are generated too)."""
    inits = list(model.init_states())
    seen, queue, steps = set(inits), deque(inits), len(inits)
    while queue:
        for _, target in model.successors(queue.popleft()):
            steps += 1
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return len(seen), steps


def test_a_model_that_overrides_successors_alone_gets_no_memo() -> None:
    argv = _check(["--scenario", "weighted"])
    model = _as(NoExpiryWhileBusy, argv)
    table = ComponentTable.for_model(model)
    assert StepMemo.for_model(model, table, ()) is None
    assert StepMemo.for_model(_fle(argv), ComponentTable.for_model(_fle(argv)), ()) is not None
    expected = _plain_bfs(model)
    assert expected != _plain_bfs(_fle(argv))  # the filter matters
    result = explore(model, ExploreOptions(check_liveness=False, check_deadlock=False))
    assert (result.distinct_states, result.states_generated) == expected
