"""zkfle's leader activation: what happens on the QUORUM port after FLE has decided.

ZooKeeper runs Zab's discovery and synchronisation here; a zkfle node has no data to sync, so it runs a
small protocol of its own that keeps the two facts FLE depends on: the leader is *established* only once a
quorum has joined and agreed on a new epoch within ``initLimit x tickTime``, and a node that loses its
leader (or, for a leader, its quorum) returns to LOOKING.

Wire format (all integers big-endian). Every message is one fixed 29-byte record::

    magic  4 bytes  b"ZKFA"
    type   1 byte   FOLLOWERINFO 11 | OBSERVERINFO 16 | LEADERINFO 17 | ACKEPOCH 18 | UPTODATE 12 | PING 5
    sid    int64    the sender's myid
    epoch  int64    FOLLOWERINFO/OBSERVERINFO: the learner's acceptedEpoch; LEADERINFO, ACKEPOCH, UPTODATE and
                    PING: the new epoch
    zxid   int64    the sender's last zxid (informational)

(type numbers are those of the matching packets in ZooKeeper's ``Leader.java``.)

Rules:

- The leader listens on its quorum port only while LEADING (as ``Leader``'s ``ServerSocket`` does); a
  learner's connection attempt fails while the leader has not decided yet.
- Learner (``Learner.connectToLeader`` / ``registerWithLeader``): up to 5 connection attempts 100 ms apart,
  all within ``initLimit x tickTime``; sends FOLLOWERINFO (OBSERVERINFO for an observer) with its
  acceptedEpoch; waits for LEADERINFO(e); refuses e < acceptedEpoch; persists acceptedEpoch = e; sends
  ACKEPOCH(e); waits for UPTODATE(e); persists currentEpoch = e and is established. Then it answers every
  PING with a PING; no message from the leader for ``syncLimit x tickTime``, or a closed connection, loses
  the leader.
- Leader (``Leader.getEpochToPropose`` / ``waitForEpochAck`` / ``waitForNewLeaderAck``): once the voters
  that joined plus itself form a quorum, it proposes e = max(acceptedEpoch of itself and of every joined
  learner) + 1, persists acceptedEpoch = e, sends LEADERINFO(e) to everyone joined (and to later joiners);
  once a quorum has sent ACKEPOCH it persists currentEpoch = e, sends UPTODATE and is established. Not
  established within ``initLimit x tickTime`` from the decision: back to LOOKING. Once established it sends
  PING to every learner each tickTime; when the voters heard from within ``syncLimit x tickTime`` plus
  itself are no quorum, it has lost its quorum.
- A peer that does not start with the magic is not a zkfle node. A ZooKeeper follower connecting to a zkfle
  leader sends Zab's FOLLOWERINFO: the leader logs that it cannot lead ZooKeeper servers and closes; a
  ZooKeeper leader never sends LEADERINFO in this format: the zkfle learner logs that it cannot follow a
  ZooKeeper leader (zkfle does not speak Zab) and returns to LOOKING, as a ZooKeeper follower that cannot
  sync would, one tickTime later (so that it does not spin against a stable ZooKeeper leader, whose
  LEADING reply would make it decide FOLLOWING again at once).
- Each activation reports exactly one outcome: ``on_established(epoch)`` at most once, then
  ``on_lost(reason)`` at most once; after ``on_lost`` or ``stop()`` it is finished and holds no socket or
  task.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

from zkfle.errors import PeerError
from zkfle.impl.epochs import EpochStore
from zkfle.quorum import QuorumVerifier, has_quorum

MAGIC = b"ZKFA"
FOLLOWERINFO, OBSERVERINFO, LEADERINFO, ACKEPOCH, UPTODATE, PING = 11, 16, 17, 18, 12, 5
_RECORD = struct.Struct(">4sBqqq")
RECORD_SIZE = _RECORD.size  # 29
_TYPE_NAMES = {
    FOLLOWERINFO: "FOLLOWERINFO",
    OBSERVERINFO: "OBSERVERINFO",
    LEADERINFO: "LEADERINFO",
    ACKEPOCH: "ACKEPOCH",
    UPTODATE: "UPTODATE",
    PING: "PING",
}
CONNECT_TRIES = 5  # Learner.connectToLeader: up to 5 tries
CONNECT_RETRY_S = 0.1  # Learner: leaderConnectDelayDuringRetryMs = 100

Log = Callable[[str], None]
OnEstablished = Callable[[int], None]
OnLost = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Record:
    """One activation message."""

    type: int
    sid: int
    epoch: int
    zxid: int = 0

    def encode(self) -> bytes:
        return _RECORD.pack(MAGIC, self.type, self.sid, self.epoch, self.zxid)

    @property
    def name(self) -> str:
        return _TYPE_NAMES.get(self.type, f"type {self.type}")


def decode_record(data: bytes) -> Record:
    """Parse one 29-byte record; ``PeerError`` when the peer does not speak zkfle's activation protocol."""
    if len(data) != RECORD_SIZE:
        raise PeerError(f"short activation record ({len(data)} of {RECORD_SIZE} bytes)")
    magic, kind, sid, epoch, zxid = _RECORD.unpack(data)
    if magic != MAGIC:
        raise PeerError(f"no zkfle activation magic (first bytes {data[:8].hex()})")
    if kind not in _TYPE_NAMES:
        raise PeerError(f"unknown activation record type {kind}")
    return Record(kind, sid, epoch, zxid)


async def read_record(reader: asyncio.StreamReader, timeout: float) -> Record:
    """Read one record within ``timeout`` seconds. EOF -> ``ConnectionError``; timeout -> ``TimeoutError``."""
    try:
        data = await asyncio.wait_for(reader.readexactly(RECORD_SIZE), max(timeout, 0.0))
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise PeerError(f"the peer sent {len(exc.partial)} bytes that are no activation record "
                            f"(first bytes {exc.partial[:8].hex()})") from None
        raise ConnectionError("connection closed by the peer") from None
    return decode_record(data)


def _close(writer: asyncio.StreamWriter | None) -> None:
    if writer is not None:
        with contextlib.suppress(Exception):
            writer.close()


@dataclass(frozen=True, slots=True)
class Timing:
    """The zoo.cfg limits that bound activation, in seconds."""

    tick_s: float
    init_limit: int
    sync_limit: int

    @property
    def init_s(self) -> float:
        return self.tick_s * self.init_limit

    @property
    def sync_s(self) -> float:
        return self.tick_s * self.sync_limit


class _Outcome:
    """Reports established at most once, then lost at most once; shared by leader and learner."""

    def __init__(self, on_established: OnEstablished, on_lost: OnLost) -> None:
        self._on_established = on_established
        self._on_lost = on_lost
        self.established = False
        self.finished = False

    def establish(self, epoch: int) -> None:
        if not self.finished and not self.established:
            self.established = True
            self._on_established(epoch)

    def lose(self, reason: str) -> None:
        if not self.finished:
            self.finished = True
            self._on_lost(reason)


class LearnerActivation:
    """A follower or observer joining its leader (``Learner.connectToLeader`` .. ``followLeader``)."""

    def __init__(
        self,
        myid: int,
        leader_sid: int,
        leader_addr: tuple[str, int],
        store: EpochStore,
        timing: Timing,
        *,
        observer: bool,
        log: Log,
        on_established: OnEstablished,
        on_lost: OnLost,
    ) -> None:
        self.myid = myid
        self.leader_sid = leader_sid
        self.leader_addr = leader_addr
        self.store = store
        self.timing = timing
        self.observer = observer
        self.log = log
        self.outcome = _Outcome(on_established, on_lost)
        self.epoch: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._writer: asyncio.StreamWriter | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        self.outcome.finished = True
        _close(self._writer)
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _run(self) -> None:
        try:
            reason = await self._follow()
        except asyncio.CancelledError:
            raise
        except PeerError as exc:
            reason = (f"leader {self.leader_sid} does not speak zkfle's activation protocol ({exc}); "
                      f"zkfle cannot follow a ZooKeeper leader (it does not speak Zab): back to LOOKING")
            await asyncio.sleep(self.timing.tick_s)  # do not spin against a Zab leader
        except Exception as exc:  # an unexpected failure still has to end this activation
            reason = f"activation with leader {self.leader_sid} failed: {exc!r}"
        finally:
            _close(self._writer)
        self.log(reason)
        self.outcome.lose(reason)

    async def _connect(self, deadline: float) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """``Learner.connectToLeader``: up to 5 tries, 100 ms apart, within initLimit x tickTime."""
        host, port = self.leader_addr
        for attempt in range(1, CONNECT_TRIES + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                return await asyncio.wait_for(asyncio.open_connection(host, port), remaining)
            except (OSError, TimeoutError) as exc:
                left_ms = int(remaining * 1000)
                self.log(f"Unexpected exception, tries={attempt}, remaining init limit={left_ms} ms,"
                         f" connecting to leader {self.leader_sid} at {host}:{port}: {exc}")
            if attempt < CONNECT_TRIES:
                await asyncio.sleep(CONNECT_RETRY_S)
        return None

    async def _follow(self) -> str:
        deadline = time.monotonic() + self.timing.init_s
        pair = await self._connect(deadline)
        if pair is None:
            host, port = self.leader_addr
            return f"could not connect to leader {self.leader_sid} at {host}:{port}: back to LOOKING"
        reader, self._writer = pair
        hello = OBSERVERINFO if self.observer else FOLLOWERINFO
        self._send(Record(hello, self.myid, self.store.accepted_epoch, self.store.last_zxid))
        try:
            info = await self._expect(reader, LEADERINFO, deadline)
        except TimeoutError:
            return f"no LEADERINFO from leader {self.leader_sid} within initLimit x tickTime"
        except ConnectionError:
            await asyncio.sleep(self.timing.tick_s)  # do not spin against a Zab leader
            return (f"leader {self.leader_sid} closed the connection before LEADERINFO (a ZooKeeper leader "
                    f"would: zkfle cannot follow it, as it does not speak Zab)")
        if info.epoch < self.store.accepted_epoch:  # Learner.registerWithLeader
            ours = self.store.accepted_epoch
            return f"leader's epoch, {info.epoch}, is less than our accepted epoch, {ours}"
        if info.epoch > self.store.accepted_epoch:
            self.store.set_accepted_epoch(info.epoch)
        self._send(Record(ACKEPOCH, self.myid, info.epoch, self.store.last_zxid))
        try:
            await self._expect(reader, UPTODATE, deadline)
        except TimeoutError:
            return f"no UPTODATE from leader {self.leader_sid} within initLimit x tickTime"
        except ConnectionError:
            return f"leader {self.leader_sid} closed the connection before UPTODATE"
        self.store.set_current_epoch(info.epoch)
        self.epoch = info.epoch
        self.outcome.establish(info.epoch)
        return await self._heartbeats(reader)

    async def _heartbeats(self, reader: asyncio.StreamReader) -> str:
        """``Follower.followLeader``'s loop: answer PINGs; silence for syncLimit x tickTime: leader lost."""
        while True:
            try:
                record = await read_record(reader, self.timing.sync_s)
            except TimeoutError:
                return f"nothing from leader {self.leader_sid} for syncLimit x tickTime: leader lost"
            except ConnectionError:
                return f"connection to leader {self.leader_sid} closed: leader lost"
            if record.type == PING:
                self._send(Record(PING, self.myid, record.epoch, self.store.last_zxid))

    async def _expect(self, reader: asyncio.StreamReader, kind: int, deadline: float) -> Record:
        while True:
            record = await read_record(reader, deadline - time.monotonic())
            if record.type == kind:
                return record
            if record.type != PING:
                raise PeerError(f"expected {_TYPE_NAMES[kind]}, got {record.name}")

    def _send(self, record: Record) -> None:
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(record.encode())


@dataclass
class _Learner:
    sid: int
    writer: asyncio.StreamWriter
    accepted_epoch: int
    observer: bool
    acked: bool = False
    last_heard: float = 0.0


class LeaderActivation:
    """A leader gathering its quorum (``Leader.lead`` up to ``waitForNewLeaderAck``, then its ping loop)."""

    def __init__(
        self,
        myid: int,
        qv: QuorumVerifier,
        listen_addr: tuple[str, int],
        store: EpochStore,
        timing: Timing,
        *,
        log: Log,
        on_established: OnEstablished,
        on_lost: OnLost,
    ) -> None:
        self.myid = myid
        self.qv = qv
        self.listen_addr = listen_addr
        self.store = store
        self.timing = timing
        self.log = log
        self.outcome = _Outcome(on_established, on_lost)
        self.epoch: int | None = None  # proposed once a quorum joined
        self._learners: dict[int, _Learner] = {}
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._timer: asyncio.Task[None] | None = None
        self._established = asyncio.Event()

    def start(self) -> None:
        self._timer = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        self.outcome.finished = True
        await self._shutdown()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for learner in self._learners.values():
            _close(learner.writer)
        self._learners.clear()
        current = asyncio.current_task()
        pending = [t for t in (*self._tasks, self._timer) if t is not None and t is not current]
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _lose(self, reason: str) -> None:
        if self.outcome.finished:
            return
        self.log(reason)
        self.outcome.lose(reason)
        task = asyncio.get_running_loop().create_task(self._shutdown())
        self._tasks.add(task)

    async def _run(self) -> None:
        host, port = self.listen_addr
        try:
            self._server = await asyncio.start_server(self._accept, host, port)
        except OSError as exc:
            self._lose(f"cannot listen on the quorum port {host}:{port}: {exc}")
            return
        # A leader that is a quorum by itself (one voter) needs nobody: propose and establish at once.
        self._maybe_propose()
        self._maybe_establish()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._established.wait(), self.timing.init_s)
        if not self.outcome.established:
            joined = sorted(s for s, lr in self._learners.items() if not lr.observer)
            # Leader.getEpochToPropose / waitForEpochAck
            self._lose(f"Timeout while waiting for epoch from quorum (joined voters: {joined}): to LOOKING")
            return
        await self._ping_loop()

    async def _ping_loop(self) -> None:
        """``Leader.lead``'s loop: ping each tickTime; a quorum must be heard within syncLimit x tickTime."""
        while not self.outcome.finished:
            await asyncio.sleep(self.timing.tick_s)
            now = time.monotonic()
            heard = {self.myid}
            for learner in list(self._learners.values()):
                self._send(learner, Record(PING, self.myid, self.epoch or 0, self.store.last_zxid))
                if learner.acked and now - learner.last_heard <= self.timing.sync_s:
                    heard.add(learner.sid)
            if not has_quorum(self.qv, heard):
                self._lose(f"Not sufficient followers synced, only synced with sids: {sorted(heard)}; "
                           f"quorum lost: back to LOOKING")
                return

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        learner: _Learner | None = None
        try:
            learner = await self._handshake(reader, writer)
            if learner is not None:
                await self._serve(reader, learner)
        except PeerError as exc:
            peer = writer.get_extra_info("peername")
            self.log(f"a peer at {peer} on the quorum port does not speak zkfle's activation protocol "
                     f"({exc}); a ZooKeeper follower speaks Zab, which a zkfle leader cannot lead: closing")
        except (ConnectionError, TimeoutError):
            pass
        finally:
            _close(writer)
            if learner is not None and self._learners.get(learner.sid) is learner:
                del self._learners[learner.sid]
                self.log(f"learner {learner.sid} disconnected")
            if task is not None:
                self._tasks.discard(task)

    async def _handshake(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> _Learner | None:
        hello = await read_record(reader, self.timing.init_s)
        if hello.type not in (FOLLOWERINFO, OBSERVERINFO):
            raise PeerError(f"expected FOLLOWERINFO or OBSERVERINFO, got {hello.name}")
        if self.outcome.finished:
            return None
        previous = self._learners.get(hello.sid)
        if previous is not None:
            _close(previous.writer)
        observer = hello.type == OBSERVERINFO
        learner = _Learner(hello.sid, writer, hello.epoch, observer, last_heard=time.monotonic())
        self._learners[hello.sid] = learner
        self.log(f"learner {hello.sid} joined ({(learner.observer and 'observer') or 'follower'}, "
                 f"acceptedEpoch {hello.epoch})")
        if self.epoch is not None:
            self._send(learner, Record(LEADERINFO, self.myid, self.epoch, self.store.last_zxid))
        else:
            self._maybe_propose()
        return learner

    def _maybe_propose(self) -> None:
        """``Leader.getEpochToPropose``: a quorum joined -> e = max(acceptedEpoch) + 1."""
        joined = {s for s, lr in self._learners.items() if not lr.observer}
        if self.epoch is not None or not has_quorum(self.qv, joined | {self.myid}):
            return
        epochs = [self.store.accepted_epoch, *(lr.accepted_epoch for lr in self._learners.values())]
        self.epoch = max(epochs) + 1
        self.store.set_accepted_epoch(self.epoch)
        self.log(f"proposing new epoch {self.epoch} to {sorted(self._learners)}")
        for learner in self._learners.values():
            self._send(learner, Record(LEADERINFO, self.myid, self.epoch, self.store.last_zxid))

    async def _serve(self, reader: asyncio.StreamReader, learner: _Learner) -> None:
        while not self.outcome.finished:
            record = await read_record(reader, self.timing.init_s + self.timing.sync_s)
            learner.last_heard = time.monotonic()
            if record.type == ACKEPOCH and record.epoch == self.epoch:
                learner.acked = True
                self._on_ack(learner)

    def _on_ack(self, learner: _Learner) -> None:
        """``Leader.waitForEpochAck`` / ``waitForNewLeaderAck``: a quorum acked -> established."""
        assert self.epoch is not None
        if self.outcome.established:
            self._send(learner, Record(UPTODATE, self.myid, self.epoch, self.store.last_zxid))
            return
        self._maybe_establish()

    def _maybe_establish(self) -> None:
        acked = {s for s, lr in self._learners.items() if lr.acked and not lr.observer}
        if self.epoch is None or self.outcome.established or not has_quorum(self.qv, acked | {self.myid}):
            return
        self.store.set_current_epoch(self.epoch)
        for other in self._learners.values():
            if other.acked:
                self._send(other, Record(UPTODATE, self.myid, self.epoch, self.store.last_zxid))
        self.outcome.establish(self.epoch)
        self._established.set()

    def _send(self, learner: _Learner, record: Record) -> None:
        if not learner.writer.is_closing():
            learner.writer.write(record.encode())
