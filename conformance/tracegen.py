"""``zkfle traces generate``: conformance traces drawn from the model, as ITF files.

Rules:

- A trace is a run of the FLE model (``zkfle.model.fle.FleModel``) of one ``Scenario``. Each ITF state
  carries the model's observables (``zkfle.model.itf_view``: per server ``state``, ``round``, ``proposal``,
  ...), the action and its named parameters (``#meta``, ``mbt::actionTaken``, ``mbt::nondetPicks``), and
  three conformance variables: ``sent`` (every notification ``sendNotifications`` or a reply queued in this
  step, sender and receiver included, even to a server that is down), ``delivered`` (the notification a
  ``Deliver`` step took off its channel) and ``branch`` (the branch label of the step, see ``branch_of``).
- Live scheduling: a live SUT handles its own loop-back message and a re-queued notification at once, and
  its timers and Zab are not the harness's to drive. So the walks never let another step in while the SUT's
  loop-back or re-queued notification is pending, and never take the SUT's ``Timeout``, ``Crash``,
  ``LeaderQuit`` or ``FollowerQuit``. For the same reason a walk does not stop at the scenario's
  ``max_steps`` while such a step is pending: it takes the SUT's forced steps first. The core target
  replays these traces too (a stricter check).
- Walks are drawn from ``random.Random(seed)`` only: a seed always gives the same traces.
- ``--cover`` draws a pool of walks and keeps a small set that together take every branch label the pool
  reached (greedy set cover), and reports which labels of ``BRANCHES`` were never reached. A label is
  prefixed ``SUT`` when the SUT took the step, so a covering set exercises every branch in the SUT itself.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zkfle.conformance.scenarios import Scenario
from zkfle.errors import InternalError
from zkfle.itf import counterexample_to_itf, write_itf
from zkfle.model import fle
from zkfle.model.fle import FleModel
from zkfle.model.variant import Variant
from zkfle.model.vote import LOOKING, OBSERVING, STATE_NAMES

State = tuple[Any, ...]
Action = tuple[Any, ...]
Msg = tuple[int, int, int, int, int, int, int]  # (from, to, state, leader, zxid, round, peerEpoch)

# Every branch label a step can get (lookForLeader / WorkerReceiver branches, and the other actions).
BRANCHES = (
    "LOOKING/newer-round/adopt", "LOOKING/newer-round/own-vote", "LOOKING/older-round/drop-and-reply",
    "LOOKING/same-round/better", "LOOKING/same-round/not-better", "LOOKING/quorum/finalize-wait",
    "FL/same-round/decide", "FL/outofelection/decide", "FL/no-decision",
    "drain/better/requeue", "drain/discard", "ignored/observer-or-non-voter-leader",
    "decided/reply-to-looking", "decided/drop-FL", "loopback",
    "ProcessRequeued", "FinalizeExpire/decide", "Timeout", "Crash", "Restart", "LeaderQuit", "FollowerQuit",
)
# The SUT's steps a harness cannot drive (its timers, a crash, Zab); other servers may take them.
LIVE_FORBIDDEN = ("Timeout", "Crash", "LeaderQuit", "FollowerQuit", "Establish", "Join", "Commit")


class RecordingModel(FleModel):
    """The FLE model, remembering what each step sent, limited to what a live SUT can be driven through."""

    def __init__(self, scen: Scenario, variant: Variant | None = None) -> None:
        super().__init__(scen.model_config(variant), selected=frozenset())
        self.scenario = scen
        self.sut = scen.sut
        self._sut_k = self.idx[scen.sut]
        self._sent: list[Msg] = []
        self.init_sent: tuple[Msg, ...] = ()
        self.step_sent: dict[Action, tuple[Msg, ...]] = {}

    # FleModel._send: record the intent (even towards a server that is down), then send
    def _send(self, w: Any, i: int, j: int, msg: tuple[int, ...]) -> None:
        self._sent.append((self.sids[i], self.sids[j], *msg[:5]))
        super()._send(w, i, j, msg)

    def init_states(self) -> list[State]:
        self._sent = []
        states = super().init_states()
        self.init_sent = tuple(self._sent)
        return states

    # FleModel._emit runs one step (now, or when its generator is iterated, right away): start its record
    def _emit(self, *args: Any, **kwargs: Any) -> Any:
        self._sent = []
        return super()._emit(*args, **kwargs)

    def sut_step_forced(self, state: State) -> bool:
        """Whether the SUT must take its next step before anything else: a re-queued notification, or its
        own vote on the loop-back queue (a live SUT handles either at once, so a trace may not end there)."""
        k = self._sut_k
        sut = state[0][k]
        looped_back = bool(state[1][k * self.n + k][fle.INFL])
        return sut[fle.ALIVE] == fle.UP and (sut[fle.PEND] is not None or looped_back)

    def successors(self, state: State) -> Iterator[tuple[Action, State]]:
        self.step_sent = {}
        wanted = None
        if self.sut_step_forced(state):
            # the SUT handles its re-queued / own loop-back notification before anything else
            requeued = state[0][self._sut_k][fle.PEND] is not None
            wanted = ("ProcessRequeued", self.sut) if requeued else ("Deliver", self.sut, self.sut)
        for action, nxt in super().successors(state):
            self.step_sent[action] = tuple(self._sent)  # what the step that produced this successor sent
            if action[0] in LIVE_FORBIDDEN and action[1] == self.sut:
                continue  # the SUT's own timers, crashes and Zab are not the harness's to drive
            if wanted is not None and action != wanted:
                continue
            yield action, nxt


def message_record(m: Msg) -> dict[str, Any]:
    return {"src": m[0], "dst": m[1], "state": STATE_NAMES[m[2]], "leader": m[3], "zxid": m[4],
            "round": m[5], "peerEpoch": m[6]}


def branch_of(m: RecordingModel, before: State, action: Action, after: State) -> str:
    """The branch a step took: for a delivery, WorkerReceiver's and lookForLeader's branch."""
    name = action[0]
    if name == "FinalizeExpire":
        return "FinalizeExpire/decide"
    if name != "Deliver":
        return str(name)
    i, j = m.idx[action[1]], m.idx[action[2]]
    msg = before[1][i * m.n + j][fle.INFL][0]
    sb, sa = before[0][j], after[0][j]
    mst, ml, _, mrnd, _ = msg[:5]
    if sb[fle.ST] != LOOKING:
        return "decided/reply-to-looking" if mst == LOOKING else "decided/drop-FL"
    if sb[fle.FW]:
        return "drain/better/requeue" if sa[fle.PEND] is not None else "drain/discard"
    if not m.is_voter[i] or ml not in m.voter_sids or mst == OBSERVING:
        return "ignored/observer-or-non-voter-leader"
    decided = sa[fle.ST] != LOOKING
    if mst != LOOKING:
        if not decided:
            return "FL/no-decision"
        return "FL/same-round/decide" if mrnd == sb[fle.RND] else "FL/outofelection/decide"
    if (not sb[fle.FW] and sa[fle.FW]) or decided:
        return "LOOKING/quorum/finalize-wait"
    if i == j:
        return "loopback"
    if mrnd > sb[fle.RND]:
        adopted = sa[fle.PL] == ml and ml != m.sids[j]
        return "LOOKING/newer-round/adopt" if adopted else "LOOKING/newer-round/own-vote"
    if mrnd < sb[fle.RND]:
        return "LOOKING/older-round/drop-and-reply"
    changed = (sa[fle.PL], sa[fle.PZ], sa[fle.PE]) != (sb[fle.PL], sb[fle.PZ], sb[fle.PE])
    return "LOOKING/same-round/better" if changed else "LOOKING/same-round/not-better"


@dataclass
class Walk:
    """One generated run: the states, the actions, the sends and branch of each step."""

    states: list[State]
    actions: list[Action | None]
    sent: list[tuple[Msg, ...]]
    delivered: list[tuple[Any, ...] | None]
    branches: list[str]

    @property
    def labels(self) -> frozenset[str]:
        return frozenset(b for b in self.branches if b != "init")


# A walk past max_steps takes only the SUT's forced steps; each one ends a re-queue or empties a loop-back
# entry, so a handful suffice. More than this many means the model loops, which is our bug.
FORCED_TAIL_LIMIT = 32


def walk(m: RecordingModel, rng: random.Random, max_steps: int) -> Walk:
    """One random walk from the initial state: ``max_steps`` steps (fewer if nothing is enabled), then the
    SUT's forced steps while one is pending, so no trace ends where a live SUT would already have moved."""
    state = m.init_states()[0]
    w = Walk([state], [None], [m.init_sent], [None], ["init"])
    taken = 0
    while taken < max_steps or m.sut_step_forced(state):
        if taken >= max_steps + FORCED_TAIL_LIMIT:
            raise InternalError(f"the SUT of {m.scenario.name} still has a forced step after {taken} steps")
        succ = list(m.successors(state))
        if not succ:
            break
        # past max_steps the forced step is the only successor: take it without drawing, so the walks
        # after this one see the same random numbers as before
        action, nxt = succ[rng.randrange(len(succ))] if taken < max_steps else succ[0]
        taken += 1
        delivered = None
        if action[0] == "Deliver":
            i, j = m.idx[action[1]], m.idx[action[2]]
            delivered = (action[1], action[2], *state[1][i * m.n + j][fle.INFL][0][:5])
        label = branch_of(m, state, action, nxt)
        w.branches.append(f"SUT {label}" if m.actor(action) == m.sut else label)
        w.sent.append(m.step_sent[action])
        w.delivered.append(delivered)
        w.actions.append(action)
        w.states.append(nxt)
        state = nxt
    return w


def draw(scen: Scenario, *, count: int, seed: int, variant: Variant | None = None) -> list[Walk]:
    """``count`` random walks of one scenario (deterministic for a seed)."""
    m = RecordingModel(scen, variant)
    rng = random.Random(seed)
    return [walk(m, rng, scen.max_steps) for _ in range(count)]


def cover(walks: list[Walk]) -> tuple[list[int], frozenset[str]]:
    """Indices of a small subset of ``walks`` with every label any walk takes (greedy), and the labels."""
    wanted: set[str] = set().union(*(w.labels for w in walks)) if walks else set()
    reached = frozenset(wanted)
    chosen: list[int] = []
    while wanted:
        best = max(range(len(walks)), key=lambda k: (len(walks[k].labels & wanted), -k))
        gain = walks[best].labels & wanted
        if not gain:
            break
        chosen.append(best)
        wanted -= gain
    return chosen, reached


class _Path:
    """What ``counterexample_to_itf`` reads from a violation: the path (and no property, no loop)."""

    def __init__(self, w: Walk) -> None:
        self.path = list(zip(w.actions, w.states, strict=True))
        self.property = ""
        self.kind = "trace"
        self.loop = None


def walk_to_itf(m: RecordingModel, w: Walk, *, meta: dict[str, Any]) -> dict[str, Any]:
    """The ITF trace of a walk, with the conformance variables ``sent``, ``delivered`` and ``branch``."""
    sids = list(m.sids)
    top = {
        "status": "trace",
        "violated": None,
        "scenario": m.scenario.name,
        "sut": m.sut,
        "voters": sorted(m.voter_sids),
        "observers": [s for s in sids if s not in m.voter_sids],
        "variant": {k: str(v) for k, v in m.variant.changes().items()},
        **meta,
    }
    trace = counterexample_to_itf(m, _Path(w), meta=top)
    for k, entry in enumerate(trace["states"]):
        extra = {
            "sent": [message_record(x) for x in w.sent[k]],
            "delivered": [] if w.delivered[k] is None else [message_record(w.delivered[k])],  # type: ignore[arg-type]
            "branch": w.branches[k],
        }
        from zkfle.itf import to_itf_value

        for key, value in extra.items():
            entry[key] = to_itf_value(value)
    names = [v for v in trace["vars"] if not v.startswith("mbt::")]
    mbt = [v for v in trace["vars"] if v.startswith("mbt::")]
    trace["vars"] = [*names, "sent", "delivered", "branch", *mbt]
    return trace


@dataclass
class Generated:
    """What ``generate`` wrote."""

    paths: list[Path]
    reached: frozenset[str]
    pool: int


def generate(scen: Scenario, out: Path, *, count: int | None, cover_mode: bool, seed: int,
             variant: Variant | None = None, mutant: str | None = None, pool: int = 200,
             command: str = "") -> Generated:
    """Traces of ``scen`` into ``out``: ``count`` random walks, or a covering set drawn from ``pool``."""
    out.mkdir(parents=True, exist_ok=True)
    m = RecordingModel(scen, variant)
    rng = random.Random(seed)
    n = pool if cover_mode else (count or 1)
    walks = [walk(m, rng, scen.max_steps) for _ in range(n)]
    chosen, reached = cover(walks) if cover_mode else (list(range(len(walks))), frozenset())
    if not cover_mode:
        reached = frozenset().union(*(w.labels for w in walks)) if walks else frozenset()
    prefix = f"{scen.name}{'-' + mutant if mutant else ''}-s{seed}"
    paths: list[Path] = []
    for rank, k in enumerate(chosen):
        meta = {"command": command, "seed": seed, "walk": k, "mutant": mutant or ""}
        path = out / f"{prefix}-{rank:04d}.itf.json"
        write_itf(path, walk_to_itf(m, walks[k], meta=meta))
        paths.append(path)
    return Generated(paths, reached, len(walks))
