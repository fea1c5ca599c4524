"""The election wire codec: ZooKeeper 3.8.0's handshake, frames and notifications, byte for byte.

Rules (``QuorumCnxManager`` and ``FastLeaderElection`` of 3.8.0; all integers big-endian, signed):

- **Handshake** (``QuorumCnxManager.startConnection`` / ``InitialMessage.parse``): ``int64 protocolVersion``
  (-65536 = V1, -65535 = V2), ``int64 sid``, ``int32 addrLen`` in 1..2048, then ``addrLen`` bytes of address
  text (``host:port``, several joined by ``|`` in V2). The legacy form is one ``int64 sid >= 0`` and nothing
  else. Any other first int64, a bad length or a badly formed address is a ``HandshakeError``: the acceptor
  closes the socket.
- **Frames** (``SendWorker.send`` / ``RecvWorker.run``): ``int32 length`` in 1..524288 then the payload. Any
  other length is a ``FrameError``: the connection is closed. A length is checked before a single byte of the
  payload is buffered, so a huge length never allocates. The frame functions take ``max_size`` for a line
  with another PACKETMAXSIZE (3.4.x: 1 MiB, ``zkfle.impl.wire_profiles``); the default is 3.8.0's.
- **Notifications** (``FastLeaderElection.buildMsg`` / ``WorkerReceiver.run``), by payload length:
  28 bytes "v0" (``peerEpoch := zxid >> 32``, version 0); 29..39 dropped; 40 bytes (peerEpoch read,
  version *not* read, version 0); 41+ bytes read the version, and only a version > 1 reads
  ``int32 configLength`` and the config (``< 0`` or ``> length`` dropped, short dropped, trailing bytes
  ignored). A state code outside 0..3 is dropped. Every drop is a ``NotificationFormatError``: log it, keep
  the connection.

Theory of operation: the codec is sans-I/O. ``HandshakeReader`` and ``FrameReader`` are incremental parsers
fed whatever bytes arrived; ``read_handshake`` and ``read_frame`` are the asyncio conveniences used by
``zkfle.impl.transport``. Encoders refuse values ZooKeeper could not have sent (``ValueError``: the caller's
bug); decoders raise only this module's ``WireError`` subclasses, each saying the peer is at fault.
"""

from __future__ import annotations

import asyncio
import enum
import re
import struct
from dataclasses import dataclass

from zkfle.errors import PeerError
from zkfle.impl.events import Notification

PROTOCOL_VERSION_V1 = -65536  # QuorumCnxManager.PROTOCOL_VERSION_V1
PROTOCOL_VERSION_V2 = -65535  # QuorumCnxManager.PROTOCOL_VERSION_V2
PROTOCOL_VERSIONS = (PROTOCOL_VERSION_V1, PROTOCOL_VERSION_V2)
MAX_ADDR_LEN = 2048  # QuorumCnxManager.maxBuffer
PACKET_MAX_SIZE = 512 * 1024  # QuorumCnxManager.PACKETMAXSIZE
CURRENT_VERSION = 2  # FastLeaderElection.Notification.CURRENTVERSION
OBSERVER_ID = 2**63 - 1  # QuorumPeer.OBSERVER_ID (Long.MAX_VALUE)
STATE_NAMES = ("LOOKING", "FOLLOWING", "LEADING", "OBSERVING")  # QuorumPeer.ServerState ordinals

_INT32 = struct.Struct(">i")
_INT64 = struct.Struct(">q")
_HANDSHAKE_HEADER = struct.Struct(">qqi")  # protocolVersion, sid, addrLen
_V0 = struct.Struct(">iqqq")  # state, leader, zxid, electionEpoch: 28 bytes
_V1 = struct.Struct(">iqqqqi")  # ... peerEpoch, version: 40 bytes
_CURRENT = struct.Struct(">iqqqqii")  # ... configLength: 44 bytes
_JAVA_INT = re.compile(r"[+-]?[0-9]{1,10}")
_WILDCARDS = frozenset({"0.0.0.0", "::", "0:0:0:0:0:0:0:0"})


class WireError(PeerError):
    """A peer sent bytes that break the election wire protocol."""


class HandshakeError(WireError):
    """A bad connection-initiation message: the acceptor logs it and closes the socket."""


class FrameError(WireError):
    """A frame length outside 1..524288, or a frame cut short: the connection is closed."""


class NotificationFormatError(WireError):
    """A short or malformed notification: ZooKeeper logs one line, drops it and keeps the connection."""


class UnknownStateError(NotificationFormatError):
    """A notification whose state code is not 0..3: ZooKeeper drops it silently (``WorkerReceiver``).

    ``notification`` holds the decoded fields, for a node that answers non-voters before the state check as
    ``WorkerReceiver`` does.
    """

    def __init__(self, message: str, notification: Notification) -> None:
        super().__init__(message)
        self.notification = notification


class NotificationLayout(enum.Enum):
    """The notification layouts a 3.8.0 receiver accepts."""

    V0 = 28  # pre-3.4.6: no peerEpoch, no version
    V1 = 40  # 3.4.6+: peerEpoch and an int version 0x1 the receiver does not read
    CURRENT = 44  # 3.5+: version, configLength, config (FastLeaderElection.buildMsg)


@dataclass(frozen=True)
class Handshake:
    """A decoded connection-initiation message (``InitialMessage``)."""

    protocol_version: int | None  # None for the legacy sid-only form
    sid: int
    addresses: tuple[tuple[str, int], ...] = ()  # wildcard hosts dropped, as InitialMessage.parse does

    @property
    def legacy(self) -> bool:
        return self.protocol_version is None


# ----------------------------------------------------------------------------------------------- handshake


def encode_handshake(sid: int, addrs: str, version: int = PROTOCOL_VERSION_V1) -> bytes:
    """``QuorumCnxManager.startConnection``: the whole initiation message, to be written in ONE write."""
    if version not in PROTOCOL_VERSIONS:
        raise ValueError(f"protocol version must be {PROTOCOL_VERSIONS}, got {version}")
    raw = addrs.encode("utf-8")
    if not 1 <= len(raw) <= MAX_ADDR_LEN:
        raise ValueError(f"the address text must be 1..{MAX_ADDR_LEN} bytes, got {len(raw)}")
    return _pack(_HANDSHAKE_HEADER, version, sid, len(raw)) + raw


def encode_legacy_handshake(sid: int) -> bytes:
    """The pre-3.5 initiation message: the sid alone (must be >= 0)."""
    if sid < 0:
        raise ValueError(f"a legacy handshake carries a sid >= 0, got {sid}")
    return _pack(_INT64, sid)


def parse_addresses(text: str, sid: int) -> tuple[tuple[str, int], ...]:
    """``InitialMessage.parse``: ``h1:p1|h2:p2``; IPv6 in brackets; wildcard hosts dropped."""
    out: list[tuple[str, int]] = []
    entries = text.split("|")
    while entries and not entries[-1]:  # Java's String.split drops trailing empty strings
        entries.pop()
    for entry in entries:
        host, port = _host_port(entry, sid)
        if host not in _WILDCARDS:
            out.append((host, port))
    return tuple(out)


def _host_port(entry: str, sid: int) -> tuple[str, int]:
    # ConfigUtils.getHostAndPort, then the checks of InitialMessage.parse
    if entry.startswith("["):
        end = entry.find("]")
        if end < 0 or entry[end + 1 : end + 2] != ":":
            raise HandshakeError(f"peer sid {sid} sent a badly formed address: {entry!r}")
        host, port_text = entry[1:end], entry[end + 2 :]
    else:
        parts = entry.split(":")
        if len(parts) != 2:
            what = "no port number in" if len(parts) == 1 else "a badly formed address"
            raise HandshakeError(f"peer sid {sid} sent {what}: {entry!r}")
        host, port_text = parts
    if _JAVA_INT.fullmatch(port_text) is None:  # Integer.parseInt
        raise HandshakeError(f"peer sid {sid} sent a bad port number in {entry!r}")
    port = int(port_text)
    if not host or not 0 <= port <= 65535:
        raise HandshakeError(f"peer sid {sid} sent a badly formed address: {entry!r}")
    return host, port


def _check_version(version: int) -> None:
    if version not in PROTOCOL_VERSIONS:
        raise HandshakeError(f"peer sent an unrecognized protocol version {version} in its handshake")


def _check_addr_len(length: int, sid: int) -> None:
    if not 0 < length <= MAX_ADDR_LEN:
        raise HandshakeError(f"peer sid {sid} sent an unreasonable address length {length} (1..2048)")


def _finish_handshake(version: int, sid: int, raw: bytes) -> Handshake:
    text = raw.decode("utf-8", errors="replace")
    return Handshake(version, sid, parse_addresses(text, sid))


class HandshakeReader:
    """Incremental handshake parser: ``feed`` bytes until it returns a ``Handshake``; ``rest`` holds the bytes
    that followed it (the first frames)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.rest = b""
        self.result: Handshake | None = None

    def feed(self, data: bytes) -> Handshake | None:
        if self.result is not None:
            self.rest += data
            return self.result
        self._buf += data
        self.result = self._try_parse()
        return self.result

    def _try_parse(self) -> Handshake | None:
        buf = self._buf
        if len(buf) < 8:
            return None
        (first,) = _INT64.unpack_from(buf, 0)
        if first >= 0:  # legacy: the sid and nothing else
            self.rest = bytes(buf[8:])
            return Handshake(None, first)
        _check_version(first)
        if len(buf) < _HANDSHAKE_HEADER.size:
            return None
        _, sid, length = _HANDSHAKE_HEADER.unpack_from(buf, 0)
        _check_addr_len(length, sid)
        end = _HANDSHAKE_HEADER.size + length
        if len(buf) < end:
            return None
        self.rest = bytes(buf[end:])
        return _finish_handshake(first, sid, bytes(buf[_HANDSHAKE_HEADER.size : end]))


async def read_handshake(reader: asyncio.StreamReader, timeout: float) -> Handshake:
    """Read one initiation message within ``timeout`` seconds (the acceptor's ``SO_TIMEOUT``).

    Raises ``HandshakeError`` for bad bytes, a short read or a stall.
    """
    got = 0

    async def take(count: int) -> bytes:
        nonlocal got
        data = await reader.readexactly(count)
        got += count
        return data

    try:
        async with asyncio.timeout(timeout):
            (first,) = _INT64.unpack(await take(8))
            if first >= 0:
                return Handshake(None, first)
            _check_version(first)
            sid, length = struct.unpack(">qi", await take(12))
            _check_addr_len(length, sid)
            return _finish_handshake(first, sid, await take(length))
    except TimeoutError:
        raise HandshakeError(f"peer sent no complete handshake within {timeout:g} s") from None
    except asyncio.IncompleteReadError as exc:
        got += len(exc.partial)
        raise HandshakeError(f"peer closed the connection after {got} bytes of a handshake") from None


# -------------------------------------------------------------------------------------------------- frames


def check_frame_length(length: int, max_size: int = PACKET_MAX_SIZE) -> int:
    """``RecvWorker.run``: a frame length must be 1..PACKETMAXSIZE, otherwise the connection is closed.

    ``max_size`` is the receiving line's PACKETMAXSIZE: 512 KiB for 3.8.0 (the default), 1 MiB for 3.4.x
    (``zkfle.impl.wire_profiles``).
    """
    if length <= 0 or length > max_size:
        raise FrameError(f"peer sent a frame with invalid length {length} (1..{max_size})")
    return length


def encode_frame(payload: bytes, max_size: int = PACKET_MAX_SIZE) -> bytes:
    """``SendWorker.send``: ``int32 length`` then the payload (1..``max_size`` bytes)."""
    if not 0 < len(payload) <= max_size:
        raise ValueError(f"a frame payload must be 1..{max_size} bytes, got {len(payload)}")
    return _INT32.pack(len(payload)) + payload


class FrameReader:
    """Incremental frame parser: ``feed`` returns the complete payloads so far; a bad length raises
    ``FrameError`` at once (before any of its payload is buffered). Holds at most one frame plus one fed
    chunk. ``max_size`` is the largest payload accepted (PACKETMAXSIZE of the line being spoken)."""

    def __init__(self, max_size: int = PACKET_MAX_SIZE) -> None:
        self._buf = bytearray()
        self._need: int | None = None
        self.max_size = max_size

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out: list[bytes] = []
        while True:
            if self._need is None:
                if len(self._buf) < 4:
                    return out
                (length,) = _INT32.unpack_from(self._buf, 0)
                self._need = check_frame_length(length, self.max_size)
                del self._buf[:4]
            if len(self._buf) < self._need:
                return out
            out.append(bytes(self._buf[: self._need]))
            del self._buf[: self._need]
            self._need = None

    @property
    def pending(self) -> int:
        """Bytes received of a frame not yet complete."""
        return len(self._buf) + (4 if self._need is not None else 0)


async def read_frame(reader: asyncio.StreamReader, max_size: int = PACKET_MAX_SIZE) -> bytes | None:
    """One frame's payload; ``None`` on a clean end of stream between frames; ``FrameError`` otherwise."""
    try:
        header = await reader.readexactly(4)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        got = len(exc.partial)
        raise FrameError(f"peer closed the connection inside a frame length ({got} of 4 bytes)") from None
    length = check_frame_length(_INT32.unpack(header)[0], max_size)
    try:
        return await reader.readexactly(length)
    except asyncio.IncompleteReadError as exc:
        got = len(exc.partial)
        raise FrameError(f"peer closed the connection after {got} of {length} payload bytes") from None


# ------------------------------------------------------------------------------------------- notifications


def encode_notification(n: Notification, layout: NotificationLayout = NotificationLayout.CURRENT) -> bytes:
    """``FastLeaderElection.buildMsg``. CURRENT writes ``version`` and, always, ``configLength`` + config
    (a receiver reads the config only when version > 1). V1 writes the int 0x1 the 3.4.6+ builder wrote;
    V0 has no peerEpoch (the receiver derives it from the zxid)."""
    if layout is NotificationLayout.V0:
        return _pack(_V0, n.state, n.leader, n.zxid, n.election_epoch)
    if layout is NotificationLayout.V1:
        return _pack(_V1, n.state, n.leader, n.zxid, n.election_epoch, n.peer_epoch, 1)
    fields = (n.state, n.leader, n.zxid, n.election_epoch, n.peer_epoch, n.version, len(n.config))
    return _pack(_CURRENT, *fields) + n.config


def decode_notification(payload: bytes) -> Notification:
    """``WorkerReceiver.run``: parse one frame's payload as a 3.8.0 receiver does.

    Raises ``NotificationFormatError`` (or ``UnknownStateError``) for what ZooKeeper drops.
    """
    size = len(payload)
    if size < _V0.size:
        raise NotificationFormatError(f"peer sent a short notification: {size} bytes (at least 28)")
    state, leader, zxid, election_epoch = _V0.unpack_from(payload, 0)
    version = 0
    config = b""
    if size == _V0.size:
        peer_epoch = zxid >> 32  # ZxidUtils.getEpochFromZxid
    else:
        if size < _V1.size:
            raise NotificationFormatError(f"peer sent a partial notification: {size} bytes (29..39 drop)")
        (peer_epoch,) = _INT64.unpack_from(payload, _V0.size)
        if size > _V1.size:
            (version,) = _INT32.unpack_from(payload, _V1.size - 4)
        if version > 1:
            config = _read_config(payload)
    n = Notification(state, leader, zxid, election_epoch, peer_epoch, version, config)
    if not 0 <= state < len(STATE_NAMES):
        raise UnknownStateError(f"peer sent a notification with unknown state code {state}", n)
    return n


def _read_config(payload: bytes) -> bytes:
    size = len(payload)
    if size < _CURRENT.size:
        raise NotificationFormatError(f"peer sent a version>1 notification of {size} bytes: no configLength")
    (length,) = _INT32.unpack_from(payload, _CURRENT.size - 4)
    if length < 0 or length > size:
        raise NotificationFormatError(f"peer sent configLength {length} in a {size}-byte notification")
    if _CURRENT.size + length > size:
        left = size - _CURRENT.size
        raise NotificationFormatError(f"peer sent configLength {length} but only {left} bytes follow")
    return bytes(payload[_CURRENT.size : _CURRENT.size + length])


def _pack(layout: struct.Struct, *values: int) -> bytes:
    try:
        return layout.pack(*values)
    except struct.error as exc:
        raise ValueError(f"a field does not fit its Java type: {exc}") from None


__all__ = [
    "CURRENT_VERSION",
    "MAX_ADDR_LEN",
    "OBSERVER_ID",
    "PACKET_MAX_SIZE",
    "PROTOCOL_VERSION_V1",
    "PROTOCOL_VERSION_V2",
    "STATE_NAMES",
    "FrameError",
    "FrameReader",
    "Handshake",
    "HandshakeError",
    "HandshakeReader",
    "NotificationFormatError",
    "NotificationLayout",
    "UnknownStateError",
    "WireError",
    "check_frame_length",
    "decode_notification",
    "encode_frame",
    "encode_handshake",
    "encode_legacy_handshake",
    "encode_notification",
    "parse_addresses",
    "read_frame",
    "read_handshake",
]
