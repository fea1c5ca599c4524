"""What ``zkfle conform`` runs: traces from files or freshly generated, mutant traces, the default suite.

Rules:

- ``--mutant NAME`` generates the mutant model's traces in the scenario the registry suggests, and keeps
  only the *distinguishing* ones: those in which the mutant's SUT does something ZooKeeper 3.8.0's FLE does
  not. Which ones those are is decided in process, by replaying each trace through zkfle's own core (the
  3.8.0 reference implementation) and keeping the traces whose first divergence is at the SUT. The live
  target then has to find the difference on its own, over the wire: exit 12 is the expected outcome.
- ``--profile P --distinguish-from Q`` (issue 7) generates walks of profile P's model and keeps those in
  which the SUT, fed exactly the same notifications, would act differently under profile Q's model
  (``sut_divergence``): a trace a release of line P must pass and a release of line Q must fail. The judge is
  the model itself, stepped one action at a time from the trace's state with Q's model and Q's own SUT
  record: the played servers are the harness's script, so only the SUT's reaction matters. The judge
  works in the model's terms; whether a live harness sees every such difference is for the real run to
  show (a difference may be masked, e.g. as a send overwritten in the capacity-1 slot), which is why the
  verdict flip is checked on real servers (docs/versions.md).
- The default suite (``make conform``): covering traces of every scenario (3 seeds) and 25 random walks of
  each against ``core`` (288 traces), and covering traces of the 3-server scenarios (2 seeds) and of
  ``fresh-5`` (1 seed) against ``zookeeper`` and ``node`` (about 55 each).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from zkfle.conformance.core import CoreMachines, replay
from zkfle.conformance.scenarios import SCENARIOS, Scenario, mutant
from zkfle.conformance.trace import ConfTrace, load_trace
from zkfle.conformance.tracegen import RecordingModel, Walk, walk, walk_to_itf
from zkfle.errors import UserInputError
from zkfle.itf import write_itf
from zkfle.model import fle
from zkfle.model.variant import Variant

# The default suite: (scenario, covering traces per seed, seeds) for the live targets; core takes more.
LIVE_SCENARIOS = ("fresh-3", "fresh-3-low", "fresh-3-high", "epochs-3", "zxids-3", "joiner-3",
                  "joiner-crash-3")
CORE_SCENARIOS = (*LIVE_SCENARIOS, "fresh-5")


@dataclass
class MutantTraces:
    name: str
    scenario: Scenario
    description: str
    paths: list[Path]
    pool: int


def mutant_traces(name: str, out: Path, *, count: int, seed: int, pool: int = 400) -> MutantTraces:
    """Up to ``count`` distinguishing traces of mutant ``name`` (see the rules), written into ``out``."""
    variant, suggested, text = mutant(name)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    # the suggested scenario first; if none of its walks tells the mutant apart at the SUT, the others
    others = [s for s in SCENARIOS.values() if s is not suggested and s.voters == 3]
    for scen in (suggested, *others):
        # the suggested scenario gets the whole pool, the fallbacks a quarter each
        size = pool if scen is suggested else max(1, pool // 4)
        paths = _distinguishing(name, variant, scen, out, count=count, seed=seed, pool=size)
        if paths:
            return MutantTraces(name, scen, text, paths, pool)
    raise UserInputError(f"mutant {name}: no walk of any conformance scenario distinguishes it from "
                         f"ZooKeeper 3.8.0 at the SUT (seed {seed}, {pool} walks of {suggested.name}, "
                         f"{max(1, pool // 4)} of each other); try another --seed")


def _distinguishing(name: str, variant: Variant, scen: Scenario, out: Path, *, count: int, seed: int,
                    pool: int) -> list[Path]:
    m = RecordingModel(scen, variant)
    rng = random.Random(seed)
    paths: list[Path] = []
    for k in range(pool):
        w = walk(m, rng, scen.max_steps)
        path = out / f"{scen.name}-{name}-s{seed}-w{k:04d}.itf.json"
        write_itf(path, walk_to_itf(m, w, meta={"command": f"zkfle conform --mutant {name}", "seed": seed,
                                               "walk": k, "mutant": name}))
        res = replay(load_trace(path), CoreMachines(), target="core", reproduce="")
        if res.divergence is not None and res.divergence.server == scen.sut:
            paths.append(path)
            if len(paths) >= count:
                break
        else:
            path.unlink()
    return paths


# what a server's record shows of its election: state, round, proposal, finalize wait, a re-queued message
_SHOWN = (fle.ST, fle.RND, fle.PL, fle.PZ, fle.PE, fle.FW, fle.PEND)


def sut_divergence(a: RecordingModel, b: RecordingModel, w: Walk) -> int | None:
    """The first step of walk ``w`` (of model ``a``) at which the SUT would act differently in model ``b``
    (see the rules), or None. Step 0 is the start (its initial sends).

    The SUT differs when, fed the trace's notifications, ``b``'s SUT sends other notifications in a step,
    enters another state, round or proposal, waits (finalizeWait) or re-queues where the trace's does not,
    or cannot take the trace's next step. Differences in what it only remembers (recvset, outofelection)
    are carried forward: ``b`` steps from the trace's state with its own SUT record in it.
    """
    k = a.idx[a.sut]

    def differs(i: int, sut: tuple[object, ...], sent: tuple[tuple[int, ...], ...]) -> bool:
        mine = {m for m in sent if m[0] == a.sut}
        theirs = {m for m in w.sent[i] if m[0] == a.sut}
        return mine != theirs or any(sut[f] != w.states[i][0][k][f] for f in _SHOWN)

    sut = b.init_states()[0][0][k]
    if differs(0, sut, b.init_sent):
        return 0
    for i in range(1, len(w.states)):
        before = w.states[i - 1]
        hybrid = ((*before[0][:k], sut, *before[0][k + 1:]), *before[1:])
        nxt = next((n for act, n in b.successors(hybrid) if act == w.actions[i]), None)
        if nxt is None:
            return i  # b's SUT cannot take the trace's step now
        sut = nxt[0][k]
        if differs(i, sut, b.step_sent[w.actions[i]]):
            return i
    return None


def distinguishing_traces(scen: Scenario, out: Path, *, variant: Variant, against: Variant, label: str,
                          count: int, seed: int, pool: int = 400,
                          meta: dict[str, object] | None = None) -> list[Path]:
    """Up to ``count`` walks of ``variant``'s model in ``scen`` whose SUT acts differently under
    ``against`` (``sut_divergence``), written into ``out``; ``pool`` walks are drawn at most."""
    out.mkdir(parents=True, exist_ok=True)
    a, b = RecordingModel(scen, variant), RecordingModel(scen, against)
    rng = random.Random(seed)
    paths: list[Path] = []
    for k in range(pool):
        w = walk(a, rng, scen.max_steps)
        step = sut_divergence(a, b, w)
        if step is None:
            continue
        path = out / f"{scen.name}-{label}-s{seed}-w{k:04d}.itf.json"
        write_itf(path, walk_to_itf(a, w, meta={**(meta or {}), "seed": seed, "walk": k,
                                                 "distinguishing_step": step}))
        paths.append(path)
        if len(paths) >= count:
            break
    return paths


def covering_traces(scenarios: tuple[str, ...], out: Path, *, seeds: range, pool: int = 150) -> list[Path]:
    """Covering sets of each scenario for each seed (``zkfle traces generate --cover``), into ``out``."""
    from zkfle.conformance.tracegen import generate

    paths: list[Path] = []
    for name in scenarios:
        for seed in seeds:
            paths += generate(SCENARIOS[name], out / name, count=None, cover_mode=True, seed=seed, pool=pool,
                              command=f"zkfle traces generate --scenario {name} --cover --seed {seed}").paths
    return paths


def random_traces(scenarios: tuple[str, ...], out: Path, *, count: int, seed: int) -> list[Path]:
    from zkfle.conformance.tracegen import generate

    paths: list[Path] = []
    for name in scenarios:
        paths += generate(SCENARIOS[name], out / name, count=count, cover_mode=False, seed=seed,
                          command=f"zkfle traces generate --scenario {name} --count {count} --seed {seed}",
                          ).paths
    return paths


def load_all(paths: list[Path]) -> list[ConfTrace]:
    return [load_trace(p) for p in paths]
