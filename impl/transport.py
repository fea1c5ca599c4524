"""The election transport: ZooKeeper 3.8.0's ``QuorumCnxManager`` semantics on asyncio.

Rules (QCM of 3.8.0, see docs/wire.md for where and why this module differs):

- **One connection per peer, and only one initiated by the larger sid survives.** An initiator writes its
  handshake in ONE write; if the remote sid is larger it then closes ("Have smaller server identifier, so
  dropping the connection") and waits to be dialled back. An acceptor that reads a handshake from a smaller
  sid finishes any connection to that sid, closes the new socket and dials back, to the advertised address
  when the handshake carried one, else to the configured one (``handleConnection``). From a larger sid it
  keeps the connection, replacing any previous one for that sid. A sid not in ``servers`` is accepted on the
  same terms (so an observer or a test client with a larger sid can talk) and its messages reach
  ``on_receive`` like any other; ``Long.MAX_VALUE`` (``OBSERVER_ID``) becomes -1, -2, ... as in ZooKeeper.
- **A send slot of capacity 1 per peer** (``queueSendMap``, ``CircularBlockingQueue(1)``): a newer message
  replaces an unsent one. On every new connection the sender first re-sends ``lastMessageSent[sid]`` if the
  slot is empty. ``to_send`` to ``myid`` is the loop-back: delivered to ``on_receive`` via the event loop, in
  order. ``have_delivered`` is true as soon as ANY slot is empty (the code, not its comment).
- **Nothing blocks anything else.** Every accepted socket reads its handshake in its own task, bounded by
  ``socket_timeout`` (ZooKeeper's listener reads handshakes one at a time); every connection has its own
  receive and send tasks, so a peer that stops reading stalls only its own sender; dials are bounded by
  ``connect_timeout``. Bad frames close that one connection; nothing a peer sends raises out of this module.
- **Reconnects**: ``to_send`` and ``connect_all`` dial lazily (``connectOne``), and while a slot still holds a
  message for a peer that is not connected, the dial is retried with exponential backoff
  (``RETRY_MIN`` .. ``RETRY_MAX`` seconds), which also covers a larger sid whose dial-back never came.

- **Another release line's wire** (``wire_profile``, a ``zkfle.impl.wire_profiles.WireProfile``): the
  handshake written is that line's (the sid alone for 3.4.x), the acceptor reads handshakes as that line's
  ``receiveConnection`` does (3.4.0-3.4.5 take any first int64 as the sid, so a 3.5 handshake is the sid
  -65536, smaller than any myid: closed), and frames are bounded by that line's PACKETMAXSIZE (1 MiB for
  3.4.x). Payloads stay opaque bytes: the caller encodes and decodes notifications with the same profile.
  Without a profile, everything is 3.8.0's (``zkfle.impl.wire``).

Theory of operation: all state lives in the event loop's thread; call every method from it. A connection is a
``_Connection`` with a receive task (``RecvWorker``) and a send task (``SendWorker``); when either ends, both
end, the connection leaves ``connected()``, and a retry is scheduled if a message is still waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from zkfle.errors import UserInputError
from zkfle.impl.wire import (
    OBSERVER_ID,
    PACKET_MAX_SIZE,
    FrameError,
    HandshakeError,
    encode_frame,
    encode_handshake,
    read_frame,
    read_handshake,
)
from zkfle.impl.wire_profiles import WireProfile
from zkfle.zoocfg import ServerSpec

Address = tuple[str, int]


@dataclass(eq=False)
class _Connection:
    """One live election connection to ``sid`` (a SendWorker/RecvWorker pair)."""

    sid: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    initiated: bool
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    closed: bool = False


def _format_address(host: str, port: int) -> str:
    """``NetUtils.formatInetAddr``: IPv6 literals in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _close(writer: asyncio.StreamWriter) -> None:
    """Close now: data still queued for a peer that does not read is dropped, never waited for."""
    transport = writer.transport
    if transport.get_write_buffer_size() > 0:
        transport.abort()
    else:
        writer.close()


def _set_nodelay(writer: asyncio.StreamWriter) -> None:
    # QuorumCnxManager.setSockOpts: TCP_NODELAY
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class QuorumCnxManager:
    """Election connections of server ``myid`` to the servers in ``servers`` (see the module rules)."""

    RETRY_MIN = 0.05  # seconds before the first retry of a failed dial with a message waiting
    RETRY_MAX = 1.0

    def __init__(
        self,
        myid: int,
        servers: Mapping[int, ServerSpec],
        *,
        on_receive: Callable[[int, bytes], None],
        listen_host: str | None = None,
        connect_timeout: float = 5.0,
        socket_timeout: float = 10.0,
        log: logging.Logger | None = None,
        wire_profile: WireProfile | None = None,
    ) -> None:
        if myid not in servers and listen_host is None:
            raise UserInputError(f"server {myid} is not in the configuration and no listen host was given")
        self.myid = myid
        self.servers = dict(servers)
        self.connect_timeout = connect_timeout
        self.socket_timeout = socket_timeout
        self.log = log or logging.getLogger(f"zkfle.impl.transport.{myid}")
        self._on_receive = on_receive
        self._listen_host = listen_host
        self._server: asyncio.Server | None = None
        self._bound: Address | None = None
        self._slots: dict[int, bytes | None] = {}  # queueSendMap (capacity 1; None = empty)
        self._wakeups: dict[int, asyncio.Event] = {}
        self._last_sent: dict[int, bytes] = {}  # lastMessageSent
        self._conns: dict[int, _Connection] = {}  # senderWorkerMap
        self._advertised: dict[int, tuple[Address, ...]] = {}
        self._dialing: dict[int, asyncio.Task[None]] = {}
        self._retries: dict[int, asyncio.TimerHandle] = {}
        self._backoff: dict[int, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._observer_counter = -1  # QuorumCnxManager.observerCounter
        self.wire_profile = wire_profile
        self.max_size = wire_profile.packet_max_size if wire_profile is not None else PACKET_MAX_SIZE
        self._stopped = False

    # ------------------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Listen on my election address (``Listener``); port 0 or a sid not in ``servers`` binds any port."""
        spec = self.servers.get(self.myid)
        host = self._listen_host or (spec.host if spec else "127.0.0.1")
        port = spec.election_port if spec else 0
        try:
            self._server = await asyncio.start_server(self._accept, host, port, reuse_address=True)
        except OSError as exc:
            where = _format_address(host, port)
            msg = f"server {self.myid} cannot listen for elections on {where}: {exc}"
            raise UserInputError(msg) from None
        sockname = self._server.sockets[0].getsockname()
        self._bound = (str(sockname[0]), int(sockname[1]))
        self.log.info("%d is accepting connections now, my election bind port: %s", self.myid,
                      _format_address(*self._bound))

    async def stop(self) -> None:
        """Close the listener and every connection; cancel every task (``QuorumCnxManager.halt``)."""
        self._stopped = True
        if self._server is not None:
            self._server.close()
        for handle in self._retries.values():
            handle.cancel()
        self._retries.clear()
        writers = [conn.writer for conn in self._conns.values()]
        for conn in list(self._conns.values()):
            self._finish(conn, "the manager is stopping")
        tasks = [t for t in (*self._tasks, *self._dialing.values()) if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for writer in writers:
            with contextlib.suppress(OSError, TimeoutError):
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()
        if self._server is not None:
            await self._server.wait_closed()

    @property
    def address(self) -> Address:
        """The (host, port) the listener is bound to."""
        if self._bound is None:
            raise RuntimeError("QuorumCnxManager.start() has not run")
        return self._bound

    # ------------------------------------------------------------------------------------------------ API

    def to_send(self, sid: int, payload: bytes) -> None:
        """``QuorumCnxManager.toSend``: put ``payload`` in ``sid``'s slot (replacing an unsent one), dial."""
        if not 0 < len(payload) <= self.max_size:
            raise ValueError(f"a message must be 1..{self.max_size} bytes, got {len(payload)}")
        if sid == self.myid:
            asyncio.get_running_loop().call_soon(self._deliver, sid, payload)
            return
        self._slots[sid] = payload
        self._wakeup(sid).set()
        self.connect_one(sid)

    def forget_last_sent(self, sid: int) -> None:
        """Drop ``lastMessageSent[sid]``, so the next connection to sid re-sends nothing stale.

        Not a ZooKeeper operation: for a harness that plays servers over the wire and must not let one trace's
        last notification leak into the next (zkfle.conformance.live).
        """
        self._last_sent.pop(sid, None)

    def have_delivered(self) -> bool:
        """``QuorumCnxManager.haveDelivered``: true as soon as any peer's slot is empty."""
        return any(slot is None for slot in self._slots.values())

    def connect_all(self) -> None:
        """``QuorumCnxManager.connectAll``: dial every peer with a send slot (ZooKeeper walks
        ``queueSendMap``) and every configured server, unless connected or already dialling."""
        for sid in sorted({*self.servers, *self._slots}):
            self.connect_one(sid)

    def connected(self) -> set[int]:
        """The sids with a live connection, whichever side opened it."""
        return set(self._conns)

    def connect_one(self, sid: int, addresses: tuple[Address, ...] | None = None) -> None:
        """``QuorumCnxManager.connectOne``: start a dial unless connected or already dialling."""
        if self._stopped or sid == self.myid or sid in self._conns or sid in self._dialing:
            return
        addrs = addresses or self._addresses_of(sid)
        if not addrs:
            self.log.warning("Invalid server id: %d (not in the configuration, no advertised address)", sid)
            return
        task = asyncio.get_running_loop().create_task(self._dial(sid, addrs))
        self._dialing[sid] = task
        task.add_done_callback(lambda t: self._forget_dial(sid, t))

    def _forget_dial(self, sid: int, task: asyncio.Task[None]) -> None:
        if self._dialing.get(sid) is task:
            del self._dialing[sid]

    # ------------------------------------------------------------------------------------------- dialling

    def _addresses_of(self, sid: int) -> tuple[Address, ...]:
        spec = self.servers.get(sid)
        if spec is not None:
            return ((spec.host, spec.election_port),)
        return self._advertised.get(sid, ())

    def _my_address_text(self) -> str:
        spec = self.servers.get(self.myid)
        if spec is not None:
            return _format_address(spec.host, self._bound[1] if self._bound else spec.election_port)
        return _format_address(*self.address)

    async def _dial(self, sid: int, addrs: tuple[Address, ...]) -> None:
        # QuorumCnxManager.initiateConnection + startConnection
        for host, port in addrs:
            try:
                async with asyncio.timeout(self.connect_timeout):
                    reader, writer = await asyncio.open_connection(host, port)
            except (OSError, TimeoutError) as exc:
                timed_out = isinstance(exc, TimeoutError)
                why = f"timed out after {self.connect_timeout:g} s" if timed_out else exc
                self.log.warning("Cannot open channel to %d at election address %s: %s", sid,
                                 _format_address(host, port), why)
                continue
            try:
                await self._start_connection(sid, reader, writer)
            except BaseException:
                _close(writer)
                raise
            return
        self._schedule_retry(sid)

    async def _start_connection(self, sid: int, reader: asyncio.StreamReader,
                                writer: asyncio.StreamWriter) -> None:
        # QuorumCnxManager.startConnection
        _set_nodelay(writer)
        writer.write(self._handshake())  # one write
        if sid > self.myid:
            self.log.info("Have smaller server identifier, so dropping the connection: "
                          "(myId:%d --> sid:%d)", self.myid, sid)
            with contextlib.suppress(OSError):
                await writer.drain()
            _close(writer)
            self._schedule_retry(sid)  # in case the dial-back never comes
            return
        self._install(sid, reader, writer, initiated=True)

    def _handshake(self) -> bytes:
        if self.wire_profile is None:
            return encode_handshake(self.myid, self._my_address_text())
        return self.wire_profile.encode_handshake(self.myid, self._my_address_text())

    def _schedule_retry(self, sid: int) -> None:
        if self._stopped or sid in self._retries or self._slots.get(sid) is None:
            return
        delay = self._backoff.get(sid, self.RETRY_MIN)
        self._backoff[sid] = min(delay * 2, self.RETRY_MAX)
        self._retries[sid] = asyncio.get_running_loop().call_later(delay, self._retry, sid)

    def _retry(self, sid: int) -> None:
        self._retries.pop(sid, None)
        if self._slots.get(sid) is not None:
            self.connect_one(sid)

    # ------------------------------------------------------------------------------------------ accepting

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # QuorumCnxManager.Listener + handleConnection, one task per accepted socket
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._handle_connection(reader, writer)
        except BaseException:
            _close(writer)
            raise
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def _handle_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _set_nodelay(writer)
        peer = writer.get_extra_info("peername")
        try:
            if self.wire_profile is None:
                hs = await read_handshake(reader, self.socket_timeout)
            else:
                hs = await self.wire_profile.read_handshake(reader, self.socket_timeout)
        except (HandshakeError, OSError) as exc:
            self.log.error("Initial message parsing error! %s (connection from %s closed)", exc, peer)
            _close(writer)
            return
        sid = hs.sid
        if sid == OBSERVER_ID:
            sid = self._observer_counter
            self._observer_counter -= 1
            self.log.info("Setting arbitrary identifier to observer: %d", sid)
        if hs.addresses:
            self._advertised[sid] = hs.addresses
        if self._stopped:
            _close(writer)
        elif sid == self.myid:
            self.log.warning("We got a connection request from a server with our own ID (%d); closed it", sid)
            _close(writer)
        elif sid < self.myid:
            # the larger sid must initiate: drop this one and dial back
            self.log.info("Create new connection to server: %d (it has the smaller sid)", sid)
            old = self._conns.get(sid)
            if old is not None:
                self._finish(old, "the peer reconnected with a smaller sid", retry=False)
            _close(writer)
            self.connect_one(sid, hs.addresses or None)
        else:
            self._install(sid, reader, writer, initiated=False)

    # ----------------------------------------------------------------------------------------- connection

    def _install(self, sid: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                 initiated: bool) -> None:
        if self._stopped:
            _close(writer)
            return
        old = self._conns.pop(sid, None)
        if old is not None:
            self._finish(old, "replaced by a new connection", retry=False)
        conn = _Connection(sid, reader, writer, initiated)
        self._conns[sid] = conn
        self._slots.setdefault(sid, None)
        self._backoff.pop(sid, None)
        loop = asyncio.get_running_loop()
        for worker in (self._recv_worker(conn), self._send_worker(conn)):
            task = loop.create_task(worker)
            conn.tasks.append(task)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self.log.debug("Connected to %d (%s)", sid, "initiated" if initiated else "accepted")

    async def _recv_worker(self, conn: _Connection) -> None:
        # QuorumCnxManager.RecvWorker.run
        reason = "end of stream"
        try:
            while (payload := await read_frame(conn.reader, self.max_size)) is not None:
                self._deliver(conn.sid, payload)
        except FrameError as exc:
            reason = str(exc)
        except OSError as exc:
            reason = f"socket error: {exc}"
        self.log.warning("Connection broken for id %d, my id = %d: %s", conn.sid, self.myid, reason)
        self._finish(conn, reason)

    async def _send_worker(self, conn: _Connection) -> None:
        # QuorumCnxManager.SendWorker.run
        sid = conn.sid
        wakeup = self._wakeup(sid)
        try:
            last = self._last_sent.get(sid)
            if self._slots.get(sid) is None and last is not None:
                await self._write(conn, last)
            while True:
                payload = self._slots.get(sid)
                if payload is None:
                    wakeup.clear()
                    await wakeup.wait()
                    continue
                self._slots[sid] = None
                self._last_sent[sid] = payload
                await self._write(conn, payload)
        except OSError as exc:
            self._finish(conn, f"send failed: {exc}")

    async def _write(self, conn: _Connection, payload: bytes) -> None:
        # QuorumCnxManager.SendWorker.send: length, payload, flush
        conn.writer.write(encode_frame(payload, self.max_size))
        await conn.writer.drain()

    def _finish(self, conn: _Connection, reason: str, *, retry: bool = True) -> None:
        # SendWorker.finish / RecvWorker.finish: end both workers and forget the connection
        if conn.closed:
            return
        conn.closed = True
        current = asyncio.current_task()
        for task in conn.tasks:
            if task is not current:
                task.cancel()
        _close(conn.writer)
        if self._conns.get(conn.sid) is conn:
            del self._conns[conn.sid]
        self.log.debug("Closed the connection to %d: %s", conn.sid, reason)
        if retry:
            self._schedule_retry(conn.sid)

    def _wakeup(self, sid: int) -> asyncio.Event:
        event = self._wakeups.get(sid)
        if event is None:
            event = self._wakeups[sid] = asyncio.Event()
        return event

    def _deliver(self, sid: int, payload: bytes) -> None:
        if self._stopped:
            return
        try:
            self._on_receive(sid, payload)
        except Exception:
            self.log.exception("on_receive failed for a message from %d; the message is dropped", sid)


__all__ = ["QuorumCnxManager"]
