"""A conformance trace as the targets read it: steps, each with its action, sends, delivery and observables.

Rules:

- Traces are ITF files, read leniently (plain JSON numbers are fine) with the json module: ``zkfle.itf``'s
  reader builds a class per record and takes seconds on a long trace; this one takes milliseconds. A trace
  needs the ``servers`` variable (per sid: ``alive``, ``state``, ``round``, ``proposal``; ``currentEpoch`` and
  ``zxid`` in the first state) and, for each state, ``sent`` and ``delivered`` (as ``zkfle traces generate``
  writes them). Its ``#meta`` names the ``sut`` and the ``voters``.
- An action the conformance suite does not know, a missing variable, or a ``Deliver`` without its
  ``delivered`` notification is a ``TraceError`` (exit 2): one line naming the file, the step and the problem.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zkfle.errors import TraceError
from zkfle.itf import ACTION_TAKEN, NONDET_PICKS
from zkfle.model.vote import STATE_NAMES

KNOWN_ACTIONS = frozenset({
    "init", "Deliver", "ProcessRequeued", "FinalizeExpire", "Timeout", "Transmit", "Establish", "Join",
    "Commit", "LeaderQuit", "FollowerQuit", "Crash", "Restart",
})
STATE_CODES = {name: code for code, name in enumerate(STATE_NAMES)}


@dataclass(frozen=True)
class Msg:
    """One notification of the trace: who sent it to whom, and its five fields."""

    frm: int
    to: int
    state: int
    leader: int
    zxid: int
    round: int
    peer_epoch: int

    @property
    def body(self) -> tuple[int, int, int, int, int]:
        return (self.state, self.leader, self.zxid, self.round, self.peer_epoch)

    def text(self) -> str:
        return (f"{STATE_NAMES[self.state]}(leader {self.leader}, zxid 0x{self.zxid:x}, round {self.round}, "
                f"peerEpoch {self.peer_epoch})")


@dataclass(frozen=True)
class Obs:
    """One server's observables after a step."""

    alive: bool
    state: int
    round: int
    proposal: tuple[int, int, int]
    current_epoch: int
    zxid: int
    established: int
    finalize_wait: bool = False
    requeued: bool = False  # a better notification re-queued by the finalize wait, not handled yet
    leader: int | None = None  # currentVote's leader (whom a FOLLOWING server follows)


@dataclass(frozen=True)
class Step:
    index: int
    action: str
    params: Mapping[str, Any]
    sent: tuple[Msg, ...]
    delivered: Msg | None
    servers: Mapping[int, Obs]
    branch: str

    def describe(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"#{self.index} {self.action}({args})"

    @property
    def actor(self) -> int | None:
        p = self.params
        if self.action == "Deliver":
            return int(p["dst"])
        if "server" in p:
            return int(p["server"])
        return None


@dataclass(frozen=True)
class ConfTrace:
    path: Path
    name: str
    sut: int
    voters: tuple[int, ...]
    scenario: str
    steps: tuple[Step, ...]
    meta: Mapping[str, Any]

    @property
    def sids(self) -> tuple[int, ...]:
        return tuple(sorted(self.steps[0].servers))


def _field(value: Any, name: str) -> Any:
    return value[name]


def _msg(raw: Any) -> Msg:
    state = _field(raw, "state")
    code = STATE_CODES[state] if isinstance(state, str) else int(state)
    return Msg(int(_field(raw, "src")), int(_field(raw, "dst")), code, int(_field(raw, "leader")),
               int(_field(raw, "zxid")), int(_field(raw, "round")), int(_field(raw, "peerEpoch")))


def _obs(raw: Any) -> Obs:
    prop = _field(raw, "proposal")
    alive = _field(raw, "alive")
    state = _field(raw, "state")
    return Obs(
        alive=alive == "up" if isinstance(alive, str) else bool(alive),
        state=STATE_CODES[state] if isinstance(state, str) else int(state),
        round=int(_field(raw, "round")),
        proposal=(int(_field(prop, "leader")), int(_field(prop, "zxid")), int(_field(prop, "peerEpoch"))),
        current_epoch=int(_field(raw, "currentEpoch")),
        zxid=int(_field(raw, "zxid")),
        established=int(_field(raw, "establishedEpoch")),
        finalize_wait=bool(_optional(raw, "finalizeWait", False)),
        requeued=bool(_optional(raw, "requeued", ())),
        leader=_cv_leader(raw),
    )


def _optional(value: Any, name: str, default: Any) -> Any:
    try:
        return _field(value, name)
    except (KeyError, TypeError):
        return default


def _cv_leader(raw: Any) -> int | None:
    cv = _optional(raw, "currentVote", None)
    return None if cv is None else int(_field(cv, "leader"))


def decode(value: Any) -> Any:
    """An ITF value as plain Python (lenient: plain JSON integers are fine); records become dicts."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        if isinstance(value, float):
            raise ValueError(f"{value} is not an integer")
        return value
    if len(value) == 1:
        key = next(iter(value))
        inner = value[key]
        if key == "#bigint":
            return int(str(inner))
        if key == "#tup":
            return tuple(decode(v) for v in inner)
        if key == "#set":
            return frozenset(decode(v) for v in inner)
        if key == "#map":
            return {decode(k): decode(v) for k, v in inner}
    return {k: decode(v) for k, v in value.items()}


def _raw_steps(path: Path) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any], dict[str, Any]]]]:
    """(#meta, [(action, params, variables)]) of an ITF file, read with the standard json module."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TraceError(f"{path}: cannot read the trace: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TraceError(f"{path}: not JSON: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("states"), list):
        raise TraceError(f"{path}: not an ITF trace: it needs an object with a 'states' list")
    meta = raw.get("#meta", {})
    out = []
    for index, state in enumerate(raw["states"]):
        if not isinstance(state, dict):
            raise TraceError(f"{path}: state {index} is not an object")
        smeta = state.get("#meta", {}) if isinstance(state.get("#meta", {}), dict) else {}
        name = smeta.get("action", state.get(ACTION_TAKEN, ""))
        try:
            if "params" in smeta:
                params = decode(smeta["params"]) or {}
            else:
                picks = decode(state.get(NONDET_PICKS, {})) or {}
                params = {k: (v.get("value") if isinstance(v, dict) and "tag" in v else v)
                          for k, v in picks.items()}
            values = {k: decode(v) for k, v in state.items() if k in _VARIABLES}
        except (ValueError, TypeError, AttributeError) as exc:
            raise TraceError(f"{path}: state {index}: bad ITF value: {exc}") from None
        out.append((str(name), dict(params), values))
    return (meta if isinstance(meta, dict) else {}), out


_VARIABLES = frozenset({"servers", "sent", "delivered", "branch"})


def load_trace(path: str | Path) -> ConfTrace:
    """Read one conformance trace; ``TraceError`` (exit 2) if it is not one."""
    path = Path(path)
    meta, raw_steps = _raw_steps(path)
    steps: list[Step] = []
    for index, (name, params, values) in enumerate(raw_steps):
        where = f"{path}: step {index}"
        if name not in KNOWN_ACTIONS:
            known = ", ".join(sorted(KNOWN_ACTIONS))
            raise TraceError(f"{where}: unknown trace action {name!r}; known: {known}")
        try:
            servers = {int(k): _obs(v) for k, v in values["servers"].items()}
            sent = tuple(_msg(x) for x in values.get("sent", ()))
            delivered_raw = list(values.get("delivered", ()))
            delivered = _msg(delivered_raw[0]) if delivered_raw else None
            params = {k: (int(v) if isinstance(v, int) else v) for k, v in params.items()}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
            raise TraceError(f"{where}: missing or malformed variable ({problem})") from None
        if name == "Deliver" and delivered is None:
            raise TraceError(f"{where}: a Deliver step without its 'delivered' notification")
        if name == "Deliver" and ("src" not in params or "dst" not in params):
            raise TraceError(f"{where}: a Deliver step needs the parameters 'src' and 'dst'")
        steps.append(Step(index, name, params, sent, delivered, servers, str(values.get("branch", ""))))
    if not steps:
        raise TraceError(f"{path}: the trace has no states")
    sids = set(steps[0].servers)
    try:
        sut = int(meta.get("sut", 0))
        voters = tuple(int(v) for v in meta.get("voters", sorted(sids)))
    except (TypeError, ValueError):
        raise TraceError(f"{path}: '#meta' has a malformed 'sut' or 'voters'") from None
    if sut not in sids:
        raise TraceError(f"{path}: '#meta' names SUT {sut}, not a server of the trace ({sorted(sids)})")
    return ConfTrace(path, path.name.removesuffix(".itf.json"), sut, voters, str(meta.get("scenario", "?")),
                     tuple(steps), meta)


def load_traces(directory: str | Path) -> list[ConfTrace]:
    """Every ``*.json`` trace of a directory, in name order (or one file)."""
    root = Path(directory)
    if root.is_file():
        return [load_trace(root)]
    if not root.is_dir():
        raise TraceError(f"{root}: no such trace file or directory")
    files = sorted(root.glob("*.json"))
    if not files:
        raise TraceError(f"{root}: no *.json trace files")
    return [load_trace(p) for p in files]
