"""Wire profiles: the election wire protocol as each ZooKeeper release line speaks it, from 3.4.0 on.

Rules (all integers big-endian, signed; ``QuorumCnxManager`` and ``FastLeaderElection`` of each line):

- **3.4.0-3.4.5** (read in the 3.4.3 release source). Handshake: ``int64 sid`` and nothing else
  (``QuorumCnxManager.initiateConnection``); the acceptor reads one int64 and takes it as the sid whatever
  its sign. Notifications are 36 bytes: ``int32 state, int64 leader, int64 zxid, int64 electionEpoch,
  int64 peerEpoch`` (``FastLeaderElection.buildMsg``). The receiver (``WorkerReceiver.run``) drops < 28
  bytes, reads 28 bytes as the pre-3.4 form (``peerEpoch := zxid >> 32``), reads peerEpoch from 36+ bytes
  and ignores the rest; 29..35 bytes throw ``BufferUnderflowException`` out of the receiver thread (it dies);
  a state code outside 0..3 is taken as LOOKING (the switch has no default). Frames are 1..1048576 bytes.
- **3.4.6-3.4.x** (ZK-1808, ZK-1633; read in branch-3.4 sources, no such release run). Handshake: still the
  sid alone, but the acceptor also understands the 3.5 form (a negative first int64, then sid, ``int32 n``
  and n bytes it discards). Notifications are 40 bytes: the 36 above plus ``int32 version = 1``. The
  receiver reads the version when 4 bytes remain after peerEpoch, never a config; an unknown state code is
  dropped. Frames are taken to be 1..1048576 bytes as in 3.4.3 (not checked).
- **3.5.0 and later**: ``zkfle.impl.wire`` (protocol-version handshake with the address, 44 + L byte
  notifications with version 2 and the config text), exactly as 3.8.0.

Theory of operation: a ``WireProfile`` is a value naming one line. It encodes what a server of that line
*writes* (``encode_handshake``, ``encode_notification``), decodes strictly what such a server writes
(``decode_notification``: any other length is the peer's fault), and reproduces how such a server *reads*
whatever it is sent (``read_handshake_as``, ``receive_notification``), which is what a harness needs to
predict a mixed-version exchange. Everything is delegated to ``zkfle.impl.wire`` where the layouts coincide;
only the 36-byte layout and the 3.4 reading rules live here. ``profile_for_version`` picks the line from a
release number. Sans-I/O, like ``wire``.
"""

from __future__ import annotations

import asyncio
import enum
import struct
from dataclasses import dataclass

from zkfle.errors import UserInputError
from zkfle.impl import wire
from zkfle.impl.events import LOOKING, Notification

PACKET_MAX_SIZE_34 = 1024 * 1024  # QuorumCnxManager.PACKETMAXSIZE in 3.4.x
NOTIFICATION_VERSION_34 = 1  # FastLeaderElection.Notification.CURRENTVERSION from 3.4.6 on

_INT32 = struct.Struct(">i")
_INT64 = struct.Struct(">q")
_V0 = struct.Struct(">iqqq")  # state, leader, zxid, electionEpoch: 28 bytes (pre-3.4)
_V34 = struct.Struct(">iqqqq")  # ... peerEpoch: 36 bytes (3.4.0-3.4.5)
_V346 = struct.Struct(">iqqqqi")  # ... version: 40 bytes (3.4.6+)


class HandshakeForm(enum.Enum):
    """What a server of the line writes when it opens an election connection."""

    SID_ONLY = "sid-only"  # int64 sid
    VERSIONED = "versioned"  # int64 protocolVersion, int64 sid, int32 addrLen, address


class ReceiverThreadDeath(wire.NotificationFormatError):
    """A notification that kills a 3.4 server's ``WorkerReceiver`` thread (an uncaught
    ``BufferUnderflowException``): the server stays up but hears no more election messages (ZK-3769's
    symptom, never fixed on the 3.4 line). A harness must never send one unless it means to."""


@dataclass(frozen=True)
class WireProfile:
    """One release line's election wire protocol."""

    name: str
    first: tuple[int, int, int]  # the first release of the line
    handshake: HandshakeForm
    notification_size: int  # bytes this line writes (without config)
    notification_version: int  # the version field it writes (0: none on the wire)
    packet_max_size: int  # QuorumCnxManager.PACKETMAXSIZE
    accepts_versioned_handshake: bool  # the acceptor understands a negative first int64 (ZK-1633)

    # ------------------------------------------------------------------------------------ what it writes

    def encode_handshake(self, sid: int, addrs: str = "") -> bytes:
        """``QuorumCnxManager.initiateConnection`` / ``startConnection``: the whole initiation message."""
        if self.handshake is HandshakeForm.SID_ONLY:
            return wire.encode_legacy_handshake(sid)
        if not addrs:
            raise ValueError(f"a {self.name} handshake carries the initiator's election address")
        return wire.encode_handshake(sid, addrs, wire.PROTOCOL_VERSION_V1)

    def encode_notification(self, n: Notification) -> bytes:
        """``FastLeaderElection.buildMsg`` of this line (a 3.5+ notification carries ``n.config``)."""
        if self.notification_size == _V34.size:
            return _pack(_V34, n.state, n.leader, n.zxid, n.election_epoch, n.peer_epoch)
        if self.notification_size == _V346.size:
            return wire.encode_notification(n, wire.NotificationLayout.V1)
        return wire.encode_notification(n, wire.NotificationLayout.CURRENT)

    def encode_frame(self, payload: bytes) -> bytes:
        """``SendWorker.send``: ``int32 length`` then the payload."""
        return wire.encode_frame(payload, self.packet_max_size)

    def frame_reader(self) -> wire.FrameReader:
        """``RecvWorker.run``'s framing with this line's PACKETMAXSIZE."""
        return wire.FrameReader(self.packet_max_size)

    # ------------------------------------------------------------------------- strict decode of its output

    def decode_notification(self, payload: bytes) -> Notification:
        """A notification a server of this line sent, decoded; any other length is the peer's fault
        (``NotificationFormatError``): the server is not of this line, or the stream is out of step."""
        size = len(payload)
        if self.notification_size == wire.NotificationLayout.CURRENT.value:
            if size < self.notification_size:
                raise wire.NotificationFormatError(
                    f"peer sent a {size}-byte notification; a {self.name} server writes 44 + config bytes")
            n = wire.decode_notification(payload)
            if n.version != self.notification_version:
                raise wire.NotificationFormatError(
                    f"peer sent notification version {n.version}; a {self.name} server writes "
                    f"{self.notification_version}")
            return n
        if size != self.notification_size:
            raise wire.NotificationFormatError(
                f"peer sent a {size}-byte notification; a {self.name} server writes exactly "
                f"{self.notification_size} bytes")
        n = self._parse_34(payload)
        if n.version != self.notification_version:
            raise wire.NotificationFormatError(
                f"peer sent notification version {n.version}; a {self.name} server writes "
                f"{self.notification_version}")
        if not 0 <= n.state < len(wire.STATE_NAMES):
            raise wire.UnknownStateError(f"peer sent a notification with unknown state code {n.state}", n)
        return n

    # ------------------------------------------------------------------------------- how it reads input

    def receive_notification(self, payload: bytes) -> Notification:
        """What a server of this line makes of ``payload`` (``WorkerReceiver.run``).

        Raises ``NotificationFormatError`` for what it drops and ``ReceiverThreadDeath`` for what kills its
        receiver thread. A 3.4.0-3.4.5 receiver turns an unknown state code into LOOKING.
        """
        if self.notification_size == wire.NotificationLayout.CURRENT.value:
            return wire.decode_notification(payload)
        n = self._parse_34(payload)
        if not 0 <= n.state < len(wire.STATE_NAMES):
            if self.notification_version == 0:
                return Notification(LOOKING, n.leader, n.zxid, n.election_epoch, n.peer_epoch, 0)
            raise wire.UnknownStateError(f"peer sent a notification with unknown state code {n.state}", n)
        return n

    def read_handshake_as(self, data: bytes) -> tuple[wire.Handshake, bytes]:
        """How a server of this line reads an initiation message: the handshake and the bytes after it.

        ``wire.HandshakeError`` for a message it closes the socket on; ``ValueError`` if ``data`` is not yet
        a complete message.
        """
        if not self.accepts_versioned_handshake:  # 3.4.0-3.4.5: QuorumCnxManager.receiveConnection
            if len(data) < 8:
                raise ValueError("an initiation message needs 8 bytes")
            return wire.Handshake(None, _INT64.unpack_from(data)[0]), data[8:]
        if self.handshake is HandshakeForm.SID_ONLY:  # 3.4.6+: the ZK-1633 reader, address discarded
            return _read_handshake_346(data)
        reader = wire.HandshakeReader()
        result = reader.feed(data)
        if result is None:
            raise ValueError("the initiation message is not complete")
        return result, reader.rest

    async def read_handshake(self, reader: asyncio.StreamReader, timeout: float) -> wire.Handshake:
        """``read_handshake_as`` on a stream: read exactly one initiation message as this line's acceptor
        does (``QuorumCnxManager.receiveConnection``), within ``timeout`` seconds; the asyncio convenience
        for ``zkfle.impl.transport``, as ``wire.read_handshake`` is for 3.8.0.

        Raises ``wire.HandshakeError`` for what the acceptor closes the socket on, a short read or a stall.
        """
        if self.handshake is HandshakeForm.VERSIONED:
            return await wire.read_handshake(reader, timeout)
        try:
            async with asyncio.timeout(timeout):
                return await self._read_handshake_34(reader)
        except TimeoutError:
            raise wire.HandshakeError(f"peer sent no complete handshake within {timeout:g} s") from None
        except asyncio.IncompleteReadError as exc:
            raise wire.HandshakeError(f"peer closed the connection inside a {self.name} handshake "
                                      f"({len(exc.partial)} bytes of a field)") from None

    async def _read_handshake_34(self, reader: asyncio.StreamReader) -> wire.Handshake:
        head = await reader.readexactly(8)
        if not self.accepts_versioned_handshake:  # 3.4.0-3.4.5: any int64 is the sid
            return self.read_handshake_as(head)[0]
        if _INT64.unpack(head)[0] >= 0:
            return self.read_handshake_as(head)[0]
        body = await reader.readexactly(12)
        (length,) = _INT32.unpack_from(body, 8)
        address = await reader.readexactly(length) if length > 0 else b""
        return self.read_handshake_as(head + body + address)[0]

    # ------------------------------------------------------------------------------------------- helpers

    def _parse_34(self, payload: bytes) -> Notification:
        # FastLeaderElection.Messenger.WorkerReceiver.run of 3.4.x
        size = len(payload)
        if size < _V0.size:
            raise wire.NotificationFormatError(f"peer sent a short notification: {size} bytes (at least 28)")
        state, leader, zxid, election_epoch = _V0.unpack_from(payload, 0)
        if size == _V0.size:
            return Notification(state, leader, zxid, election_epoch, zxid >> 32, 0)
        if size < _V34.size:
            raise ReceiverThreadDeath(
                f"peer sent a {size}-byte notification: a {self.name} receiver thread dies on 29..35 bytes")
        (peer_epoch,) = _INT64.unpack_from(payload, _V0.size)
        version = 0
        if self.notification_version > 0 and size >= _V346.size:  # "Version added in 3.4.6"
            (version,) = _INT32.unpack_from(payload, _V34.size)
        return Notification(state, leader, zxid, election_epoch, peer_epoch, version)


def _read_handshake_346(data: bytes) -> tuple[wire.Handshake, bytes]:
    # QuorumCnxManager.receiveConnection of 3.4.6+ (ZOOKEEPER-1633)
    if len(data) < 8:
        raise ValueError("an initiation message needs 8 bytes")
    (first,) = _INT64.unpack_from(data)
    if first >= 0:
        return wire.Handshake(None, first), data[8:]
    if len(data) < 20:
        raise ValueError("a versioned initiation message needs 20 bytes")
    sid, length = struct.unpack_from(">qi", data, 8)
    if length < 0:
        raise wire.HandshakeError(f"peer sid {sid} sent a negative address length {length}")
    if len(data) < 20 + length:
        raise ValueError("the initiation message is not complete")
    return wire.Handshake(first, sid), data[20 + length :]


def _pack(layout: struct.Struct, *values: int) -> bytes:
    try:
        return layout.pack(*values)
    except struct.error as exc:
        raise ValueError(f"a field does not fit its Java type: {exc}") from None


ZK_3_4_0 = WireProfile("3.4.0-3.4.5", (3, 4, 0), HandshakeForm.SID_ONLY, _V34.size, 0, PACKET_MAX_SIZE_34,
                       accepts_versioned_handshake=False)
ZK_3_4_6 = WireProfile("3.4.6-3.4.x", (3, 4, 6), HandshakeForm.SID_ONLY, _V346.size, NOTIFICATION_VERSION_34,
                       PACKET_MAX_SIZE_34, accepts_versioned_handshake=True)
ZK_3_5_0 = WireProfile("3.5.0+", (3, 5, 0), HandshakeForm.VERSIONED, wire.NotificationLayout.CURRENT.value,
                       wire.CURRENT_VERSION, wire.PACKET_MAX_SIZE, accepts_versioned_handshake=True)
PROFILES: dict[str, WireProfile] = {p.name: p for p in (ZK_3_4_0, ZK_3_4_6, ZK_3_5_0)}


def profile_for_version(version: tuple[int, int, int]) -> WireProfile:
    """The wire profile of release ``version`` (major, minor, micro); 3.3 and older are not supported."""
    if version < ZK_3_4_0.first:
        text = ".".join(map(str, version))
        raise UserInputError(f"ZooKeeper {text} is older than 3.4.0: its election wire protocol (28-byte "
                             "notifications) has no zkfle profile")
    if version < ZK_3_4_6.first:
        return ZK_3_4_0
    if version < ZK_3_5_0.first:
        return ZK_3_4_6
    return ZK_3_5_0


def profile_named(name: str) -> WireProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise UserInputError(f"unknown wire profile {name!r}; valid: {', '.join(PROFILES)}") from None


__all__ = [
    "PACKET_MAX_SIZE_34",
    "PROFILES",
    "ZK_3_4_0",
    "ZK_3_4_6",
    "ZK_3_5_0",
    "HandshakeForm",
    "ReceiverThreadDeath",
    "WireProfile",
    "profile_for_version",
    "profile_named",
]
