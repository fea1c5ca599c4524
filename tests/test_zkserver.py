"""The ZooKeeper 3.8.0 launcher, and wire-level interop of zkfle's codec and transport with a real server.

JVM starts are few: one 3-server ensemble (first start, then the leader's crash) and one single server talking
to two QuorumCnxManagers.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from zkfle.conformance.zkserver import (
    NOT_SERVING,
    LoggedNotification,
    ZooKeeperEnsemble,
    ZooKeeperServer,
    check_installed,
    free_ports,
    loopback_servers,
    parse_notification_line,
)
from zkfle.errors import TargetUnavailable
from zkfle.impl.events import LOOKING, Notification
from zkfle.impl.transport import QuorumCnxManager
from zkfle.impl.wire import (
    NotificationFormatError,
    NotificationLayout,
    decode_notification,
    encode_notification,
)
from zkfle.zoocfg import ZooCfg, load_zoo_cfg, read_myid

SAMPLE = (
    "2024-01-01 00:00:00,000 [myid:1] - INFO  "
    "[WorkerReceiver[myid=1]:FastLeaderElection$Messenger$WorkerReceiver@391] - "
    "Notification: my state:LOOKING; n.sid:2, n.state:LOOKING, n.leader:3, n.round:0x1, "
    "n.peerEpoch:0xffffffffffffffff, n.zxid:0x100000002, message format version:0x2, n.config version:0x0"
)


# ------------------------------------------------------------------------------------- without a JVM


def test_notification_lines_parse_as_java_longs() -> None:
    assert parse_notification_line(SAMPLE) == LoggedNotification(
        my_state="LOOKING", sid=2, state="LOOKING", leader=3, round=1, peer_epoch=-1, zxid=0x100000002,
        version=2, config_version=0,
    )
    assert parse_notification_line("... - INFO [main:QuorumPeer@1455] - LOOKING") is None
    assert parse_notification_line(SAMPLE.replace("n.round:0x1", "n.round:1")) is None


def test_files_follow_the_reference_and_parse_with_the_shared_parser(tmp_path: Path) -> None:
    servers = loopback_servers([1, 2], observers=[3])
    zk = ZooKeeperServer(2, tmp_path, servers, tick_time=500, extra_config={"cnxTimeout": "1000"})
    cfg = load_zoo_cfg(zk.write_files())
    assert cfg.servers == servers
    assert cfg.tick_time == 500 and cfg.client_port == zk.client_port
    assert cfg.client_port_address == "127.0.0.1"
    assert cfg.extra["4lw.commands.whitelist"] == "*" and cfg.extra["admin.enableServer"] == "false"
    assert cfg.extra["cnxTimeout"] == "1000"
    assert read_myid(Path(cfg.data_dir or "")) == 2
    log4j = (zk.dir / "conf" / "log4j.properties").read_text()
    assert "%C{1}@%L" in log4j and "CONSOLE" in log4j
    command = zk.command()
    class_path = command[command.index("-cp") + 1].split(":")
    assert class_path[0] == str(zk.dir / "conf")
    assert [Path(p).name for p in class_path[1:]] == ["zookeeper.jar", "slf4j-log4j12.jar", "log4j-1.2.jar",
                                                      "servlet-api.jar"]
    assert "-XX:-UsePerfData" in command and f"-Djava.io.tmpdir={zk.dir / 'tmp'}" in command
    with_admin = ZooKeeperServer(1, tmp_path, ZooCfg(servers=servers), admin_port=free_ports(1)[0])
    assert "admin.serverAddress=127.0.0.1" in with_admin.zoo_cfg_text()


def test_missing_zookeeper_or_java_is_target_unavailable(tmp_path: Path) -> None:
    servers = loopback_servers([1])
    no_jar = ZooKeeperServer(1, tmp_path, servers, jar=tmp_path / "zookeeper.jar")
    with pytest.raises(TargetUnavailable, match="apt-get install zookeeper") as info:
        no_jar.start()
    assert info.value.exit_code == 3 and not no_jar.running
    with pytest.raises(TargetUnavailable, match="no 'no-such-java' executable"):
        check_installed(java="no-such-java")
    with pytest.raises(ValueError, match=r"server\.4"):
        ZooKeeperServer(4, tmp_path, servers)


# ------------------------------------------------------------------------------- a real 3-server ensemble


@pytest.mark.zookeeper
def test_a_real_ensemble_elects_server_3_and_re_elects_after_its_crash(tmp_path: Path) -> None:
    ens = ZooKeeperEnsemble(tmp_path, [1, 2, 3])
    try:
        # 3 first (alone it has no quorum: LOOKING, not serving), then 1: together they elect 3; 2 joins it
        ens[3].start()
        ens[3].wait_for_log(r"New election\. My id = 3")
        assert ens[3].mode() == NOT_SERVING
        ens[1].start()
        ens[3].wait_for_mode({"leader"}, 60)
        ens[2].start()
        assert ens.wait_for_leader(60) == 3
        assert ens[3].srvr()["Mode"] == "leader"
        assert ens[1].srvr()["Mode"] == "follower" and ens[2].srvr()["Mode"] == "follower"
        heard = {n.sid for n in ens[3].notifications() if n.state == "LOOKING"}
        assert heard >= {1, 3}  # its own loop-back and server 1's vote
        # the leader crashes: 2, the larger survivor, takes over
        before = len(ens[2].log_lines())
        ens[3].kill9()
        ens[2].wait_for_log(r"LEADING - LEADER ELECTION TOOK", 60, start=before)
        assert ens[2].wait_for_mode({"leader"}, 30) == "leader"
        assert ens[1].wait_for_mode({"follower"}, 30) == "follower"
    finally:
        ens.stop()
    assert not any(server.running for server in ens.members.values())


# ------------------------------------------------------------------------- wire-level interop with one


@pytest.mark.zookeeper
def test_a_real_server_and_two_quorum_cnx_managers_understand_each_other(tmp_path: Path) -> None:
    servers = loopback_servers([1, 2, 3])
    expected_config = ZooCfg(servers=servers).wire_config_text().encode()
    got: dict[int, list[bytes]] = {2: [], 3: []}

    async def go() -> None:
        qcms = {
            sid: QuorumCnxManager(sid, servers, on_receive=recorder(got[sid]),
                                  log=logging.getLogger(f"test.interop.{sid}"))
            for sid in (2, 3)
        }
        for qcm in qcms.values():
            await qcm.start()
        try:
            with ZooKeeperServer(1, tmp_path, servers) as zk:
                # server 1 (smaller sid) dials us, drops, and we dial back; it then sends its vote
                await wait_until(lambda: bool(got[2]) and bool(got[3]))
                first = decode_notification(got[2][0])
                assert (first.state, first.leader, first.zxid, first.election_epoch) == (LOOKING, 1, 0, 1)
                assert (first.version, first.config) == (2, expected_config)

                vote3 = Notification(LOOKING, 3, 0, 1, 0)
                for qcm in qcms.values():
                    qcm.to_send(1, encode_notification(vote3))
                for sid in (2, 3):
                    await in_log(zk, rf"n\.sid:{sid}, n\.state:LOOKING, n\.leader:3, n\.round:0x1, .*0x2")
                # it adopts vote (3, 0) and tells us so
                await wait_until(lambda: any(decode_notification(b).leader == 3 for b in got[2]))
                for payload in got[2] + got[3]:
                    decode_notification(payload)  # every reply decodes

                # the codec's verdicts agree with the server's on the same bytes
                mark = len(zk.log_lines())
                for payload, zk_says, version in verdict_cases():
                    if version is None:
                        with pytest.raises(NotificationFormatError):
                            decode_notification(payload)
                    else:
                        assert decode_notification(payload).version == version
                    await send_and_see(qcms[2], zk, payload, zk_says)
                # a dropped notification does not close the connection, on either side
                assert not any("Connection broken for id 2" in line for line in zk.log_lines()[mark:])
                assert 1 in qcms[2].connected()
        finally:
            for qcm in qcms.values():
                await qcm.stop()

    asyncio.run(asyncio.wait_for(go(), 120))


def verdict_cases() -> list[tuple[bytes, str, int | None]]:
    """(payload from sid 2, what ZooKeeper 3.8.0 logs for it, the version decoded or None for a drop).

    Each payload has its own length or zxid, so each log line can only come from that payload."""
    head = struct.Struct(">iqqqqii")

    def vote(zxid: int, layout: NotificationLayout = NotificationLayout.CURRENT, version: int = 2) -> bytes:
        return encode_notification(Notification(LOOKING, 3, zxid, 1, 0, version), layout)

    def dropped(length: int) -> str:
        return rf"malformed response message sent by sid=2 \(message length: {length}\)"

    def logged(zxid: int, version: int) -> str:
        return rf"n\.sid:2, n\.state:LOOKING, n\.leader:3,.*n\.zxid:0x{zxid:x}, .*format version:0x{version},"

    return [
        (vote(0x50)[:27], r"short response from server 2: 27", None),
        (vote(0x50)[:29], dropped(29), None),
        (vote(0x50)[:39], dropped(39), None),
        (vote(0x50)[:43], dropped(43), None),  # version 2 but no room for configLength
        (head.pack(LOOKING, 3, 0x50, 1, 0, 2, -1) + b"abc", dropped(47), None),
        (head.pack(LOOKING, 3, 0x50, 1, 0, 2, 49) + b"abcd", dropped(48), None),  # configLength > length
        (head.pack(LOOKING, 3, 0x50, 1, 0, 2, 10) + b"abcdef", dropped(50), None),  # fewer bytes than L
        (vote(0x51, NotificationLayout.V0), logged(0x51, 0), 0),
        (vote(0x52, NotificationLayout.V1), logged(0x52, 0), 0),  # 40 bytes: the version is not read
        (vote(0x53, version=1), logged(0x53, 1), 1),  # 44 bytes, version 1: no config read
        (vote(0x54) + b"xyz", logged(0x54, 2), 2),  # trailing bytes ignored
    ]


async def wait_until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)


async def in_log(zk: ZooKeeperServer, pattern: str, start: int = 0) -> None:
    regex = re.compile(pattern)
    await wait_until(lambda: any(regex.search(line) for line in zk.log_lines()[start:]))


async def send_and_see(qcm: QuorumCnxManager, zk: ZooKeeperServer, payload: bytes, pattern: str) -> int:
    """Send payload to server 1 and wait for the log line it causes; return the log length before."""
    start = len(zk.log_lines())
    qcm.to_send(1, payload)
    await in_log(zk, pattern, start)
    return start


def recorder(into: list[bytes]) -> Callable[[int, bytes], None]:
    """An on_receive that keeps what server 1 sends."""

    def on_receive(sid: int, payload: bytes) -> None:
        if sid == 1:
            into.append(payload)

    return on_receive


@pytest.mark.zookeeper
def test_a_server_left_running_dies_with_the_python_process(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from zkfle.conformance.zkserver import ZooKeeperServer, loopback_servers\n"
        "zk = ZooKeeperServer(1, sys.argv[1], loopback_servers([1]))\n"
        "zk.start()\n"
        "zk.wait_for_log('zookeeper.snapshot|binding to port|accepting', 60)\n"
        "print(zk.pid)\n"  # and exit without stop(): the atexit hook must kill it
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True,
                          timeout=120, check=True)
    pid = int(done.stdout.strip())
    try:
        os.kill(pid, 0)  # signal 0: does the process still exist?
    except ProcessLookupError:
        return
    os.kill(pid, signal.SIGKILL)  # do not leak it, then fail
    pytest.fail(f"the JVM {pid} outlived the Python process that started it")
