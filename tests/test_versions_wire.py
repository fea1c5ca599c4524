"""Wire profiles byte by byte: every expected byte string is written out from the layouts (reference §2.3,
historical-bugs ZK-1419/ZK-1808, the 3.4.3 source), never produced by the code under test."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkfle.errors import UserInputError
from zkfle.impl import wire
from zkfle.impl.events import FOLLOWING, LEADING, LOOKING, Notification
from zkfle.impl.wire_profiles import (
    PROFILES,
    ZK_3_4_0,
    ZK_3_4_6,
    ZK_3_5_0,
    HandshakeForm,
    ReceiverThreadDeath,
    WireProfile,
    profile_for_version,
    profile_named,
)

# LOOKING, leader 3, zxid 0x100000002, round 7, peerEpoch 1
N = Notification(LOOKING, 3, 0x1_0000_0002, 7, 1, version=0)
HEAD = (
    "00000000"  # state LOOKING
    "0000000000000003"  # leader 3
    "0000000100000002"  # zxid
    "0000000000000007"  # electionEpoch 7
)
EPOCH = "0000000000000001"  # peerEpoch 1
BYTES_36 = bytes.fromhex(HEAD + EPOCH)
BYTES_40 = bytes.fromhex(HEAD + EPOCH + "00000001")
CONFIG = b"server.1=127.0.0.1:1:2:participant\nversion=0"
BYTES_44 = bytes.fromhex(HEAD + EPOCH + "00000002" + f"{len(CONFIG):08x}") + CONFIG


# ------------------------------------------------------------------------------------------------ encoding


def test_3_4_0_writes_36_bytes_without_version() -> None:
    assert ZK_3_4_0.encode_notification(N) == BYTES_36


def test_3_4_6_writes_40_bytes_with_version_1() -> None:
    assert ZK_3_4_6.encode_notification(N) == BYTES_40


def test_3_5_writes_44_bytes_version_2_and_config() -> None:
    n = Notification(LOOKING, 3, 0x1_0000_0002, 7, 1, version=2, config=CONFIG)
    assert ZK_3_5_0.encode_notification(n) == BYTES_44


def test_negative_fields_are_twos_complement() -> None:
    n = Notification(FOLLOWING, -1, -2, 1, -(2**63), version=0)
    expected = "00000001" + "ff" * 8 + "ff" * 7 + "fe" + "0000000000000001" + "8000000000000000"
    assert ZK_3_4_0.encode_notification(n).hex() == expected


def test_field_out_of_java_range_is_refused() -> None:
    with pytest.raises(ValueError, match="Java type"):
        ZK_3_4_0.encode_notification(Notification(LOOKING, 2**63, 0, 1, 0))


def test_sid_only_handshakes() -> None:
    assert ZK_3_4_0.encode_handshake(2) == bytes.fromhex("0000000000000002")
    assert ZK_3_4_6.encode_handshake(2, "127.0.0.1:5") == bytes.fromhex("0000000000000002")
    assert ZK_3_4_0.handshake is ZK_3_4_6.handshake is HandshakeForm.SID_ONLY


def test_versioned_handshake_carries_the_address() -> None:
    expected = bytes.fromhex("ffffffffffff0000" "0000000000000002" "0000000b") + b"127.0.0.1:5"
    assert ZK_3_5_0.encode_handshake(2, "127.0.0.1:5") == expected
    with pytest.raises(ValueError, match="address"):
        ZK_3_5_0.encode_handshake(2)


def test_frame_limits_differ_between_lines() -> None:
    big = b"x" * (600 * 1024)  # over 3.5+'s 512 KiB, under 3.4's 1 MiB
    assert ZK_3_4_0.encode_frame(big)[:4] == bytes.fromhex("00096000")
    with pytest.raises(ValueError):
        ZK_3_5_0.encode_frame(big)
    # reading: each line's reader takes what its own line may send and refuses the other's oversize frame
    assert ZK_3_4_0.frame_reader().feed(ZK_3_4_0.encode_frame(big)) == [big]
    with pytest.raises(wire.FrameError, match="invalid length 614400"):
        ZK_3_5_0.frame_reader().feed(ZK_3_4_0.encode_frame(big))


# ------------------------------------------------------------------------------------ strict decode of output


@pytest.mark.parametrize(("profile", "payload"), [(ZK_3_4_0, BYTES_36), (ZK_3_4_6, BYTES_40)])
def test_strict_decode_of_what_the_line_writes(profile: WireProfile, payload: bytes) -> None:
    n = profile.decode_notification(payload)
    assert (n.state, n.leader, n.zxid, n.election_epoch, n.peer_epoch) == (LOOKING, 3, 0x1_0000_0002, 7, 1)
    assert n.version == profile.notification_version


def test_strict_decode_3_5() -> None:
    n = ZK_3_5_0.decode_notification(BYTES_44)
    assert (n.leader, n.peer_epoch, n.version, n.config) == (3, 1, 2, CONFIG)


@pytest.mark.parametrize(
    ("profile", "payload"),
    [
        (ZK_3_4_0, BYTES_40),  # a 3.4.6+ server is not a 3.4.0-3.4.5 one
        (ZK_3_4_0, BYTES_44),
        (ZK_3_4_6, BYTES_36),
        (ZK_3_4_6, BYTES_44),
        (ZK_3_5_0, BYTES_36),
        (ZK_3_5_0, BYTES_40),
        (ZK_3_4_6, BYTES_36 + bytes.fromhex("00000002")),  # 40 bytes but version 2
    ],
)
def test_strict_decode_rejects_other_lines(profile: WireProfile, payload: bytes) -> None:
    with pytest.raises(wire.NotificationFormatError):
        profile.decode_notification(payload)


def test_strict_decode_rejects_unknown_state() -> None:
    with pytest.raises(wire.UnknownStateError):
        ZK_3_4_0.decode_notification(bytes.fromhex("00000009") + BYTES_36[4:])


# -------------------------------------------------------------------------------- how each line reads input


def test_3_4_0_receiver_reads_28_bytes_as_pre_3_4() -> None:
    n = ZK_3_4_0.receive_notification(bytes.fromhex(HEAD))
    assert n.peer_epoch == 1 and n.version == 0  # zxid 0x100000002 >> 32


def test_3_4_0_receiver_thread_dies_on_29_to_35_bytes() -> None:
    for size in (29, 32, 35):
        with pytest.raises(ReceiverThreadDeath):
            ZK_3_4_0.receive_notification(BYTES_36[:size])
    with pytest.raises(wire.NotificationFormatError, match="short"):
        ZK_3_4_0.receive_notification(BYTES_36[:27])


def test_3_4_0_receiver_ignores_version_and_config() -> None:
    for payload in (BYTES_40, BYTES_44):
        n = ZK_3_4_0.receive_notification(payload)
        assert (n.leader, n.peer_epoch, n.version, n.config) == (3, 1, 0, b"")


def test_3_4_0_receiver_takes_unknown_state_as_looking_3_4_6_drops_it() -> None:
    payload = bytes.fromhex("00000007") + BYTES_40[4:]
    assert ZK_3_4_0.receive_notification(payload).state == LOOKING
    with pytest.raises(wire.UnknownStateError):
        ZK_3_4_6.receive_notification(payload)


def test_3_4_6_receiver_reads_the_version_when_present() -> None:
    assert ZK_3_4_6.receive_notification(BYTES_40).version == 1
    assert ZK_3_4_6.receive_notification(BYTES_36).version == 0
    n = ZK_3_4_6.receive_notification(BYTES_44)
    assert n.version == 2 and n.config == b""  # a 3.4 receiver never reads a config


def test_3_5_receiver_drops_the_36_byte_form() -> None:
    # 3.8.0 reads 28, 40 and 44+ bytes; 36 bytes (3.4.0-3.4.5) underflow and are dropped
    with pytest.raises(wire.NotificationFormatError):
        ZK_3_5_0.receive_notification(BYTES_36)
    assert ZK_3_5_0.receive_notification(BYTES_40).peer_epoch == 1


def test_handshake_read_by_each_line() -> None:
    versioned = bytes.fromhex("ffffffffffff0000" "0000000000000002" "0000000b") + b"127.0.0.1:5" + b"F"
    legacy = bytes.fromhex("0000000000000002") + b"F"
    hs, rest = ZK_3_4_0.read_handshake_as(versioned)  # 3.4.3 takes the protocol version for a sid
    assert hs.sid == wire.PROTOCOL_VERSION_V1 and rest == versioned[8:]
    hs, rest = ZK_3_4_6.read_handshake_as(versioned)
    assert (hs.sid, hs.protocol_version, rest) == (2, wire.PROTOCOL_VERSION_V1, b"F")
    hs, rest = ZK_3_5_0.read_handshake_as(versioned)
    assert (hs.sid, hs.addresses, rest) == (2, (("127.0.0.1", 5),), b"F")
    for profile in PROFILES.values():
        hs, rest = profile.read_handshake_as(legacy)
        assert (hs.sid, hs.legacy, rest) == (2, True, b"F")
    with pytest.raises(ValueError):
        ZK_3_4_6.read_handshake_as(versioned[:25])


# ------------------------------------------------------------------------------------------- round trips

java_long = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@given(st.sampled_from([LOOKING, FOLLOWING, LEADING]), java_long, java_long, java_long, java_long)
def test_round_trip_every_profile(state: int, leader: int, zxid: int, rnd: int, epoch: int) -> None:
    for profile in PROFILES.values():
        version = profile.notification_version
        n = Notification(state, leader, zxid, rnd, epoch, version=version)
        payload = profile.encode_notification(n)
        assert len(payload) == profile.notification_size
        assert profile.decode_notification(payload) == n
        assert profile.receive_notification(payload) == n


# --------------------------------------------------------------------------------------- version to profile


@pytest.mark.parametrize(
    ("version", "name"),
    [((3, 4, 0), "3.4.0-3.4.5"), ((3, 4, 3), "3.4.0-3.4.5"), ((3, 4, 5), "3.4.0-3.4.5"),
     ((3, 4, 6), "3.4.6-3.4.x"), ((3, 4, 14), "3.4.6-3.4.x"), ((3, 5, 0), "3.5.0+"), ((3, 8, 0), "3.5.0+"),
     ((3, 9, 3), "3.5.0+")],
)
def test_profile_for_version(version: tuple[int, int, int], name: str) -> None:
    assert profile_for_version(version).name == name
    assert profile_named(name) is profile_for_version(version)


def test_too_old_or_unknown_profiles_are_user_errors() -> None:
    with pytest.raises(UserInputError, match=r"older than 3\.4\.0"):
        profile_for_version((3, 3, 6))
    with pytest.raises(UserInputError, match="valid"):
        profile_named("3.2")
