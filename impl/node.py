"""The asyncio FLE node behind ``zkfle node``: the sans-I/O core wired to real sockets, timers and disk.

Rules:

- One node is one ``QuorumPeer``: the zoo.cfg ZooKeeper reads (``zkfle.zoocfg.load_zoo_cfg``) and the sid in
  ``dataDir/myid``; its vote's zxid and epoch come from ``dataDir/version-2`` (``zkfle.impl.epochs``).
- Every input is an event on one queue, handled one at a time by ``FastLeaderElection.handle``; the actions it
  returns are carried out in order:
  ``Send`` -> ``QuorumCnxManager.to_send`` (encoded by ``zkfle.impl.wire``), or, for ``sid == myid``, the
  loop-back: ``Received(myid, n)`` is queued behind what is already queued, so order is kept;
  ``ArmTimer``/``CancelTimer`` -> asyncio timers (re-arming replaces; a timer that fires after it was
  replaced or cancelled is dropped); a fired "poll" timer becomes ``PollTimeout(manager.have_delivered())``,
  a "finalize" timer ``FinalizeTimeout()``; ``ConnectAll`` -> ``manager.connect_all()``;
  ``ChangeState`` is logged; ``Decided`` starts leader activation (``zkfle.impl.activation``).
- Activation reports back through the same queue: ``Established(epoch)`` (after the epochs were persisted,
  and after the core was told the new currentEpoch via ``set_persistent``) or ``Lost(reason)``, which the core
  turns into LOOKING with round + 1. Reports from an activation that is no longer current are dropped.
- A notification the codec rejects is dropped with one log line; the connection stays up.
- Every notification handled and every state change is logged, one line each (text or JSON lines).
- ``ruok``/``srvr``/``stat``/``zkst`` are answered on the client port (``zkfle.impl.fourlw``).

Theory of operation: ``Node.run`` starts the four-letter-word server and the ``QuorumCnxManager``, feeds
``StartElection`` (``QuorumPeer.run`` -> ``lookForLeader``), then loops over the event queue until ``stop``.
Nothing blocks the loop: the core is pure, disk writes are a few small fsyncs during activation.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from zkfle.errors import ConfigError, UserInputError
from zkfle.impl.activation import LeaderActivation, LearnerActivation, Timing
from zkfle.impl.election import FastLeaderElection
from zkfle.impl.epochs import EpochStore
from zkfle.impl.events import (
    FOLLOWING,
    LEADING,
    LOOKING,
    OBSERVER,
    OBSERVING,
    Action,
    ArmTimer,
    CancelTimer,
    ChangeState,
    ConnectAll,
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
from zkfle.impl.fourlw import FourLetterServer, NodeStatus
from zkfle.impl.transport import QuorumCnxManager
from zkfle.impl.wire import NotificationFormatError, decode_notification, encode_notification
from zkfle.zoocfg import ZooCfg

STATE_NAMES = {LOOKING: "LOOKING", FOLLOWING: "FOLLOWING", LEADING: "LEADING", OBSERVING: "OBSERVING"}
DEFAULT_CLIENT_HOST = "127.0.0.1"


class _ToNodeLog(logging.Handler):
    """Routes the QuorumCnxManager's ``logging`` records into the node's one-line log."""

    def __init__(self, log: NodeLog) -> None:
        super().__init__(logging.INFO)
        self.node_log = log

    def emit(self, record: logging.LogRecord) -> None:
        level = "WARN" if record.levelname == "WARNING" else record.levelname
        self.node_log(record.getMessage(), level=level, event="qcm")


def _qcm_logger(log: NodeLog) -> logging.Logger:
    logger = logging.getLogger(f"zkfle.node.{log.myid}.{id(log)}.qcm")
    logger.handlers = [_ToNodeLog(log)]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


class NodeLog:
    """One line per record, as text (ZooKeeper-like) or JSON lines; flushed at once."""

    def __init__(self, myid: int, fmt: str = "text", stream: TextIO | None = None) -> None:
        self.myid = myid
        self.fmt = fmt
        self.stream = stream if stream is not None else sys.stdout

    def __call__(self, msg: str, *, level: str = "INFO", event: str = "log", **fields: Any) -> None:
        now = datetime.now(UTC)
        if self.fmt == "json":
            record = {"ts": now.isoformat(timespec="milliseconds"), "myid": self.myid, "level": level,
                      "event": event, "msg": msg, **fields}
            line = json.dumps(record, sort_keys=False, default=str)
        else:
            stamp = now.strftime("%Y-%m-%d %H:%M:%S,") + f"{now.microsecond // 1000:03d}"
            line = f"{stamp} [myid:{self.myid}] - {level:<5} - {msg}"
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass  # stdout went away (the parent died): keep electing


# Internal events: not the core's; the node handles them itself.
@dataclass(frozen=True, slots=True)
class _TimerFired:
    name: str
    token: int


@dataclass(frozen=True, slots=True)
class _ActivationEstablished:
    token: int
    epoch: int


@dataclass(frozen=True, slots=True)
class _ActivationLost:
    token: int
    reason: str


@dataclass(frozen=True, slots=True)
class _Stop:
    pass


_Internal = _TimerFired | _ActivationEstablished | _ActivationLost | _Stop


def client_address(cfg: ZooCfg, myid: int) -> tuple[str, int] | None:
    """Where four-letter words are answered: clientPort (or the server line's client port)."""
    spec = cfg.servers[myid]
    port = cfg.client_port if cfg.client_port is not None else spec.client_port
    if port is None:
        return None
    host = cfg.client_port_address or DEFAULT_CLIENT_HOST
    return host, port


def _config_version(config: bytes) -> int:
    for line in config.decode("utf-8", errors="replace").splitlines():
        if line.startswith("version="):
            with contextlib.suppress(ValueError):
                return int(line[8:], 16)
    return 0


def notification_line(my_state: int, sid: int, n: Notification) -> str:
    """``WorkerReceiver``'s "Notification:" log line."""
    state = STATE_NAMES.get(n.state, str(n.state))
    return (f"Notification: my state:{STATE_NAMES[my_state]}; n.sid:{sid}, n.state:{state}, "
            f"n.leader:{n.leader}, n.round:0x{n.election_epoch:x}, n.peerEpoch:0x{n.peer_epoch:x}, "
            f"n.zxid:0x{n.zxid:x}, "
            f"message format version:0x{n.version:x}, n.config version:0x{_config_version(n.config):x}")


class Node:
    """One zkfle server: election core + QuorumCnxManager + activation + four-letter words."""

    def __init__(self, cfg: ZooCfg, myid: int, *, log: NodeLog | None = None) -> None:
        if myid not in cfg.servers:
            raise ConfigError(f"myid {myid} has no server.{myid} line", path=cfg.path)
        if not cfg.data_dir:
            raise ConfigError("dataDir is not set", path=cfg.path)
        self.cfg = cfg
        self.myid = myid
        self.spec = cfg.servers[myid]
        self.log = log if log is not None else NodeLog(myid)
        self.store = EpochStore(cfg.data_dir)
        self.qv = cfg.quorum_verifier()
        self.core = FastLeaderElection(
            myid,
            self.qv,
            last_zxid=self.store.last_zxid,
            current_epoch=self.store.current_epoch,
            learner_type=self.spec.learner_type,
            config_text=cfg.wire_config_text().encode("utf-8"),
        )
        tick = cfg.tick_time / 1000.0
        init, sync = max(cfg.init_limit, 1), max(cfg.sync_limit, 1)
        self.timing = Timing(tick_s=tick, init_limit=init, sync_limit=sync)
        self.established = False
        self._queue: asyncio.Queue[Event | _Internal] = asyncio.Queue()
        self._timers: dict[str, tuple[asyncio.TimerHandle, int]] = {}
        self._token = 0
        self._activation: LeaderActivation | LearnerActivation | None = None
        self._activation_token = 0
        self._election_started = time.monotonic()
        self._manager: QuorumCnxManager | None = None
        self._fourlw: FourLetterServer | None = None

    # ------------------------------------------------------------------ status
    def status(self) -> NodeStatus:
        core = self.core
        vote: tuple[int, int, int, int] | None
        if core.state == LOOKING:
            leader, zxid, peer_epoch = core.proposal
            vote = (leader, zxid, core.logicalclock, peer_epoch)
        else:
            cv = core.current_vote
            vote = (cv.leader, cv.zxid, cv.election_epoch, cv.peer_epoch) if cv is not None else None
        return NodeStatus(
            myid=self.myid,
            state=core.state,
            round=core.logicalclock,
            vote=vote,
            current_epoch=self.store.current_epoch,
            accepted_epoch=self.store.accepted_epoch,
            last_zxid=self.store.last_zxid,
            established=self.established,
        )

    # ------------------------------------------------------------------ lifecycle
    async def run(self) -> None:
        """Serve until ``stop()``. A port that cannot be bound is the user's problem: ``UserInputError``."""
        try:
            await self._open()
            self._enqueue(StartElection())
            while True:
                item = await self._queue.get()
                if isinstance(item, _Stop):
                    break
                self._dispatch(item)
        finally:
            await self._shutdown()

    async def _open(self) -> None:
        where = client_address(self.cfg, self.myid)
        if where is not None:
            self._fourlw = FourLetterServer(where[0], where[1], self.status)
            try:
                await self._fourlw.start()
            except OSError as exc:
                self._fourlw = None
                raise UserInputError(f"server {self.myid} cannot listen on its client port "
                                     f"{where[0]}:{where[1]}: {exc.strerror or exc}") from None
            self.log(f"answering four-letter words on {where[0]}:{self._fourlw.port}", event="clientport",
                     host=where[0], port=self._fourlw.port)
        else:
            self.log("no clientPort configured: four-letter words are not served", level="WARN")
        manager = QuorumCnxManager(self.myid, self.cfg.servers, on_receive=self._on_wire,
                                   log=_qcm_logger(self.log))
        await manager.start()  # UserInputError if the election port is taken
        self._manager = manager
        self.log(f"{self.myid} is accepting election connections on "
                 f"{self.spec.host}:{self.spec.election_port}", event="started")

    def stop(self) -> None:
        self._enqueue(_Stop())

    async def _shutdown(self) -> None:
        for handle, _ in self._timers.values():
            handle.cancel()
        self._timers.clear()
        if self._activation is not None:
            await self._activation.stop()
            self._activation = None
        if self._manager is not None:
            await self._manager.stop()
        if self._fourlw is not None:
            await self._fourlw.stop()
        self.log("node stopped", event="stopped")

    def _enqueue(self, item: Event | _Internal) -> None:
        self._queue.put_nowait(item)

    # QuorumCnxManager -> WorkerReceiver: decode, or drop with one line
    def _on_wire(self, sid: int, payload: bytes) -> None:
        try:
            n = decode_notification(payload)
        except NotificationFormatError as exc:
            self.log(f"Skipping the processing of a partial / malformed response message sent by sid={sid} "
                     f"(message length: {len(payload)}): {exc}", level="WARN", event="malformed", sid=sid)
            return
        self._enqueue(Received(sid, n))

    # ------------------------------------------------------------------ the loop
    def _dispatch(self, item: Event | _Internal) -> None:
        match item:
            case _TimerFired(name, token):
                current = self._timers.get(name)
                if current is None or current[1] != token:
                    return  # replaced or cancelled after it fired
                del self._timers[name]
                have_delivered = self._manager.have_delivered() if self._manager is not None else True
                self._handle(PollTimeout(have_delivered) if name == "poll" else FinalizeTimeout())
            case _ActivationEstablished(token, epoch):
                if token == self._activation_token:
                    self._established(epoch)
            case _ActivationLost(token, reason):
                if token == self._activation_token:
                    self._lost(reason)
            case _:
                self._handle(item)

    def _handle(self, event: Event) -> None:
        if isinstance(event, Received):
            n = event.n
            self.log(notification_line(self.core.state, event.sid, n), event="notification", sid=event.sid,
                     n_state=n.state, leader=n.leader, zxid=n.zxid, round=n.election_epoch,
                     peer_epoch=n.peer_epoch, my_state=self.core.state)
        was_running = self.core.running
        actions = self.core.handle(event)
        new_election = isinstance(event, StartElection | Lost) and self.core.running and not was_running
        if new_election:
            self._election_started = time.monotonic()
        for action in actions:
            self._perform(action)
        if new_election:  # FastLeaderElection.lookForLeader, after "Peer state changed: looking"
            leader, zxid, epoch = self.core.proposal
            self.log(f"New election. My id = {self.myid}, proposed zxid=0x{zxid:x}", event="new_election",
                     round=self.core.logicalclock, leader=leader, zxid=zxid, peer_epoch=epoch)

    def _perform(self, action: Action) -> None:
        match action:
            case Send(sid, n):
                if sid == self.myid:
                    self._enqueue(Received(sid, n))  # QuorumCnxManager.toSend loop-back
                elif self._manager is not None:
                    self._manager.to_send(sid, encode_notification(n))
            case ArmTimer(name, ms):
                self._arm(name, ms)
            case CancelTimer(name):
                entry = self._timers.pop(name, None)
                if entry is not None:
                    entry[0].cancel()
            case ConnectAll():
                if self._manager is not None:
                    self._manager.connect_all()
            case ChangeState(state, vote):
                self._change_state(state, vote.leader)
            case Decided(vote, state):
                self._decided(vote.leader, state)

    def _arm(self, name: str, ms: int) -> None:
        previous = self._timers.pop(name, None)
        if previous is not None:
            previous[0].cancel()
        self._token += 1
        token = self._token
        handle = asyncio.get_running_loop().call_later(ms / 1000.0, self._enqueue, _TimerFired(name, token))
        self._timers[name] = (handle, token)

    def _change_state(self, state: int, leader: int) -> None:
        name = STATE_NAMES.get(state, str(state))
        self.log(f"Peer state changed: {name.lower()}", event="state", state=name, leader=leader,
                 round=self.core.logicalclock)
        if state == LOOKING:
            self.established = False
            self._drop_activation()
            self.log("LOOKING", event="looking")

    # ------------------------------------------------------------------ after the election
    def _decided(self, leader: int, state: int) -> None:
        took = int((time.monotonic() - self._election_started) * 1000)
        name = STATE_NAMES.get(state, str(state))
        self.log(f"{name} - LEADER ELECTION TOOK - {took} MS (leader {leader}, round "
                 f"0x{self.core.logicalclock:x})", event="decided", state=name, leader=leader,
                 round=self.core.logicalclock, took_ms=took)
        self._drop_activation()
        self._activation_token += 1
        token = self._activation_token

        def established(epoch: int) -> None:
            self._enqueue(_ActivationEstablished(token, epoch))

        def lost(reason: str) -> None:
            self._enqueue(_ActivationLost(token, reason))

        def log(msg: str) -> None:
            self.log(msg, event="activation")

        if state == LEADING:
            self._activation = LeaderActivation(
                self.myid, self.qv, (self.spec.host, self.spec.quorum_port), self.store, self.timing,
                log=log, on_established=established, on_lost=lost,
            )
        else:
            target = self.cfg.servers.get(leader)
            if target is None:
                self._enqueue(_ActivationLost(token, f"leader {leader} is not in the configuration"))
                return
            self._activation = LearnerActivation(
                self.myid, leader, (target.host, target.quorum_port), self.store, self.timing,
                observer=self.spec.learner_type == OBSERVER, log=log, on_established=established,
                on_lost=lost,
            )
        self._activation.start()

    def _drop_activation(self) -> None:
        activation, self._activation = self._activation, None
        if activation is not None:
            self._activation_token += 1  # its late reports are stale now
            task = asyncio.get_running_loop().create_task(activation.stop())
            task.add_done_callback(_ignore_result)

    def _established(self, epoch: int) -> None:
        self.established = True
        self.core.set_persistent(self.store.last_zxid, self.store.current_epoch)
        role = {LEADING: "leader", FOLLOWING: "follower", OBSERVING: "observer"}.get(self.core.state, "?")
        self.log(f"established epoch {epoch} as {role} of leader {self._leader()}", event="established",
                 epoch=epoch, state=STATE_NAMES[self.core.state], leader=self._leader())
        self._handle(Established(epoch))

    def _lost(self, reason: str) -> None:
        self.established = False
        self.log(f"PeerState set to LOOKING: {reason}", level="WARN", event="lost", reason=reason)
        self._activation = None
        self.core.set_persistent(self.store.last_zxid, self.store.current_epoch)
        self._handle(Lost(reason))

    def _leader(self) -> int | None:
        cv = self.core.current_vote
        return cv.leader if cv is not None else None


def _ignore_result(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()


async def serve(cfg: ZooCfg, myid: int, log: NodeLog, *, install_signals: bool = True) -> None:
    """Run a node until SIGTERM/SIGINT."""
    import signal

    node = Node(cfg, myid, log=log)
    if install_signals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, node.stop)
    await node.run()
