"""Real servers of two releases through their wire profiles.

Against ZooKeeper 3.4.3 (``ZKFLE_ZK343_HOME`` = an unpacked 3.4.3 release; skipped without it): a 3-server
ensemble started with ``ReleaseServer`` elects; a Python peer playing the other sids exchanges 36-byte
notifications with one real server (its log shows ours, its replies decode with the 3.4.0-3.4.5 profile
and NOT with 3.8.0's codec, and a 3.5-style handshake is refused). The vote-order probe shows ZK-1419:
3.4.3 abandons a vote with a higher peerEpoch for one with a higher sid; its twin, the same probe against
Debian's 3.8.0 (``zookeeper`` mark), never does.
"""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from zkfle.conformance.versions import ReleaseServer, ZooKeeperRelease, find_release
from zkfle.conformance.zkserver import loopback_servers
from zkfle.impl import wire
from zkfle.impl.events import LOOKING, Notification
from zkfle.impl.wire_profiles import ZK_3_4_0, WireProfile

ZK343_ENV = "ZKFLE_ZK343_HOME"
DEBIAN = Path("/usr/share/java")
DECIDED = r" - (FOLLOWING|LEADING)\s*$"  # QuorumPeer.run, in 3.4.3 and 3.8.0 alike

needs_343 = pytest.mark.skipif(
    not os.environ.get(ZK343_ENV),
    reason=f"set {ZK343_ENV} to an unpacked ZooKeeper 3.4.3 release (docs/versions.md)",
)


@pytest.fixture(scope="module")
def zk343() -> ZooKeeperRelease:
    release = find_release(os.environ[ZK343_ENV])
    assert release.version.triple == (3, 4, 3), f"{ZK343_ENV} points at {release.version}, not 3.4.3"
    return release


class Peer:
    """One sid the test plays: it dials the real server (a larger sid dials a smaller one) and speaks
    ``profile`` both ways. Received payloads are kept raw so a test can decode them with any codec."""

    def __init__(self, profile: WireProfile, sid: int, server_port: int, my_port: int) -> None:
        self.profile = profile
        self.sid = sid
        self.sock = socket.create_connection(("127.0.0.1", server_port), timeout=10)
        self.sock.sendall(profile.encode_handshake(sid, f"127.0.0.1:{my_port}"))
        self.frames = wire.FrameReader()
        self.payloads: list[bytes] = []

    def send(self, leader: int, zxid: int, rnd: int, peer_epoch: int) -> None:
        n = Notification(LOOKING, leader, zxid, rnd, peer_epoch, version=self.profile.notification_version)
        self.sock.sendall(self.profile.encode_frame(self.profile.encode_notification(n)))

    def pump(self, wait: float) -> bool:
        """Read what arrived within ``wait`` seconds; False once the server closed the connection."""
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return True
        if not data:
            return False
        self.payloads += self.frames.feed(data)
        return True

    def received(self) -> list[Notification]:
        return [self.profile.decode_notification(p) for p in self.payloads]

    def close(self) -> None:
        self.sock.close()


Ports = dict[int, int]


def _one_server(release: ZooKeeperRelease, workdir: Path, voters: int) -> tuple[ReleaseServer, Ports]:
    servers = loopback_servers(range(1, voters + 1))
    server = ReleaseServer(1, workdir, servers, release, tick_time=2000, init_limit=5, sync_limit=2)
    return server, {sid: spec.election_port for sid, spec in servers.items()}


def _peers(profile: WireProfile, ports: dict[int, int], sids: list[int]) -> dict[int, Peer]:
    return {sid: Peer(profile, sid, ports[1], ports[sid]) for sid in sids}


@pytest.fixture
def cleanup() -> Iterator[list[object]]:
    things: list[object] = []
    yield things
    for thing in reversed(things):
        if isinstance(thing, Peer):
            thing.close()
        elif isinstance(thing, ReleaseServer):
            thing.stop()


# ----------------------------------------------------------------------------------------------- 3.4.3


@pytest.mark.zookeeper
@needs_343
def test_343_ensemble_elects_one_leader(zk343: ZooKeeperRelease, tmp_path: Path,
                                        cleanup: list[object]) -> None:
    servers = loopback_servers([1, 2, 3])
    members = [ReleaseServer(sid, tmp_path, servers, zk343) for sid in (1, 2, 3)]
    cleanup += members
    for member in members:
        member.start()
    modes = sorted(m.wait_for_mode(timeout=60) for m in members)
    assert modes == ["follower", "follower", "leader"]
    assert members[0].srvr()["Zookeeper version"].startswith("3.4.3")
    assert any(n.sid == 2 and n.my_state == "LOOKING" for n in members[0].notifications())


@pytest.mark.zookeeper
@needs_343
def test_343_exchanges_36_byte_notifications(zk343: ZooKeeperRelease, tmp_path: Path,
                                             cleanup: list[object]) -> None:
    server, ports = _one_server(zk343, tmp_path, 3)
    cleanup.append(server)
    server.start()
    server.wait_for_log("New election", timeout=60)
    peers = _peers(zk343.wire_profile, ports, [2, 3])
    cleanup += peers.values()
    peers[2].send(leader=3, zxid=0, rnd=1, peer_epoch=0)
    m = server.wait_for_log(r"Notification: 3 \(n\.leader\), 0x0 \(n\.zxid\), 0x1 \(n\.round\), LOOKING "
                            r"\(n\.state\), 2 \(n\.sid\)", timeout=30)
    assert m is not None
    deadline = time.monotonic() + 30
    while not any(n.leader == 3 for n in peers[2].received()) and time.monotonic() < deadline:
        assert peers[2].pump(0.2), "the 3.4.3 server closed a connection opened with a sid-only handshake"
    replies = peers[2].received()  # strict: every payload is exactly 36 bytes
    assert {len(p) for p in peers[2].payloads} == {36}
    assert any((n.leader, n.election_epoch, n.peer_epoch) == (3, 1, 0) for n in replies)
    for payload in peers[2].payloads:  # twin: 3.8.0's codec cannot read what 3.4.3 writes
        with pytest.raises(wire.NotificationFormatError):
            wire.decode_notification(payload)


@pytest.mark.zookeeper
@needs_343
def test_343_refuses_a_versioned_handshake(zk343: ZooKeeperRelease, tmp_path: Path,
                                           cleanup: list[object]) -> None:
    server, ports = _one_server(zk343, tmp_path, 3)
    cleanup.append(server)
    server.start()
    server.wait_for_log("New election", timeout=60)
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


# -------------------------------------------------------------------------------- the vote-order probe


def probe_vote_order(release: ZooKeeperRelease, workdir: Path,
                     cleanup: list[object]) -> list[tuple[int, int]]:
    """The (leader, peerEpoch) proposals a fresh server 1 of a 5-voter ensemble broadcasts while the test
    plays sids 2..5, all at zxid 0 in round 1: sid 2 votes (2, epoch 1); once server 1 proposes it, sid 3
    votes (3, epoch 0), and once that is logged (so queued first) sids 4 and 5 vote (2, epoch 1). Epoch
    outranks sid, so a correct server never proposes 3; ZK-1419's predicate lets sid 3 win (same zxid,
    larger sid). Stops when 3 is proposed or the server decides (1, 2, 4 and 5 agree on 2)."""
    server, ports = _one_server(release, workdir, 5)
    cleanup.append(server)
    server.start()
    server.wait_for_log("New election", timeout=60)
    peers = _peers(release.wire_profile, ports, [2, 3, 4, 5])
    cleanup += peers.values()
    peers[2].send(leader=2, zxid=0, rnd=1, peer_epoch=1)
    deadline = time.monotonic() + 30
    while not any(n.leader == 2 for n in peers[2].received()):
        assert time.monotonic() < deadline, f"server 1 never proposed 2: {peers[2].received()}"
        assert peers[2].pump(0.2)
    peers[3].send(leader=3, zxid=0, rnd=1, peer_epoch=0)
    while not any(n.sid == 3 and n.leader == 3 for n in server.notifications()):  # queued before 4's and 5's
        assert time.monotonic() < deadline, "server 1 never logged sid 3's notification"
        time.sleep(0.05)
    peers[4].send(leader=2, zxid=0, rnd=1, peer_epoch=1)
    peers[5].send(leader=2, zxid=0, rnd=1, peer_epoch=1)
    decided_at: float | None = None
    while True:
        assert time.monotonic() < deadline, f"no decision and no vote for 3: {peers[2].received()}"
        peers[2].pump(0.1)
        proposals = [(n.leader, n.peer_epoch) for n in peers[2].received() if n.state == LOOKING]
        if (3, 0) in proposals:
            return proposals
        if decided_at is None and any(_decided(line) for line in server.log_lines()):
            decided_at = time.monotonic()
        if decided_at is not None and time.monotonic() - decided_at > 1.0:  # drain what was sent before
            return proposals


def _decided(line: str) -> bool:
    return re.search(DECIDED, line) is not None


@pytest.mark.zookeeper
@needs_343
def test_343_epoch_does_not_outrank_sid(zk343: ZooKeeperRelease, tmp_path: Path,
                                        cleanup: list[object]) -> None:
    proposals = probe_vote_order(zk343, tmp_path, cleanup)
    assert (2, 1) in proposals and (3, 0) in proposals
    assert proposals.index((2, 1)) < proposals.index((3, 0))  # it gave up a higher epoch for a higher sid


@pytest.mark.zookeeper
def test_380_epoch_outranks_sid(tmp_path: Path, cleanup: list[object]) -> None:
    proposals = probe_vote_order(find_release(DEBIAN), tmp_path, cleanup)
    assert (2, 1) in proposals
    assert (3, 0) not in proposals
