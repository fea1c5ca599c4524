"""The live harness's release dialects, without servers (the real runs are in test_versions_flip.py).

- ``LogWatcher`` for a 3.4.3 release reads 3.4.3's own log lines (copied from a run of the real server):
  the 3.4 ``Notification:`` form, ``New election. My id =  2`` with two spaces, and the bare state lines of
  ``QuorumPeer.run``. The twin, the 3.8.0 watcher, finds no notification and no state in the same lines,
  and a 3.9.0 watcher reads 3.8.0's ``Peer state changed`` lines, not the bare ones (no state twice).
- A ``Lane`` for a 3.4.3 release, over loopback sockets with the test playing the SUT: its played server
  dials with the sid alone, sends 36-byte notifications and decodes the SUT's strictly in that profile (a
  44-byte one is malformed); for Debian's jar (named as a release) it is the 3.8.0 harness, and a release
  is refused for the ``node`` target.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from zkfle.conformance.live import Lane, LogWatcher, sut_release
from zkfle.conformance.versions import ZooKeeperRelease, find_release, parse_version
from zkfle.conformance.zkserver import ZK_JAR
from zkfle.impl import wire
from zkfle.impl.events import Notification
from zkfle.impl.wire_profiles import ZK_3_4_0
from zkfle.model.vote import FOLLOWING, LOOKING

LOG_343 = """\
2026-11-27 11:58:05,390 [myid:2] - INFO  [QuorumPeer[myid=2]/127.0.0.1:42803:QuorumPeer@670] - LOOKING
2026-11-27 11:58:05,393 [myid:2] - INFO  [QuorumPeer[myid=2]/127.0.0.1:42803:FastLeaderElection@730] - \
New election. My id =  2, proposed zxid=0x0
2026-11-27 11:58:05,409 [myid:2] - INFO  [WorkerReceiver[myid=2]:FastLeaderElection@542] - Notification: \
2 (n.leader), 0x0 (n.zxid), 0x1 (n.round), LOOKING (n.state), 2 (n.sid), 0x0 (n.peerEPoch), LOOKING (my state)
2026-11-27 11:58:05,616 [myid:2] - INFO  [WorkerReceiver[myid=2]:FastLeaderElection@542] - Notification: \
1 (n.leader), 0x0 (n.zxid), 0x1 (n.round), LOOKING (n.state), 1 (n.sid), 0x1 (n.peerEPoch), LOOKING (my state)
2026-11-27 11:58:05,851 [myid:2] - INFO  [QuorumPeer[myid=2]/127.0.0.1:42803:QuorumPeer@738] - FOLLOWING
"""
LOG_39 = """\
2026-11-27 09:39:03,161 [myid:2] - INFO  [QuorumPeer@906] - Peer state changed: following
2026-11-27 09:39:03,170 [myid:2] - INFO  [QuorumPeer[myid=2]:QuorumPeer@1554] - FOLLOWING
"""


def _release(version: str) -> ZooKeeperRelease:
    # a value only: nothing here starts it
    return ZooKeeperRelease(Path(f"zookeeper-{version}.jar"), (), parse_version(version), "3.4", "log4j")


def _lines(text: str, tmp_path: Path, release: ZooKeeperRelease | None) -> LogWatcher:
    log = tmp_path / "sut.log"
    log.write_text(text, encoding="utf-8")
    watcher = LogWatcher(log, release)
    watcher.poll()
    return watcher


def test_a_3_4_3_log_is_read_in_its_own_dialect(tmp_path: Path) -> None:
    w = _lines(LOG_343, tmp_path, _release("3.4.3"))
    assert [(x.state, x.new_election, x.sid, x.body) for x in w.lines] == [
        (LOOKING, False, 0, None),
        (None, True, 0, None),
        (None, False, 2, (LOOKING, 2, 0, 1, 0)),
        (None, False, 1, (LOOKING, 1, 0, 1, 1)),
        (FOLLOWING, False, 0, None),
    ]
    assert w.last_state() == FOLLOWING and w.lines[4].ms is not None
    # the twin: 3.8.0's watcher sees only the new election in the same lines (a harness waiting for it
    # would time out on every step)
    plain = _lines(LOG_343, tmp_path, None)
    assert [(x.state, x.body) for x in plain.lines] == [(None, None)]


def test_3_9_0_state_changes_are_read_once(tmp_path: Path) -> None:
    w = _lines(LOG_39, tmp_path, _release("3.9.0"))
    assert [x.state for x in w.lines] == [FOLLOWING]  # Peer state changed; the bare line is not a 2nd change
    bare = _lines(LOG_39, tmp_path, _release("3.4.3"))
    assert [x.state for x in bare.lines] == [FOLLOWING]  # the other dialect reads the other line instead
    assert bare.lines[0].ms != w.lines[0].ms


def test_a_3_4_3_lane_speaks_its_profile(tmp_path: Path) -> None:
    """Played server 1 of a 3.4.3 lane, over loopback sockets: the test plays the SUT (sid 2)."""
    lane = Lane("zookeeper", (1, 2, 3), 2, tmp_path, release=_release("3.4.3"))
    assert lane.profile is ZK_3_4_0

    async def go() -> None:
        dialled: asyncio.Queue[bytes] = asyncio.Queue()

        async def on_accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            dialled.put_nowait(await reader.read(100))  # played 1 dials the larger sid 2, says hello, closes
            writer.close()

        sut = await asyncio.start_server(on_accept, "127.0.0.1", lane.servers[2].election_port)
        await lane.qcms[1].start()
        try:
            lane._send(1, (LOOKING, 1, 0, 1, 1))
            assert await asyncio.wait_for(dialled.get(), 10) == wire.encode_legacy_handshake(1)
            reader, writer = await asyncio.open_connection("127.0.0.1", lane.servers[1].election_port)
            writer.write(wire.encode_legacy_handshake(2))  # the dial-back, as a 3.4.3 server writes it
            frame = await asyncio.wait_for(wire.read_frame(reader), 10)
            assert frame is not None and len(frame) == 36
            assert ZK_3_4_0.decode_notification(frame) == Notification(LOOKING, 1, 0, 1, 1, 0)
            reply = Notification(LOOKING, 3, 0, 1, 0, 0)
            writer.write(wire.encode_frame(ZK_3_4_0.encode_notification(reply)))
            writer.write(wire.encode_frame(wire.encode_notification(reply)))
            async with asyncio.timeout(10):
                while not lane.boxes[1].malformed:
                    await asyncio.sleep(0.01)
            # a 36-byte reply is what a 3.4.3 SUT writes; the twin, 3.8.0's 44 bytes, is not
            assert lane.boxes[1].received == [(LOOKING, 3, 0, 1, 0)]
            assert "44-byte" in lane.boxes[1].malformed[0]
            writer.close()
        finally:
            await lane.qcms[1].stop()
            sut.close()
            await sut.wait_closed()

    asyncio.run(go())


@pytest.mark.skipif(not ZK_JAR.is_file(), reason="Debian's zookeeper.jar is not installed")
def test_debians_jar_named_as_a_release_is_the_3_8_0_harness(tmp_path: Path) -> None:
    debian = find_release(ZK_JAR.parent)
    assert sut_release("zookeeper", debian) is None
    lane = Lane("zookeeper", (1, 2, 3), 2, tmp_path, release=debian)
    assert lane.profile is None and lane.release is None
    with pytest.raises(ValueError, match="zookeeper target only"):
        sut_release("node", _release("3.4.3"))
