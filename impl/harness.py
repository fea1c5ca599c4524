"""An in-process ensemble of election cores with a deterministic, seeded delivery loop (no sockets, no clock).

Rules:
  * Time is virtual (integer milliseconds).  Every message and every timer is an item on one agenda ordered by
    (due time, sequence number); the same seed and the same calls give the same run, step for step.
  * Channels are FIFO per (sender, receiver) pair, like one TCP connection; a message's latency is drawn from
    ``latency_ms`` but it never overtakes an earlier message on its channel.  ``drop`` loses a message and
    ``duplicate`` delivers it twice (ZooKeeper re-sends the last message on every reconnection).
  * A ``Send`` to myself is the loop-back: delivered at the same virtual instant, after the actions already
    queued, in order (``QuorumCnxManager.toSend`` puts it straight into the receive queue).
  * A crashed server receives nothing and its timers are forgotten; messages it sent before crashing stay in
    flight.  ``PollTimeout`` carries ``have_delivered`` (default True: the send queues drained).

Theory of operation:
  :class:`Ensemble` is the node's I/O side in miniature: it turns ``Send`` into agenda items, ``ArmTimer`` /
  ``CancelTimer`` into (replaceable) agenda items, and records everything -- the events fed to each core with
  the actions they returned (:attr:`Ensemble.steps`), every message sent (:attr:`Ensemble.sent`) and every
  decision (:attr:`Ensemble.decisions`).  :meth:`Ensemble.run` drives the agenda to a condition; tests that
  want to choose the order themselves use :meth:`Ensemble.inflight`, :meth:`Ensemble.deliver`,
  :meth:`Ensemble.drop_message` and :meth:`Ensemble.fire` instead.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from zkfle.errors import InternalError
from zkfle.impl.election import FastLeaderElection
from zkfle.impl.events import (
    Action,
    ArmTimer,
    CancelTimer,
    Decided,
    Established,
    Event,
    FinalizeTimeout,
    Lost,
    Notification,
    PollTimeout,
    Received,
    Send,
    StartElection,
)


@dataclass(frozen=True, slots=True)
class Envelope:
    """A notification on its way from src to dst."""

    seq: int
    src: int
    dst: int
    n: Notification
    due: int


@dataclass(frozen=True, slots=True)
class Timer:
    """An armed timer of server sid."""

    seq: int
    sid: int
    name: str
    due: int


@dataclass(frozen=True, slots=True)
class Step:
    """One event fed to one core, and what it answered."""

    time: int
    sid: int
    event: Event
    actions: tuple[Action, ...]


@dataclass(frozen=True, slots=True)
class Sent:
    """One Send carried out (before any drop): who sent what to whom, in which round of the sender."""

    time: int
    src: int
    dst: int
    n: Notification


@dataclass(frozen=True, slots=True)
class Decision:
    """A core left lookForLeader."""

    time: int
    sid: int
    vote_leader: int
    decided: Decided
    logicalclock: int


class Ensemble:
    """Several cores wired together through a deterministic in-memory network."""

    def __init__(
        self,
        cores: Iterable[FastLeaderElection] | Mapping[int, FastLeaderElection],
        *,
        seed: int = 0,
        latency_ms: tuple[int, int] = (1, 10),
        drop: float = 0.0,
        duplicate: float = 0.0,
        have_delivered: bool = True,
    ) -> None:
        items: list[FastLeaderElection] = list(cores.values()) if isinstance(cores, Mapping) else list(cores)
        self.cores: dict[int, FastLeaderElection] = {c.myid: c for c in items}
        lo, hi = latency_ms
        if not 0 <= lo <= hi:
            raise InternalError(f"latency_ms {latency_ms} must be 0 <= low <= high")
        if not (0.0 <= drop <= 1.0 and 0.0 <= duplicate <= 1.0):
            raise InternalError(f"drop {drop} and duplicate {duplicate} must be probabilities")
        self.seed = seed
        self.latency_ms = latency_ms
        self.drop = drop
        self.duplicate = duplicate
        self.have_delivered = have_delivered
        self.now = 0
        self.up: set[int] = set()
        self.steps: list[Step] = []
        self.sent: list[Sent] = []
        self.decisions: list[Decision] = []
        self._rng = random.Random(seed)
        self._agenda: list[tuple[int, int, Envelope | Timer]] = []
        self._inflight: dict[int, Envelope] = {}
        self._timers: dict[tuple[int, str], Timer] = {}
        self._channel_tail: dict[tuple[int, int], int] = {}
        self._seq = 0

    # ------------------------------------------------------------------ driving the cores
    def start(self, *sids: int) -> None:
        """Bring servers up and run their first lookForLeader."""
        for sid in sids:
            self.up.add(sid)
            self.feed(sid, StartElection())

    def crash(self, *sids: int) -> None:
        """Servers stop: they receive nothing more and their timers are forgotten."""
        for sid in sids:
            self.up.discard(sid)
            for key in [k for k in self._timers if k[0] == sid]:
                del self._timers[key]

    def lose(self, sid: int, reason: str = "leader lost") -> None:
        self.feed(sid, Lost(reason))

    def establish(self, sid: int, epoch: int) -> None:
        self.feed(sid, Established(epoch))

    def feed(self, sid: int, event: Event) -> list[Action]:
        """Give one event to server sid and carry out its actions."""
        actions = self.cores[sid].handle(event)
        self.steps.append(Step(self.now, sid, event, tuple(actions)))
        for action in actions:
            self._perform(sid, action)
        return actions

    def _perform(self, sid: int, action: Action) -> None:
        match action:
            case Send(dst, n):
                self._send(sid, dst, n)
            case ArmTimer(name, ms):
                timer = Timer(self._next_seq(), sid, name, self.now + ms)
                self._timers[(sid, name)] = timer
                heapq.heappush(self._agenda, (timer.due, timer.seq, timer))
            case CancelTimer(name):
                self._timers.pop((sid, name), None)
            case Decided():
                core = self.cores[sid]
                self.decisions.append(Decision(self.now, sid, action.vote.leader, action, core.logicalclock))
            case _:
                pass  # ChangeState, ConnectAll: nothing to wire

    def _send(self, src: int, dst: int, n: Notification) -> None:
        self.sent.append(Sent(self.now, src, dst, n))
        if dst == src:
            self._enqueue(src, dst, n, self.now)
            return
        if self.drop and self._rng.random() < self.drop:
            return
        copies = 2 if self.duplicate and self._rng.random() < self.duplicate else 1
        for _ in range(copies):
            lo, hi = self.latency_ms
            self._enqueue(src, dst, n, self.now + self._rng.randint(lo, hi))

    def _enqueue(self, src: int, dst: int, n: Notification, due: int) -> None:
        due = max(due, self._channel_tail.get((src, dst), 0))  # FIFO per channel
        self._channel_tail[(src, dst)] = due
        env = Envelope(self._next_seq(), src, dst, n, due)
        self._inflight[env.seq] = env
        heapq.heappush(self._agenda, (env.due, env.seq, env))

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    # ------------------------------------------------------------------ the agenda
    def step(self) -> bool:
        """Do the next thing on the agenda (deliver a message or fire a timer); False when nothing is left."""
        while self._agenda:
            due, _, item = heapq.heappop(self._agenda)
            if isinstance(item, Envelope):
                if self._inflight.pop(item.seq, None) is None:
                    continue  # delivered or dropped by hand
                self.now = max(self.now, due)
                if item.dst in self.up:
                    self.feed(item.dst, Received(item.src, item.n))
                return True
            if self._timers.get((item.sid, item.name)) is not item:
                continue  # cancelled or re-armed
            self.now = max(self.now, due)
            self._fire_timer(item)
            return True
        return False

    def run(
        self,
        until: Callable[[Ensemble], bool] | None = None,
        *,
        max_ms: int = 600_000,
        max_steps: int = 200_000,
    ) -> bool:
        """Step until ``until(self)`` holds (no condition: the agenda empties): True; a limit hit: False."""
        for _ in range(max_steps):
            if until is not None and until(self):
                return True
            if self._agenda and self._agenda[0][0] > max_ms:
                return False
            if not self.step():
                return until is None or until(self)
        return False

    def _fire_timer(self, timer: Timer) -> None:
        del self._timers[(timer.sid, timer.name)]
        event: Event = PollTimeout(self.have_delivered) if timer.name == "poll" else FinalizeTimeout()
        self.feed(timer.sid, event)

    # ------------------------------------------------------------------ choosing by hand
    def inflight(self) -> list[Envelope]:
        """Messages sent and neither delivered nor dropped, oldest first."""
        return sorted(self._inflight.values(), key=lambda e: e.seq)

    def armed(self) -> list[Timer]:
        return sorted(self._timers.values(), key=lambda t: t.seq)

    def deliver(self, env: Envelope, *, keep: bool = False) -> None:
        """Deliver env now (out of agenda order); keep=True leaves a copy in flight (a duplicate)."""
        if env.seq not in self._inflight:
            raise InternalError(f"envelope {env.seq} is not in flight")
        if not keep:
            del self._inflight[env.seq]
        if env.dst in self.up:
            self.feed(env.dst, Received(env.src, env.n))

    def drop_message(self, env: Envelope) -> None:
        self._inflight.pop(env.seq, None)

    def fire(self, sid: int, name: str) -> None:
        """Fire server sid's armed timer name now."""
        timer = self._timers.get((sid, name))
        if timer is None:
            raise InternalError(f"server {sid} has no armed {name!r} timer")
        self._fire_timer(timer)

    # ------------------------------------------------------------------ views
    def states(self) -> dict[int, int]:
        return {sid: core.state for sid, core in self.cores.items()}

    def all_decided(self, sids: Iterable[int] | None = None) -> bool:
        chosen = self.up if sids is None else set(sids)
        return all(not self.cores[s].running and self.cores[s].state != 0 for s in chosen)
