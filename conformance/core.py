"""The ``core`` and ``cmd:`` targets: every server of a trace replayed through an election engine, in process.

Rules:

- One engine per server of the trace, fed the events the trace implies, step by step:
  ``init``/``Restart`` -> a new engine and ``StartElection`` (zxid and currentEpoch from the trace);
  ``Deliver(src, dst)`` -> ``Received(src, notification)`` at dst (the loop-back included);
  ``FinalizeExpire`` -> ``FinalizeTimeout``; ``Timeout`` -> ``PollTimeout(have_delivered=True)``;
  ``LeaderQuit``/``FollowerQuit`` -> ``Lost``; ``Crash`` -> the engine is dropped; ``Establish``/``Join`` ->
  ``Established(epoch)``; ``ProcessRequeued`` and ``Transmit`` are no event (an engine handles its re-queued
  notification within the delivery that caused it).
- After every step, for every live server with no re-queued notification left to handle: the
  notifications it sent so far, per destination and in order, equal the model's, and so do its state, its
  round and, while LOOKING, its proposal. The first difference is the divergence.
- Engines: ``CoreMachines`` runs ``zkfle.impl.election.FastLeaderElection`` (or a factory a test injects);
  ``AdapterMachines`` (``zkfle.conformance.adapter``) runs a third-party implementation behind the JSON-lines
  adapter protocol of docs/conformance.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from zkfle.conformance.report import Divergence, TraceResult
from zkfle.conformance.trace import ConfTrace, Step
from zkfle.impl.election import FastLeaderElection
from zkfle.impl.events import (
    PARTICIPANT,
    Established,
    FinalizeTimeout,
    Lost,
    Notification,
    PollTimeout,
    Received,
    Send,
    StartElection,
)
from zkfle.model.vote import LOOKING, STATE_NAMES
from zkfle.quorum import QuorumMaj, QuorumVerifier

Body = tuple[int, int, int, int, int]  # (state, leader, zxid, round, peerEpoch)
CoreFactory = Callable[..., FastLeaderElection]


@dataclass(frozen=True)
class View:
    """What a target shows of one server: its state, round and proposal."""

    state: int
    round: int
    proposal: tuple[int, int, int]


class Machines(Protocol):
    """A set of election engines, one per sid, driven by events; each call returns the sends (dst, body)."""

    def reset(self, voters: tuple[int, ...]) -> None: ...

    def start(self, sid: int, zxid: int, epoch: int) -> list[tuple[int, Body]]: ...

    def receive(self, sid: int, src: int, body: Body) -> list[tuple[int, Body]]: ...

    def finalize_timeout(self, sid: int) -> list[tuple[int, Body]]: ...

    def poll_timeout(self, sid: int) -> list[tuple[int, Body]]: ...

    def lost(self, sid: int) -> list[tuple[int, Body]]: ...

    def established(self, sid: int, epoch: int, zxid: int) -> list[tuple[int, Body]]: ...

    def crash(self, sid: int) -> None: ...

    def view(self, sid: int) -> View: ...

    def close(self) -> None: ...


def _body(n: Notification) -> Body:
    return (n.state, n.leader, n.zxid, n.election_epoch, n.peer_epoch)


class CoreMachines:
    """zkfle's own sans-I/O core (``FastLeaderElection``), one per server."""

    def __init__(self, factory: CoreFactory = FastLeaderElection) -> None:
        self.factory = factory
        self.qv: QuorumVerifier = QuorumMaj(())
        self.cores: dict[int, FastLeaderElection] = {}

    def reset(self, voters: tuple[int, ...]) -> None:
        self.qv = QuorumMaj(voters)
        self.cores = {}

    def _run(self, sid: int, event: object) -> list[tuple[int, Body]]:
        actions = self.cores[sid].handle(event)
        return [(a.sid, _body(a.n)) for a in actions if isinstance(a, Send)]

    def start(self, sid: int, zxid: int, epoch: int) -> list[tuple[int, Body]]:
        self.cores[sid] = self.factory(sid, self.qv, last_zxid=zxid, current_epoch=epoch,
                                       learner_type=PARTICIPANT)
        return self._run(sid, StartElection())

    def receive(self, sid: int, src: int, body: Body) -> list[tuple[int, Body]]:
        st, leader, zxid, rnd, pe = body
        return self._run(sid, Received(src, Notification(st, leader, zxid, rnd, pe)))

    def finalize_timeout(self, sid: int) -> list[tuple[int, Body]]:
        return self._run(sid, FinalizeTimeout())

    def poll_timeout(self, sid: int) -> list[tuple[int, Body]]:
        return self._run(sid, PollTimeout(True))

    def lost(self, sid: int) -> list[tuple[int, Body]]:
        return self._run(sid, Lost("the trace's leader/follower gave up"))

    def established(self, sid: int, epoch: int, zxid: int) -> list[tuple[int, Body]]:
        self.cores[sid].set_persistent(zxid, epoch)
        return self._run(sid, Established(epoch))

    def crash(self, sid: int) -> None:
        self.cores.pop(sid, None)

    def view(self, sid: int) -> View:
        c = self.cores[sid]
        return View(c.state, c.logicalclock, c.proposal)

    def close(self) -> None:
        self.cores = {}


def body_text(body: Body) -> str:
    st, leader, zxid, rnd, pe = body
    name = STATE_NAMES[st] if 0 <= st < len(STATE_NAMES) else str(st)
    return f"{name}(leader {leader}, zxid 0x{zxid:x}, round {rnd}, peerEpoch {pe})"


def _seq_text(seq: list[Body]) -> str:
    return "[" + ", ".join(body_text(b) for b in seq) + "]" if seq else "nothing"


@dataclass
class _Replay:
    trace: ConfTrace
    machines: Machines
    expected: dict[tuple[int, int], list[Body]] = field(default_factory=dict)
    observed: dict[tuple[int, int], list[Body]] = field(default_factory=dict)

    def record(self, src: int, sends: list[tuple[int, Body]]) -> None:
        for dst, body in sends:
            self.observed.setdefault((src, dst), []).append(body)

    def apply(self, step: Step, before: Step | None) -> None:
        """Feed the engines the events of one step."""
        m = self.machines
        p = step.params
        if step.action == "init":
            for sid, obs in sorted(step.servers.items()):
                if obs.alive:
                    self.record(sid, m.start(sid, obs.zxid, obs.current_epoch))
        elif step.action == "Deliver":
            d = step.delivered
            assert d is not None
            self.record(d.to, m.receive(d.to, d.frm, d.body))
        elif step.action == "FinalizeExpire":
            self.record(int(p["server"]), m.finalize_timeout(int(p["server"])))
        elif step.action == "Timeout":
            self.record(int(p["server"]), m.poll_timeout(int(p["server"])))
        elif step.action in ("LeaderQuit", "FollowerQuit"):
            self.record(int(p["server"]), m.lost(int(p["server"])))
        elif step.action == "Crash":
            m.crash(int(p["server"]))
        elif step.action == "Restart":
            sid = int(p["server"])
            obs = step.servers[sid]
            self.record(sid, m.start(sid, obs.zxid, obs.current_epoch))
        elif step.action in ("Establish", "Join", "Commit") and before is not None:
            for sid, obs in step.servers.items():
                old = before.servers[sid]
                if obs.established != old.established and obs.established:
                    self.record(sid, m.established(sid, obs.established, obs.zxid))
        for msg in step.sent:
            self.expected.setdefault((msg.frm, msg.to), []).append(msg.body)

    def check(self, step: Step, pending: frozenset[int]) -> tuple[str, str, int] | None:
        """(expected, observed, server) of the first difference after ``step``, or None."""
        for sid, obs in sorted(step.servers.items()):
            if not obs.alive or sid in pending:
                continue
            for dst in self.trace.sids:
                exp = self.expected.get((sid, dst), [])
                got = self.observed.get((sid, dst), [])
                if exp != got:
                    return (f"server {sid} has sent to {dst}: {_seq_text(exp)}",
                            f"server {sid} has sent to {dst}: {_seq_text(got)}", sid)
            v = self.machines.view(sid)
            want = View(obs.state, obs.round, obs.proposal)
            if v.state != want.state or v.round != want.round or (
                want.state == LOOKING and v.proposal != want.proposal
            ):
                return (f"server {sid}: {_view_text(want)}", f"server {sid}: {_view_text(v)}", sid)
        return None


def _view_text(v: View) -> str:
    text = f"{STATE_NAMES[v.state]}, round {v.round}"
    if v.state == LOOKING:
        leader, zxid, pe = v.proposal
        text += f", proposal (leader {leader}, zxid 0x{zxid:x}, peerEpoch {pe})"
    return text


def replay(trace: ConfTrace, machines: Machines, *, target: str, reproduce: str) -> TraceResult:
    """Replay one trace through ``machines``; the first difference is the divergence."""
    started = time.perf_counter()
    r = _Replay(trace, machines)
    prefix: list[str] = []
    before: Step | None = None
    divergence: Divergence | None = None
    for k, step in enumerate(trace.steps):
        prefix.append(step.describe())
        try:
            if k == 0:
                machines.reset(trace.voters)
            r.apply(step, before)
        except Exception as exc:  # the engine under test failed on this input: that is its divergence
            divergence = Divergence(k, step.describe(), "the engine handles the step",
                                    f"{type(exc).__name__}: {exc}", prefix, reproduce, step.actor)
            break
        diff = r.check(step, frozenset(sid for sid, obs in step.servers.items() if obs.requeued))
        if diff is not None:
            divergence = Divergence(k, step.describe(), diff[0], diff[1], prefix, reproduce, diff[2])
            break
        before = step
    return TraceResult(trace.name, str(trace.path), target, len(trace.steps), time.perf_counter() - started,
                       divergence)
