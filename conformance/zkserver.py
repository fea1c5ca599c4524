"""Start, stop and observe real ZooKeeper 3.8.0 servers on loopback (Debian's ``zookeeper`` package).

Rules (reference §3):

- Each server lives in ``<workdir>/s<sid>/``: ``zoo.cfg``, ``data/myid``, ``conf/log4j.properties`` (INFO to
  the console, with the ``%C{1}@%L`` field), ``tmp/`` (``java.io.tmpdir``) and ``zookeeper.log`` (the JVM's
  stdout and stderr). Nothing is written anywhere else.
- The class path adds ``slf4j-log4j12.jar``, ``log4j-1.2.jar`` and ``servlet-api.jar`` to ``zookeeper.jar``:
  without the binding the server logs nothing. The JVM runs with ``-XX:-UsePerfData`` and a small heap.
- Every socket is on 127.0.0.1: ``clientPortAddress=127.0.0.1``; the AdminServer is off unless an admin port
  is given (then it listens on 127.0.0.1 only). ``4lw.commands.whitelist=*``.
- Missing Java or ZooKeeper is ``TargetUnavailable`` (exit 3) with the install command.

Theory of operation: a ``ZooKeeperServer`` is a handle on one ``QuorumPeerMain`` process. It writes its files
on ``start()``, and observes the server from outside only, as a user would: four-letter words on the client
port (``srvr`` says ``Mode: leader|follower|observer``, or that it is not serving while LOOKING) and the log
(``Notification:`` lines, state changes). Use it as a context manager, or ``ZooKeeperEnsemble`` for several,
so every JVM is killed and waited for even when a test fails.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from zkfle.errors import TargetUnavailable
from zkfle.zoocfg import OBSERVER, PARTICIPANT, ServerSpec, ZooCfg

JAVA_LIB = Path("/usr/share/java")
ZK_JAR = JAVA_LIB / "zookeeper.jar"
EXTRA_JARS = ("slf4j-log4j12.jar", "log4j-1.2.jar", "servlet-api.jar")
MAIN_CLASS = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
INSTALL_HINT = "install ZooKeeper 3.8.0 and Java: sudo apt-get install zookeeper default-jre-headless"
JVM_FLAGS = ("-XX:-UsePerfData", "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")
NOT_SERVING = "not serving"  # srvr while LOOKING: "This ZooKeeper instance is not currently serving requests"
SERVING_MODES = frozenset({"leader", "follower", "observer", "standalone", "read-only"})

_LOG4J = """\
log4j.rootLogger=INFO, CONSOLE
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n
"""

# WorkerReceiver@391 (FastLeaderElection.java): one line per notification from a voter
_NOTIFICATION = re.compile(
    r"Notification: my state:(?P<my_state>\w+); n\.sid:(?P<sid>-?\d+), n\.state:(?P<state>\w+), "
    r"n\.leader:(?P<leader>-?\d+), n\.round:0x(?P<round>[0-9a-f]+), "
    r"n\.peerEpoch:0x(?P<peer_epoch>[0-9a-f]+), "
    r"n\.zxid:0x(?P<zxid>[0-9a-f]+), message format version:0x(?P<version>[0-9a-f]+), "
    r"n\.config version:0x(?P<config_version>[0-9a-f]+)"
)


def kill9_process(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGKILL ``proc`` (a crash) and wait for it to be gone; nothing if it is not running."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGKILL)
    proc.wait()


def stop_process(proc: subprocess.Popen[bytes] | None, timeout: float) -> None:
    """SIGTERM ``proc`` and wait ``timeout`` seconds; SIGKILL if it lingers. Idempotent."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        kill9_process(proc)


@dataclass(frozen=True)
class LoggedNotification:
    """One ``Notification:`` log line of a real server (``WorkerReceiver``); hex fields as Java longs."""

    my_state: str
    sid: int
    state: str
    leader: int
    round: int
    peer_epoch: int
    zxid: int
    version: int
    config_version: int


def _java_hex(text: str) -> int:
    """``Long.toHexString``: two's complement without sign."""
    value = int(text, 16)
    return value - (1 << 64) if value >= 1 << 63 else value


def parse_notification_line(line: str) -> LoggedNotification | None:
    """The notification a ``Notification:`` log line reports, or None for any other line."""
    m = _NOTIFICATION.search(line)
    if m is None:
        return None
    return LoggedNotification(
        my_state=m["my_state"],
        sid=int(m["sid"]),
        state=m["state"],
        leader=int(m["leader"]),
        round=_java_hex(m["round"]),
        peer_epoch=_java_hex(m["peer_epoch"]),
        zxid=_java_hex(m["zxid"]),
        version=_java_hex(m["version"]),
        config_version=_java_hex(m["config_version"]),
    )


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """``n`` distinct ports that were free a moment ago (bound to port 0 together, then released)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(n):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(sock)
            sock.bind((host, 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for sock in socks:
            sock.close()


def loopback_servers(voters: Iterable[int], observers: Iterable[int] = ()) -> dict[int, ServerSpec]:
    """``server.N`` entries on 127.0.0.1 with free quorum and election ports."""
    kinds = [(sid, PARTICIPANT) for sid in voters] + [(sid, OBSERVER) for sid in observers]
    ports = free_ports(2 * len(kinds))
    return {
        sid: ServerSpec(sid, "127.0.0.1", ports[2 * i], ports[2 * i + 1], kind)
        for i, (sid, kind) in enumerate(sorted(kinds))
    }


_LIVE: weakref.WeakSet[ZooKeeperServer] = weakref.WeakSet()


@atexit.register
def _kill_leftovers() -> None:
    for server in list(_LIVE):
        server.kill9()


def check_installed(java: str = "java", jar: Path = ZK_JAR) -> tuple[str, list[Path]]:
    """The java executable and the class path, or ``TargetUnavailable`` saying how to install them."""
    java_path = shutil.which(java)
    if java_path is None:
        raise TargetUnavailable(f"cannot run ZooKeeper: no {java!r} executable on PATH; {INSTALL_HINT}")
    if not jar.is_file():
        raise TargetUnavailable(f"cannot run ZooKeeper: {jar} is missing; {INSTALL_HINT}")
    jars = [jar, *(jar.parent / name for name in EXTRA_JARS)]
    missing = [str(p) for p in jars[1:] if not p.is_file()]
    if missing:
        names = ", ".join(missing)
        raise TargetUnavailable(f"cannot run ZooKeeper with logging: {names} missing; {INSTALL_HINT}")
    return java_path, jars


class ZooKeeperServer:
    """One real ZooKeeper 3.8.0 server (``QuorumPeerMain``) on loopback.

    The JVM stays in our process group (a Ctrl-C reaches it too), and any server still running when the
    Python process exits is killed by an ``atexit`` hook.
    """

    def __init__(
        self,
        sid: int,
        workdir: str | Path,
        servers: Mapping[int, ServerSpec] | ZooCfg,
        *,
        tick_time: int | None = None,
        init_limit: int | None = None,
        sync_limit: int | None = None,
        client_port: int | None = None,
        admin_port: int | None = None,
        extra_config: Mapping[str, str] | None = None,
        java: str = "java",
        jar: str | Path = ZK_JAR,
    ) -> None:
        cfg = servers if isinstance(servers, ZooCfg) else None
        self.servers: dict[int, ServerSpec] = dict(cfg.servers if cfg else servers)
        if sid not in self.servers:
            raise ValueError(f"server {sid} has no server.{sid} entry in the configuration it was given")
        self.sid = sid
        self.tick_time = tick_time or (cfg.tick_time if cfg else 2000)
        self.init_limit = init_limit or (cfg.init_limit if cfg and cfg.init_limit else 10)
        self.sync_limit = sync_limit or (cfg.sync_limit if cfg and cfg.sync_limit else 5)
        spec = self.servers[sid]
        self.client_port = client_port or spec.client_port or free_ports(1)[0]
        self.admin_port = admin_port
        self.extra_config = dict(extra_config or {})
        self.java = java
        self.jar = Path(jar)
        self.dir = Path(workdir).resolve() / f"s{sid}"
        self.log_path = self.dir / "zookeeper.log"
        self._proc: subprocess.Popen[bytes] | None = None

    # ---------------------------------------------------------------------------------------------- files

    def zoo_cfg_text(self) -> str:
        """The zoo.cfg this server runs with (reference §3.1)."""
        lines = [
            f"tickTime={self.tick_time}",
            f"initLimit={self.init_limit}",
            f"syncLimit={self.sync_limit}",
            f"dataDir={self.dir / 'data'}",
            f"clientPort={self.client_port}",
            "clientPortAddress=127.0.0.1",
            "4lw.commands.whitelist=*",
        ]
        if self.admin_port is None:
            lines.append("admin.enableServer=false")
        else:
            lines += ["admin.enableServer=true", "admin.serverAddress=127.0.0.1",
                      f"admin.serverPort={self.admin_port}"]
        lines += [f"{key}={value}" for key, value in self.extra_config.items()]
        for sid in sorted(self.servers):
            s = self.servers[sid]
            lines.append(f"server.{sid}={s.host}:{s.quorum_port}:{s.election_port}:{s.learner_type}")
        return "\n".join(lines) + "\n"

    def write_files(self) -> Path:
        """Write zoo.cfg, data/myid and conf/log4j.properties; return the zoo.cfg path."""
        for sub in ("data", "conf", "tmp"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        (self.dir / "data" / "myid").write_text(f"{self.sid}\n", encoding="ascii")
        (self.dir / "conf" / "log4j.properties").write_text(_LOG4J, encoding="ascii")
        cfg = self.dir / "zoo.cfg"
        cfg.write_text(self.zoo_cfg_text(), encoding="utf-8")
        return cfg

    def command(self) -> list[str]:
        """The JVM command line (reference §3.2)."""
        java, jars = check_installed(self.java, self.jar)
        class_path = os.pathsep.join([str(self.dir / "conf"), *map(str, jars)])
        return [java, *JVM_FLAGS, f"-Djava.io.tmpdir={self.dir / 'tmp'}", "-cp", class_path, MAIN_CLASS,
                str(self.dir / "zoo.cfg")]

    # ------------------------------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the JVM (returns at once; use ``wait_for_log`` or ``wait_for_mode``)."""
        if self.running:
            return
        command = self.command()
        self.write_files()
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=subprocess.STDOUT, cwd=self.dir)
        _LIVE.add(self)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, wait; SIGKILL if it lingers. Idempotent."""
        stop_process(self._proc, timeout)

    def kill9(self) -> None:
        """SIGKILL (a crash) and wait for the process to be gone."""
        kill9_process(self._proc)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def __enter__(self) -> ZooKeeperServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -------------------------------------------------------------------------------------------- observe

    def four_letter(self, word: str, timeout: float = 3.0) -> str:
        """Send a four-letter word to the client port and read the reply to EOF (``OSError`` if none)."""
        with socket.create_connection(("127.0.0.1", self.client_port), timeout=timeout) as sock:
            sock.sendall(word.encode("ascii"))
            chunks: list[bytes] = []
            while chunk := sock.recv(4096):
                chunks.append(chunk)
        return b"".join(chunks).decode("utf-8", errors="replace")

    def srvr(self) -> dict[str, str]:
        """``srvr`` as a dict (``Mode``, ``Zxid``, ...); ``{"Mode": "not serving"}`` while LOOKING."""
        text = self.four_letter("srvr")
        if "not currently serving requests" in text:
            return {"Mode": NOT_SERVING}
        out: dict[str, str] = {}
        for line in text.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                out[key.strip()] = value.strip()
        return out

    def mode(self) -> str | None:
        """``leader``, ``follower``, ``observer``, ... or ``not serving``; None when nothing answers."""
        try:
            return self.srvr().get("Mode")
        except OSError:
            return None

    def wait_for_mode(self, modes: Iterable[str] = SERVING_MODES, timeout: float = 30.0) -> str:
        """Poll ``srvr`` until the mode is one of ``modes``; return it."""
        wanted = frozenset(modes)
        deadline = time.monotonic() + timeout
        while True:
            mode = self.mode()
            if mode in wanted:
                assert mode is not None
                return mode
            self._check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"ZooKeeper server {self.sid} is in mode {mode!r}, not one of "
                                   f"{sorted(wanted)}, after {timeout:g} s; log tail:\n{self._tail()}")
            time.sleep(0.1)

    def log_lines(self) -> list[str]:
        """Every line the server has logged so far."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return []

    def wait_for_log(self, pattern: str | re.Pattern[str], timeout: float = 30.0, *,
                     start: int = 0) -> re.Match[str]:
        """Wait for a log line (from line ``start`` on) matching ``pattern``; return the match."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log_lines()[start:]:
                m = regex.search(line)
                if m is not None:
                    return m
            self._check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"ZooKeeper server {self.sid} logged no line matching {regex.pattern!r} "
                                   f"within {timeout:g} s; log tail:\n{self._tail()}")
            time.sleep(0.05)

    def notifications(self) -> list[LoggedNotification]:
        """The ``Notification:`` lines logged so far, parsed."""
        return [n for n in map(parse_notification_line, self.log_lines()) if n is not None]

    def _check_alive(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            raise TargetUnavailable(f"ZooKeeper server {self.sid} exited with code {self._proc.returncode}; "
                                    f"log tail:\n{self._tail()}")

    def _tail(self, n: int = 15) -> str:
        return "\n".join(self.log_lines()[-n:])


class ZooKeeperEnsemble:
    """Several ``ZooKeeperServer`` sharing one configuration; a context manager that stops them all."""

    def __init__(self, workdir: str | Path, voters: Iterable[int], observers: Iterable[int] = (),
                 servers: Mapping[int, ServerSpec] | None = None, **options: object) -> None:
        voters, observers = list(voters), list(observers)
        self.servers = dict(servers) if servers is not None else loopback_servers(voters, observers)
        self.members: dict[int, ZooKeeperServer] = {
            sid: ZooKeeperServer(sid, workdir, self.servers, **options)  # type: ignore[arg-type]
            for sid in sorted([*voters, *observers])
        }

    def __getitem__(self, sid: int) -> ZooKeeperServer:
        return self.members[sid]

    def start(self) -> None:
        for server in self.members.values():
            server.start()

    def stop(self) -> None:
        for server in self.members.values():
            server.stop()

    def modes(self) -> dict[int, str | None]:
        return {sid: server.mode() for sid, server in self.members.items()}

    def wait_for_leader(self, timeout: float = 30.0) -> int:
        """Wait until every running member serves; return the leader's sid."""
        deadline = time.monotonic() + timeout
        for server in self.members.values():
            if server.running:
                server.wait_for_mode(timeout=max(0.1, deadline - time.monotonic()))
        leaders = [sid for sid, mode in self.modes().items() if mode == "leader"]
        if len(leaders) != 1:
            raise TimeoutError(f"expected one leader, the servers report {self.modes()}")
        return leaders[0]

    def __enter__(self) -> ZooKeeperEnsemble:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


__all__ = [
    "NOT_SERVING",
    "ZK_JAR",
    "LoggedNotification",
    "ZooKeeperEnsemble",
    "ZooKeeperServer",
    "check_installed",
    "free_ports",
    "loopback_servers",
    "parse_notification_line",
]
