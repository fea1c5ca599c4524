"""Real servers of several releases, through their wire profiles and the behaviour probes.

- ZooKeeper 3.4.3 (``ZKFLE_ZK343_HOME`` = an unpacked 3.4.3 release; skipped without it):
  - a 3-server ensemble started with ``ReleaseServer`` elects one leader;
  - a Python peer playing the other sids exchanges 36-byte notifications with one real server: its log shows
    ours, and its replies decode with the 3.4.0-3.4.5 profile and NOT with 3.8.0's codec;
  - the real server dials a smaller sid the test plays with an 8-byte handshake and a 36-byte vote, and hears
    the answer sent back on that connection;
  - a 3.5-style handshake is refused;
  - ``QuorumCnxManager``s in the 3.4.0-3.4.5 profile (the conformance harness's transport) exchange votes
    with it both ways; the twin, managers speaking 3.8.0's wire, is not heard and cannot read its replies;
  - ``identify`` sees ZK-1419, ZK-1514, ZK-1732 and ZK-3537 and finds only the zookeeper-3.4.3 profile
    consistent.
- Debian's 3.8.0 (``zookeeper`` mark, so CI runs it) is the twin: the same probes see the four fixes, and
  only zookeeper-3.8.0 is consistent with it (ZK-3537 tells it from the 3.4.6 and 3.5.0 lines).
- Any other unpacked releases listed in ``ZKFLE_ZOOKEEPER_HOMES`` (``os.pathsep``-separated) must elect, and
  ``identify`` must find their behaviour consistent with the profile their version maps to.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from zkfle.conformance.versions import (
    ProbePeer,
    ReleaseServer,
    ZooKeeperRelease,
    find_release,
    identify,
)
from zkfle.conformance.zkserver import loopback_servers
from zkfle.impl import wire
from zkfle.impl.events import LOOKING, Notification
from zkfle.impl.transport import QuorumCnxManager
from zkfle.impl.wire_profiles import ZK_3_4_0, ZK_3_5_0, WireProfile

ZK343_ENV = "ZKFLE_ZK343_HOME"
HOMES_ENV = "ZKFLE_ZOOKEEPER_HOMES"
DEBIAN = Path("/usr/share/java")

needs_343 = pytest.mark.skipif(
    not os.environ.get(ZK343_ENV),
    reason=f"set {ZK343_ENV} to an unpacked ZooKeeper 3.4.3 release (docs/versions.md)",
)
OTHER_HOMES = [h for h in os.environ.get(HOMES_ENV, "").split(os.pathsep) if h]


@pytest.fixture(scope="module")
def zk343() -> ZooKeeperRelease:
    release = find_release(os.environ[ZK343_ENV])
    assert release.version.triple == (3, 4, 3), f"{ZK343_ENV} points at {release.version}, not 3.4.3"
    return release


@pytest.fixture
def cleanup() -> Iterator[list[ReleaseServer | ProbePeer]]:
    things: list[ReleaseServer | ProbePeer] = []
    yield things
    for thing in reversed(things):
        if isinstance(thing, ProbePeer):
            thing.close()
        else:
            thing.stop()


def _elects(release: ZooKeeperRelease, workdir: Path, cleanup: list[ReleaseServer | ProbePeer]) -> list[str]:
    servers = loopback_servers([1, 2, 3])
    members = [ReleaseServer(sid, workdir, servers, release) for sid in (1, 2, 3)]
    cleanup += members
    for member in members:
        member.start()
    modes = sorted(m.wait_for_mode(timeout=60) for m in members)
    assert members[0].srvr()["Zookeeper version"].startswith(str(release.version))
    assert any(n.sid == 2 for n in members[0].notifications())  # its log lines parse
    return modes


def _server_1(release: ZooKeeperRelease, workdir: Path, cleanup: list[ReleaseServer | ProbePeer]
              ) -> tuple[ReleaseServer, dict[int, int]]:
    servers = loopback_servers([1, 2, 3])
    server = ReleaseServer(1, workdir, servers, release, tick_time=2000, init_limit=5, sync_limit=2)
    cleanup.append(server)
    server.start()
    server.wait_for_log("New election", timeout=60)
    return server, {sid: spec.election_port for sid, spec in servers.items()}


# ----------------------------------------------------------------------------------------------- 3.4.3


@pytest.mark.zookeeper
@needs_343
def test_343_ensemble_elects_one_leader(zk343: ZooKeeperRelease, tmp_path: Path,
                                        cleanup: list[ReleaseServer | ProbePeer]) -> None:
    assert _elects(zk343, tmp_path, cleanup) == ["follower", "follower", "leader"]


@pytest.mark.zookeeper
@needs_343
def test_343_exchanges_36_byte_notifications(zk343: ZooKeeperRelease, tmp_path: Path,
                                             cleanup: list[ReleaseServer | ProbePeer]) -> None:
    server, ports = _server_1(zk343, tmp_path, cleanup)
    peer = ProbePeer(zk343.wire_profile, 2, ports[1], ports[2])
    cleanup.append(peer)
    peer.send(LOOKING, 3, 0, 1, 0)
    server.wait_for_log(r"Notification: 3 \(n\.leader\), 0x0 \(n\.zxid\), 0x1 \(n\.round\), LOOKING "
                        r"\(n\.state\), 2 \(n\.sid\)", timeout=30)
    deadline = time.monotonic() + 30
    while not any(n.leader == 3 for n in peer.received()) and time.monotonic() < deadline:
        assert peer.pump(0.2), "the 3.4.3 server closed a connection opened with a sid-only handshake"
    assert {len(p) for p in peer.payloads} == {36}
    assert any((n.leader, n.election_epoch, n.peer_epoch) == (3, 1, 0) for n in peer.received())
    for payload in peer.payloads:  # twin: 3.8.0's codec cannot read what 3.4.3 writes
        with pytest.raises(wire.NotificationFormatError):
            wire.decode_notification(payload)


@pytest.mark.zookeeper
@needs_343
def test_343_dials_lower_sids_with_a_sid_only_handshake(zk343: ZooKeeperRelease, tmp_path: Path,
                                                         cleanup: list[ReleaseServer | ProbePeer]) -> None:
    servers = loopback_servers([1, 2, 3])
    listener = socket.create_server(("127.0.0.1", servers[1].election_port))  # the test plays sid 1
    server = ReleaseServer(3, tmp_path, servers, zk343)
    cleanup.append(server)
    try:
        listener.settimeout(30)
        server.start()
        conn, _ = listener.accept()  # server 3 dials the smaller sid 1 and keeps the connection
        with conn:
            conn.settimeout(30)
            data = b""
            while len(data) < 8 + 4 + 36:
                chunk = conn.recv(4096)
                assert chunk, f"server 3 closed the connection after {data.hex()}"
                data += chunk
            handshake, rest = zk343.wire_profile.read_handshake_as(data)
            assert (handshake.sid, handshake.legacy) == (3, True) and data[:8].hex() == "0000000000000003"
            frames = wire.FrameReader().feed(rest)
            vote = zk343.wire_profile.decode_notification(frames[0])  # exactly 36 bytes
            assert (vote.state, vote.leader, vote.election_epoch, vote.peer_epoch) == (LOOKING, 3, 1, 0)
            profile = zk343.wire_profile  # and the answer goes back on the same connection
            answer = profile.encode_notification(Notification(LOOKING, 3, 0, 1, 0, version=0))
            conn.sendall(profile.encode_frame(answer))
            server.wait_for_log(r"Notification: 3 \(n\.leader\), .*LOOKING \(n\.state\), 1 \(n\.sid\)",
                                timeout=30)
    finally:
        listener.close()


@pytest.mark.zookeeper
@needs_343
def test_343_refuses_a_versioned_handshake(zk343: ZooKeeperRelease, tmp_path: Path,
                                           cleanup: list[ReleaseServer | ProbePeer]) -> None:
    server, ports = _server_1(zk343, tmp_path, cleanup)
    sock = socket.create_connection(("127.0.0.1", ports[1]), timeout=10)
    try:  # the 3.5+ form: 3.4.3 reads -65536 as a sid smaller than its own and drops the connection
        frame = ZK_3_4_0.encode_frame(ZK_3_4_0.encode_notification(Notification(LOOKING, 3, 0, 1, 0)))
        sock.sendall(wire.encode_handshake(2, f"127.0.0.1:{ports[2]}") + frame)
        sock.settimeout(20)
        try:
            while sock.recv(4096):
                pass
        except ConnectionResetError:
            pass  # a reset is the close it is
        except TimeoutError:
            pytest.fail("the 3.4.3 server kept a connection opened with a 3.5-style handshake")
    finally:
        sock.close()
    assert not any(n.sid == 2 for n in server.notifications())


@pytest.mark.zookeeper
@needs_343
def test_343_identifies_as_3_4_3(zk343: ZooKeeperRelease, tmp_path: Path) -> None:
    ident = identify(zk343, tmp_path)
    assert [(o.jira, o.fixed) for o in ident.observations] == [
        ("ZK-1419", False), ("ZK-1514", False), ("ZK-1732", False), ("ZK-3537", False)]
    assert ident.consistent_profiles == ("zookeeper-3.4.3",) and ident.as_expected
    assert "(3, 0)" in ident.observations[0].evidence
    assert "moved to round 2" in ident.observations[3].evidence


# ------------------------------------------------------------------------------------- 3.8.0, the twin


@pytest.mark.zookeeper
def test_380_identifies_as_fixed(tmp_path: Path) -> None:
    ident = identify(find_release(DEBIAN), tmp_path)
    assert [(o.jira, o.fixed) for o in ident.observations] == [
        ("ZK-1419", True), ("ZK-1514", True), ("ZK-1732", True), ("ZK-3537", True)]
    assert ident.as_expected and ident.expected_profile == "zookeeper-3.8.0"
    assert "never (3, 0)" in ident.observations[0].evidence
    assert "followed 3" in ident.observations[3].evidence
    # ZK-3537 (fixed in 3.6.0) sets it apart from the 3.4.6 and 3.5.0 lines too
    assert ident.consistent_profiles == ("zookeeper-3.8.0",)


# ------------------------------------------------------------------------------------ any other release


@pytest.mark.zookeeper
@pytest.mark.parametrize("home", OTHER_HOMES or [pytest.param("", marks=pytest.mark.skip(
    reason=f"set {HOMES_ENV} to unpacked releases (docs/versions.md)"))])
def test_release_elects_and_behaves_as_its_profile(home: str, tmp_path: Path,
                                                   cleanup: list[ReleaseServer | ProbePeer]) -> None:
    release = find_release(home)
    assert _elects(release, tmp_path / "ensemble", cleanup) == ["follower", "follower", "leader"]
    ident = identify(release, tmp_path / "identify")
    assert ident.as_expected, ident.table()


# ------------------------------------------------------------------------- the harness's transport in 3.4


Received = dict[int, list[bytes]]


async def _qcm_exchange(release: ZooKeeperRelease, workdir: Path, profile: WireProfile | None,
                        cleanup: list[ReleaseServer | ProbePeer],
                        heard: set[int]) -> tuple[ReleaseServer, Received]:
    """Real server 2 of {1, 2, 3}; ``QuorumCnxManager``s play 1 (dialled by the server) and 3 (dials it),
    in ``profile``. Both send a LOOKING vote for 3; returns what each received from server 2 once the
    server logged the votes of ``heard`` (or after 10 s), and 1 s more."""
    servers = loopback_servers([1, 2, 3])
    got: dict[int, list[bytes]] = {1: [], 3: []}
    qcms = {sid: QuorumCnxManager(sid, servers, wire_profile=profile,
                                  on_receive=lambda src, payload, sid=sid: got[sid].append(payload))
            for sid in (1, 3)}
    server = ReleaseServer(2, workdir, servers, release, tick_time=2000, init_limit=5, sync_limit=2)
    cleanup.append(server)
    speak = profile or ZK_3_5_0
    vote = speak.encode_notification(Notification(LOOKING, 3, 0, 1, 0, version=speak.notification_version))
    try:
        for qcm in qcms.values():
            await qcm.start()
        server.start()
        deadline = time.monotonic() + 30
        while not server.notifications():  # its own loop-back: the election runs
            assert time.monotonic() < deadline, "server 2 never started its election"
            await asyncio.sleep(0.05)
        for qcm in qcms.values():
            qcm.to_send(2, vote)
        deadline = time.monotonic() + 10
        while not heard <= {n.sid for n in server.notifications()} and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # the replies, and anything else that would still come
    finally:
        for qcm in qcms.values():
            await qcm.stop()
    return server, got


@pytest.mark.zookeeper
@needs_343
def test_343_talks_with_quorum_cnx_managers_in_its_profile(zk343: ZooKeeperRelease, tmp_path: Path,
                                                           cleanup: list[ReleaseServer | ProbePeer]) -> None:
    server, got = asyncio.run(_qcm_exchange(zk343, tmp_path / "profiled", zk343.wire_profile, cleanup,
                                                 {1, 2, 3}))
    assert {n.sid for n in server.notifications()} >= {1, 3}  # it heard both played servers
    for sid in (1, 3):
        assert got[sid], f"played server {sid} received nothing from the 3.4.3 server"
        votes = [zk343.wire_profile.decode_notification(p) for p in got[sid]]  # exactly 36 bytes each
        assert any((n.leader, n.election_epoch) == (3, 1) for n in votes)


@pytest.mark.zookeeper
@needs_343
def test_343_closes_on_a_3_8_0_quorum_cnx_manager(zk343: ZooKeeperRelease, tmp_path: Path,
                                                  cleanup: list[ReleaseServer | ProbePeer]) -> None:
    # the twin: the same exchange with 3.8.0's wire: 3.4.3 drops sid 3's versioned handshake, and what it
    # sends sid 1 (which 3.8.0's acceptor does take) is 36 bytes that 3.8.0's decoder refuses
    server, got = asyncio.run(_qcm_exchange(zk343, tmp_path / "unprofiled", None, cleanup, {1, 2}))
    assert 3 not in {n.sid for n in server.notifications()}
    assert not got[3]
    assert got[1]
    for payload in got[1]:
        with pytest.raises(wire.NotificationFormatError):
            wire.decode_notification(payload)
