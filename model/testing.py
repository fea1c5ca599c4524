"""Helpers for building FLE model states by hand (tests and docs examples).

Rules: every helper returns a new state (states are immutable); fields are named as in ``zkfle.model.fle``
(``st``, ``rnd``, ``proposal``, ``cv``, ``rs``, ``ooe``, ``fw``, ``pend``, ``cep``, ``aep``, ``zx``, ``zab``).
"""

from __future__ import annotations

from typing import Any

from zkfle.model import fle
from zkfle.model.fle import FleModel

State = tuple[Any, ...]
Action = tuple[Any, ...]

_FIELDS = {
    "alive": fle.ALIVE, "st": fle.ST, "rnd": fle.RND, "cv": fle.CV, "rs": fle.RS, "ooe": fle.OOE,
    "fw": fle.FW, "pend": fle.PEND, "cep": fle.CEP, "aep": fle.AEP, "zx": fle.ZX, "zab": fle.ZAB,
    "hist": fle.HIST, "vs": fle.VS,
}


def with_server(m: FleModel, state: State, sid: int, **fields: Any) -> State:
    """``state`` with some fields of server ``sid`` replaced (``proposal=(leader, zxid, epoch)`` too)."""
    k = m.idx[sid]
    s = list(state[0][k])
    for name, value in fields.items():
        if name == "proposal":
            s[fle.PL], s[fle.PZ], s[fle.PE] = value
        else:
            s[_FIELDS[name]] = value
    servers = list(state[0])
    servers[k] = tuple(s)
    return (tuple(servers), state[1], state[2])


def message(st: int, leader: int, zxid: int, rnd: int, pe: int) -> tuple[int, ...]:
    """A notification as the model carries it (ghost fields 0)."""
    return (st, leader, zxid, rnd, pe, 0, 0)


def with_channel(m: FleModel, state: State, src: int, dst: int, *msgs: tuple[int, ...]) -> State:
    """``state`` with the in-flight messages from ``src`` to ``dst`` replaced by ``msgs``."""
    c = m.idx[src] * m.n + m.idx[dst]
    channels = list(state[1])
    slot, _, last, conn = channels[c]
    channels[c] = (slot, tuple(msgs), last, conn)
    return (state[0], tuple(channels), state[2])


def empty_channels(m: FleModel, state: State) -> State:
    return (state[0], tuple((None, (), None, ch[fle.CONN]) for ch in state[1]), state[2])


def in_flight(m: FleModel, state: State, src: int, dst: int) -> tuple[tuple[int, ...], ...]:
    return tuple(state[1][m.idx[src] * m.n + m.idx[dst]][fle.INFL])


def step(m: FleModel, state: State, action: Action) -> State:
    """The successor of ``state`` by ``action`` (which must be enabled)."""
    for a, t in m.successors(state):
        if a == action:
            return t
    enabled = [a for a, _ in m.successors(state)]
    raise AssertionError(f"{action} is not enabled; enabled: {enabled}")


def enabled(m: FleModel, state: State) -> list[Action]:
    return [a for a, _ in m.successors(state)]
