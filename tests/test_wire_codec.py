"""The election wire codec against the byte layouts of ZooKeeper 3.8.0 (reference §2)."""

from __future__ import annotations

import asyncio
import struct
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkfle.impl.events import Notification
from zkfle.impl.wire import (
    PACKET_MAX_SIZE,
    PROTOCOL_VERSION_V1,
    PROTOCOL_VERSION_V2,
    FrameError,
    FrameReader,
    Handshake,
    HandshakeError,
    HandshakeReader,
    NotificationFormatError,
    NotificationLayout,
    UnknownStateError,
    WireError,
    check_frame_length,
    decode_notification,
    encode_frame,
    encode_handshake,
    encode_legacy_handshake,
    encode_notification,
    read_frame,
    read_handshake,
)
from zkfle.zoocfg import parse_zoo_cfg

INT64 = st.integers(-(2**63), 2**63 - 1)
INT32 = st.integers(-(2**31), 2**31 - 1)
STATES = st.integers(0, 3)
NO_DEADLINE = settings(deadline=None)  # a loaded 2-core CI machine must not turn slowness into failures

# The [verified] bytes of §2.1 and §2.3 of the reference.
VERIFIED_HANDSHAKE = bytes.fromhex(
    "ffffffffffff0000" "0000000000000001" "0000000f" "3132372e302e302e313a3338383831"
)
VERIFIED_CONFIG = (
    b"server.1=127.0.0.1:28881:38881:participant\nserver.2=127.0.0.1:28882:38882:participant\n"
    b"server.3=127.0.0.1:28883:38883:participant\nversion=0"
)


# ------------------------------------------------------------------------------------------------ handshake


def test_handshake_matches_the_verified_bytes_of_server_1() -> None:
    assert encode_handshake(1, "127.0.0.1:38881") == VERIFIED_HANDSHAKE
    expected = Handshake(PROTOCOL_VERSION_V1, 1, (("127.0.0.1", 38881),))
    assert HandshakeReader().feed(VERIFIED_HANDSHAKE) == expected


def test_handshake_v2_carries_several_addresses_and_drops_wildcards() -> None:
    raw = encode_handshake(7, "127.0.0.1:1|[::1]:2|0.0.0.0:3", version=PROTOCOL_VERSION_V2)
    assert raw[:8] == bytes.fromhex("ffffffffffff0001")
    hs = HandshakeReader().feed(raw)
    assert hs == Handshake(PROTOCOL_VERSION_V2, 7, (("127.0.0.1", 1), ("::1", 2)))


def test_legacy_handshake_is_the_sid_alone_and_what_follows_is_a_frame() -> None:
    reader = HandshakeReader()
    hs = reader.feed(encode_legacy_handshake(5) + encode_frame(b"x"))
    assert hs is not None and hs.legacy and hs.sid == 5 and hs.addresses == ()
    assert FrameReader().feed(reader.rest) == [b"x"]
    assert HandshakeReader().feed(encode_legacy_handshake(0)) == Handshake(None, 0)  # a sid, not a version


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (struct.pack(">q", -1) + struct.pack(">qi", 1, 3) + b"a:1", "unrecognized protocol version"),
        (struct.pack(">qqi", PROTOCOL_VERSION_V1, 1, 0), "unreasonable address length 0"),
        (struct.pack(">qqi", PROTOCOL_VERSION_V1, 1, 2049), "unreasonable address length 2049"),
        (struct.pack(">qqi", PROTOCOL_VERSION_V1, 1, -5), "unreasonable address length -5"),
        (struct.pack(">qqi", PROTOCOL_VERSION_V1, 1, 9) + b"127.0.0.1", "no port number"),
        (struct.pack(">qqi", PROTOCOL_VERSION_V1, 1, 5) + b"a:b:c", "badly formed"),
        (struct.pack(">qqi", PROTOCOL_VERSION_V1, 1, 3) + b"a:x", "bad port number"),
        (struct.pack(">qqi", PROTOCOL_VERSION_V1, 1, 6) + b"[::1]2", "badly formed"),
    ],
)
def test_bad_handshakes_are_rejected(raw: bytes, problem: str) -> None:
    with pytest.raises(HandshakeError, match=problem):
        HandshakeReader().feed(raw)


def test_address_length_bounds_are_inclusive() -> None:
    # the twin of the rejection above: 1 and 2048 bytes are accepted
    longest = "h" * (2048 - len(":1")) + ":1"
    hs = HandshakeReader().feed(encode_handshake(2, longest))
    assert hs is not None and hs.addresses == (("h" * 2046, 1),)
    with pytest.raises(ValueError, match=r"1\.\.2048"):
        encode_handshake(2, longest + "1")
    with pytest.raises(ValueError, match="protocol version"):
        encode_handshake(2, "a:1", version=-1)


@NO_DEADLINE
@given(sid=INT64, host=st.from_regex(r"[a-z0-9.]{1,30}", fullmatch=True), port=st.integers(0, 65535),
       cut=st.integers(0, 200), tail=st.binary(max_size=20))
def test_handshake_round_trips_however_it_is_split(
    sid: int, host: str, port: int, cut: int, tail: bytes
) -> None:
    raw = encode_handshake(sid, f"{host}:{port}") + tail
    reader = HandshakeReader()
    cut = min(cut, len(raw))
    first = reader.feed(raw[:cut])
    hs = first if first is not None else reader.feed(raw[cut:])
    if first is not None:
        reader.feed(raw[cut:])
    assert hs == Handshake(PROTOCOL_VERSION_V1, sid, ((host, port),))
    assert reader.rest == tail


@NO_DEADLINE
@given(st.lists(st.binary(max_size=64), max_size=6))
def test_arbitrary_bytes_never_break_the_handshake_reader(chunks: list[bytes]) -> None:
    reader = HandshakeReader()
    try:
        for chunk in chunks:
            reader.feed(chunk)
    except WireError:
        pass


def _stream(data: bytes, *, eof: bool) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    if eof:
        reader.feed_eof()
    return reader


def test_read_handshake_reads_exactly_the_handshake() -> None:
    async def go() -> tuple[Handshake, bytes | None]:
        reader = _stream(VERIFIED_HANDSHAKE + encode_frame(b"abc"), eof=True)
        hs = await read_handshake(reader, 1.0)
        return hs, await read_frame(reader)

    hs, payload = asyncio.run(go())
    assert hs.sid == 1 and payload == b"abc"


def test_read_handshake_gives_up_on_a_stall_and_on_a_short_stream() -> None:
    async def go(data: bytes, eof: bool) -> None:
        await read_handshake(_stream(data, eof=eof), 0.05)

    with pytest.raises(HandshakeError, match="no complete handshake"):
        asyncio.run(go(VERIFIED_HANDSHAKE[:25], False))
    with pytest.raises(HandshakeError, match="after 25 bytes"):
        asyncio.run(go(VERIFIED_HANDSHAKE[:25], True))


# --------------------------------------------------------------------------------------------------- frames


def test_frame_layout_and_length_bounds() -> None:
    assert encode_frame(b"\x01\x02") == b"\x00\x00\x00\x02\x01\x02"
    biggest = bytes(PACKET_MAX_SIZE)
    assert FrameReader().feed(encode_frame(biggest)) == [biggest]
    for bad in (0, -1, PACKET_MAX_SIZE + 1, 2**31 - 1, -(2**31)):
        with pytest.raises(FrameError, match="invalid length"):
            FrameReader().feed(struct.pack(">i", bad))
    with pytest.raises(ValueError, match=r"1\.\.524288"):
        encode_frame(b"")
    with pytest.raises(ValueError, match=r"1\.\.524288"):
        encode_frame(bytes(PACKET_MAX_SIZE + 1))


def test_frame_max_size_is_a_parameter_both_ways() -> None:
    """3.4.x allows 1 MiB frames (``wire_profiles``); the default stays 3.8.0's 512 KiB."""
    one_mib = 1024 * 1024
    over_default = bytes(PACKET_MAX_SIZE + 1)
    assert FrameReader(one_mib).feed(encode_frame(over_default, one_mib)) == [over_default]
    assert FrameReader(one_mib).feed(encode_frame(bytes(one_mib), one_mib)) == [bytes(one_mib)]
    check_frame_length(one_mib, one_mib)
    # the twin: the same frame is too big for the default reader, and one byte more is too big for 1 MiB
    with pytest.raises(FrameError, match="invalid length 524289"):
        FrameReader().feed(encode_frame(over_default, one_mib))
    with pytest.raises(FrameError, match=r"invalid length 1048577 \(1\.\.1048576\)"):
        check_frame_length(one_mib + 1, one_mib)
    with pytest.raises(ValueError, match=r"1\.\.1048576"):
        encode_frame(bytes(one_mib + 1), one_mib)

    async def go(data: bytes, max_size: int) -> bytes | None:
        return await asyncio.wait_for(read_frame(_stream(data, eof=False), max_size), 5)

    framed = encode_frame(over_default, one_mib)
    assert asyncio.run(go(framed, one_mib)) == over_default
    with pytest.raises(FrameError, match="invalid length 524289"):
        asyncio.run(go(framed, PACKET_MAX_SIZE))


def test_a_huge_length_never_allocates() -> None:
    tracemalloc.start()
    try:
        reader = FrameReader()
        with pytest.raises(FrameError):
            reader.feed(b"\x7f\xff\xff\xff" + bytes(100))
        with pytest.raises(NotificationFormatError):
            decode_notification(struct.pack(">iqqqqii", 0, 1, 0, 1, 0, 2, 2**31 - 1) + b"x")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024


def test_read_frame_rejects_a_huge_length_without_waiting_for_its_payload() -> None:
    async def go(data: bytes) -> bytes | None:
        # no EOF: a reader that tried to read the payload would wait; wait_for turns that into a failure
        return await asyncio.wait_for(read_frame(_stream(data, eof=False)), 5)

    with pytest.raises(FrameError, match="invalid length 524289"):
        asyncio.run(go(struct.pack(">i", PACKET_MAX_SIZE + 1)))
    assert asyncio.run(go(encode_frame(b"ok"))) == b"ok"


def test_read_frame_end_of_stream() -> None:
    async def go(data: bytes) -> bytes | None:
        return await read_frame(_stream(data, eof=True))

    assert asyncio.run(go(b"")) is None
    with pytest.raises(FrameError, match="inside a frame length"):
        asyncio.run(go(b"\x00\x00"))
    with pytest.raises(FrameError, match="after 1 of 5 payload bytes"):
        asyncio.run(go(b"\x00\x00\x00\x05x"))


@NO_DEADLINE
@given(st.lists(st.binary(min_size=1, max_size=300), max_size=8), st.lists(st.integers(1, 400), max_size=20))
def test_frames_round_trip_whatever_the_chunking(payloads: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(encode_frame(p) for p in payloads)
    reader = FrameReader()
    got: list[bytes] = []
    pos = 0
    for cut in cuts:
        got += reader.feed(stream[pos : pos + cut])
        pos += cut
    got += reader.feed(stream[pos:])
    assert got == payloads
    assert reader.pending == 0


@NO_DEADLINE
@given(st.lists(st.binary(max_size=64), max_size=8))
def test_arbitrary_bytes_never_break_the_frame_reader(chunks: list[bytes]) -> None:
    reader = FrameReader()
    try:
        for chunk in chunks:
            for payload in reader.feed(chunk):
                assert 1 <= len(payload) <= PACKET_MAX_SIZE
    except FrameError:
        pass


# --------------------------------------------------------------------------------------------- notifications


def test_the_138_byte_config_and_the_182_byte_notification() -> None:
    cfg = parse_zoo_cfg("\n".join(f"server.{i}=127.0.0.1:2888{i}:3888{i}" for i in (1, 2, 3)))
    config = cfg.wire_config_text().encode()
    assert config == VERIFIED_CONFIG and len(config) == 138
    n = Notification(0, 3, 0, 1, 0, 2, config)
    raw = encode_notification(n)
    assert len(raw) == 182
    assert raw[:44] == bytes.fromhex(
        "00000000" "0000000000000003" "0000000000000000" "0000000000000001"
        "0000000000000000" "00000002" "0000008a"
    )
    assert decode_notification(raw) == n


def test_v0_and_40_byte_formats() -> None:
    zxid = 0x0000000500000007
    v0 = struct.pack(">iqqq", 1, 3, zxid, 9)
    assert encode_notification(Notification(1, 3, zxid, 9, 0), NotificationLayout.V0) == v0
    assert decode_notification(v0) == Notification(1, 3, zxid, 9, 5, 0, b"")
    # a negative zxid: Java's >> is arithmetic
    assert decode_notification(struct.pack(">iqqq", 0, 1, -1, 1)).peer_epoch == -1
    v1 = struct.pack(">iqqqqi", 2, 3, zxid, 9, 4, 1)
    assert encode_notification(Notification(2, 3, zxid, 9, 4), NotificationLayout.V1) == v1
    assert decode_notification(v1) == Notification(2, 3, zxid, 9, 4, 0, b"")  # the version int is not read


@pytest.mark.parametrize("size", [0, 1, 27, *range(29, 40)])
def test_short_and_partial_notifications_are_dropped(size: int) -> None:
    full = struct.pack(">iqqqqii", 0, 1, 0, 1, 0, 2, 0)
    with pytest.raises(NotificationFormatError):
        decode_notification(full[:size])


@pytest.mark.parametrize("size", [41, 42, 43, 44, 60])
def test_version_one_or_less_reads_no_config(size: int) -> None:
    raw = (struct.pack(">iqqqqii", 0, 1, 0, 1, 0, 1, -7) + bytes(20))[:size]
    assert decode_notification(raw) == Notification(0, 1, 0, 1, 0, 1, b"")


@pytest.mark.parametrize("size", [41, 42, 43])
def test_version_two_without_room_for_config_length_is_dropped(size: int) -> None:
    raw = struct.pack(">iqqqqii", 0, 1, 0, 1, 0, 2, 0)[:size]
    with pytest.raises(NotificationFormatError):
        decode_notification(raw)


def test_config_length_rules() -> None:
    head = struct.Struct(">iqqqqii")
    with pytest.raises(NotificationFormatError, match="configLength -1"):
        decode_notification(head.pack(0, 1, 0, 1, 0, 2, -1) + b"abc")
    with pytest.raises(NotificationFormatError, match="configLength 48"):
        decode_notification(head.pack(0, 1, 0, 1, 0, 2, 48) + b"abcd")  # > length
    with pytest.raises(NotificationFormatError, match="only 4 bytes follow"):
        decode_notification(head.pack(0, 1, 0, 1, 0, 2, 5) + b"abcd")  # <= length but short
    # the twins: an exact and an over-long payload decode, trailing bytes ignored
    assert decode_notification(head.pack(0, 1, 0, 1, 0, 2, 4) + b"abcd").config == b"abcd"
    assert decode_notification(head.pack(0, 1, 0, 1, 0, 2, 2) + b"abcd").config == b"ab"
    assert decode_notification(head.pack(0, 1, 0, 1, 0, 2, 0)).config == b""


@pytest.mark.parametrize("state", [-1, 4, 2**31 - 1])
def test_unknown_state_codes_are_dropped(state: int) -> None:
    raw = encode_notification(Notification(state, 1, 0, 1, 0))
    with pytest.raises(UnknownStateError) as info:
        decode_notification(raw)
    assert info.value.notification.state == state


@NO_DEADLINE
@given(STATES, INT64, INT64, INT64, INT64, st.integers(2, 2**31 - 1), st.binary(max_size=300))
def test_current_format_round_trips(state: int, leader: int, zxid: int, epoch: int, peer_epoch: int,
                                    version: int, config: bytes) -> None:
    n = Notification(state, leader, zxid, epoch, peer_epoch, version, config)
    raw = encode_notification(n)
    assert len(raw) == 44 + len(config)
    assert decode_notification(raw) == n


@NO_DEADLINE
@given(STATES, INT64, INT64, INT64, INT64, st.integers(-(2**31), 1), st.binary(max_size=50))
def test_version_one_or_less_round_trips_without_config(state: int, leader: int, zxid: int, epoch: int,
                                                        peer_epoch: int, version: int, config: bytes) -> None:
    raw = encode_notification(Notification(state, leader, zxid, epoch, peer_epoch, version, config))
    assert decode_notification(raw) == Notification(state, leader, zxid, epoch, peer_epoch, version, b"")


@NO_DEADLINE
@given(STATES, INT64, INT64, INT64, INT64)
def test_old_formats_round_trip(state: int, leader: int, zxid: int, epoch: int, peer_epoch: int) -> None:
    n = Notification(state, leader, zxid, epoch, peer_epoch, 2, b"ignored")
    assert decode_notification(encode_notification(n, NotificationLayout.V1)) == Notification(
        state, leader, zxid, epoch, peer_epoch, 0, b""
    )
    assert decode_notification(encode_notification(n, NotificationLayout.V0)) == Notification(
        state, leader, zxid, epoch, zxid >> 32, 0, b""
    )


def test_encoders_refuse_values_outside_java_types() -> None:
    with pytest.raises(ValueError, match="Java type"):
        encode_notification(Notification(0, 2**63, 0, 1, 0))
    with pytest.raises(ValueError, match="Java type"):
        encode_notification(Notification(0, 1, 0, 1, 0, 2**31))
    with pytest.raises(ValueError, match="sid >= 0"):
        encode_legacy_handshake(-1)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_decode_or_raise_only_format_errors(payload: bytes) -> None:
    try:
        n = decode_notification(payload)
    except NotificationFormatError:
        return
    assert 0 <= n.state <= 3
    assert len(payload) == 28 or len(payload) >= 40


@NO_DEADLINE
@given(st.binary(min_size=44, max_size=120), INT32)
def test_arbitrary_config_lengths_never_raise_anything_else(payload: bytes, length: int) -> None:
    raw = struct.pack(">iqqqqii", 0, 1, 0, 1, 0, 2, length) + payload[44:]
    try:
        n = decode_notification(raw)
    except NotificationFormatError:
        assert length < 0 or 44 + length > len(raw)
    else:
        assert len(n.config) == length
