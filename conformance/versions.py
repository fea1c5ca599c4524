"""ZooKeeper releases as systems under test: which release a jar is, where its jars are, how to start it.

Rules:

- **The version of a jar** comes from three witnesses, read in this order: the manifest's
  ``Implementation-Version`` (``3.4.3-1240972``: the part before the first ``-`` that is followed by a
  digit-only revision), the jar's file name (``zookeeper-3.4.3.jar``), and the compile-time constants
  ``MAJOR``, ``MINOR``, ``MICRO`` and ``QUALIFIER`` of ``org/apache/zookeeper/version/Info.class``. Every
  witness present must agree; a disagreement is the user's problem (a renamed or mixed-up jar) and a
  ``UserInputError`` names each witness. A ``--zookeeper-version`` given by the user overrides them all.
- **A release directory** (``--zookeeper-home DIR``) is one of three layouts:
  ``DIR/zookeeper-X.Y.Z.jar`` + ``DIR/lib/*.jar`` (3.4 and older tarballs); ``DIR/lib/zookeeper-X.Y.Z.jar``
  among the other ``lib/*.jar`` (3.5+ ``-bin`` tarballs); or Debian's ``/usr/share/java`` (``zookeeper.jar``,
  whose manifest ``Class-Path`` names its dependencies, plus the SLF4J binding, log4j and servlet jars).
  Source, javadoc, test and fat jars are never the server jar. No jar, or two candidate jars, is a
  ``UserInputError`` saying what was found.
- **The class path** is the server's ``conf/`` directory first (it holds ``log4j.properties`` and
  ``logback.xml``), then the server jar, then every ``lib/*.jar`` in name order. A release without an SLF4J
  binding would log nothing, and the harness reads the log, so that is a ``UserInputError`` too.
- **The start command** is ``java <flags> -Djava.io.tmpdir=... -cp <class path>
  org.apache.zookeeper.server.quorum.QuorumPeerMain <zoo.cfg>`` for every release from 3.4 on; 3.4.3 runs on
  Java 17 this way (docs/versions.md).
- **The wire profile** follows from the version (``zkfle.impl.wire_profiles.profile_for_version``).

Theory of operation: ``find_release`` (a directory) or ``release_from_classpath`` (an explicit class path)
gives a ``ZooKeeperRelease``, a plain value; ``ReleaseServer`` is ``zkfle.conformance.zkserver``'s
``ZooKeeperServer`` started from that release instead of Debian's jars (same files, same observation by
four-letter words and log), and it parses both the 3.4 and the 3.5+ ``Notification:`` log lines.
``read_class_constants`` is a minimal Java class-file reader: the constant pool and the fields'
``ConstantValue`` attributes, nothing else. ``identify`` (``--identify``) runs the behaviour probes, each a
real server 1 with ``ProbePeer``s playing the other sids in the release's wire profile, ordered by waiting
for the server's own log lines (never by sleeping), and reports the profiles consistent with what it saw.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import struct
import tempfile
import time
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from zkfle.conformance.zkserver import (
    EXTRA_JARS,
    JVM_FLAGS,
    MAIN_CLASS,
    LoggedNotification,
    ZooKeeperServer,
    free_ports,
    loopback_servers,
    parse_notification_line,
)
from zkfle.errors import TargetUnavailable, UserInputError
from zkfle.impl import wire
from zkfle.impl.events import FOLLOWING, LEADING, LOOKING, Notification
from zkfle.impl.wire_profiles import WireProfile, profile_for_version
from zkfle.model.profiles import DEFAULT_PROFILE, PROFILES, profile_for_release
from zkfle.zoocfg import ServerSpec, ZooCfg

INFO_CLASS = "org/apache/zookeeper/version/Info.class"
MANIFEST = "META-INF/MANIFEST.MF"
_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)(?:-([A-Za-z][A-Za-z0-9.]*))?")
_JAR_NAME = re.compile(r"zookeeper-(\d+\.\d+\.\d+(?:-[A-Za-z][A-Za-z0-9.]*)?)\.jar")
_NOT_SERVER = frozenset({"sources", "javadoc", "tests", "test", "fatjar", "bin"})

_LOGBACK = """\
<configuration>
  <appender name="CONSOLE" class="ch.qos.logback.core.ConsoleAppender">
    <encoder>
      <pattern>%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n</pattern>
    </encoder>
  </appender>
  <root level="INFO">
    <appender-ref ref="CONSOLE"/>
  </root>
</configuration>
"""

# FastLeaderElection.printNotification of 3.4.x: 3.4.0-3.4.5 print no version, 3.4.6+ put it first
_NOTIFICATION_34 = re.compile(
    r"Notification: (?:(?P<version>[0-9a-f]+) \(message format version\), )?"
    r"(?P<leader>-?\d+) \(n\.leader\), 0x(?P<zxid>[0-9a-f]+) \(n\.zxid\), "
    r"0x(?P<round>[0-9a-f]+) \(n\.round\), (?P<state>\w+) \(n\.state\), (?P<sid>-?\d+) \(n\.sid\), "
    r"0x(?P<peer_epoch>[0-9a-f]+) \(n\.peerE[Pp]och\),? (?P<my_state>\w+) \(my state\)"
)


# ------------------------------------------------------------------------------------------------ versions


@dataclass(frozen=True, order=True)
class ReleaseVersion:
    """A ZooKeeper release number, e.g. 3.4.3 or 3.5.0-alpha, and where it was read from."""

    major: int
    minor: int
    micro: int
    qualifier: str | None = field(default=None, compare=False)
    source: str = field(default="given", compare=False)

    @property
    def triple(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.micro)

    @property
    def wire_profile(self) -> WireProfile:
        return profile_for_version(self.triple)

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.micro}"
        return f"{text}-{self.qualifier}" if self.qualifier else text


def parse_version(text: str, source: str = "given") -> ReleaseVersion:
    """``3.4.3``, ``3.5.0-alpha`` or a manifest's ``3.4.3-1240972`` (the build revision is dropped)."""
    m = _VERSION.fullmatch(text.strip())
    if m is None:
        revision = re.fullmatch(r"(\d+\.\d+\.\d+(?:-[A-Za-z][A-Za-z0-9.]*)?)-[0-9a-f]+", text.strip())
        if revision is None:
            raise UserInputError(f"{source}: {text!r} is not a ZooKeeper version (expected X.Y.Z)")
        m = _VERSION.fullmatch(revision.group(1))
        assert m is not None
    return ReleaseVersion(int(m[1]), int(m[2]), int(m[3]), m[4], source)


def read_class_constants(data: bytes) -> dict[str, int | str]:
    """The ``static final`` fields with a compile-time constant (``ConstantValue``) of a Java class file."""
    try:
        return _ClassReader(data).constants()
    except (struct.error, IndexError, KeyError, UnicodeDecodeError) as exc:
        raise UserInputError(f"not a readable Java class file ({exc})") from None


class _ClassReader:
    # The JVM specification's ClassFile structure (chapter 4), read only as far as the fields.
    # bytes after the tag of each constant-pool entry kind that is skipped
    _SIZES: ClassVar[dict[int, int]] = {
        7: 2, 16: 2, 19: 2, 20: 2, 4: 4, 9: 4, 10: 4, 11: 4, 12: 4, 17: 4, 18: 4, 15: 3,
    }

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def u(self, size: int) -> int:
        if self.pos + size > len(self.data):
            raise IndexError("the class file is cut short")
        value = int.from_bytes(self.data[self.pos : self.pos + size], "big")
        self.pos += size
        return value

    def constants(self) -> dict[str, int | str]:
        if self.u(4) != 0xCAFEBABE:
            raise KeyError("no 0xCAFEBABE magic")
        self.u(4)  # minor, major version
        pool = self._pool()
        self.u(6)  # access flags, this class, super class
        interfaces = self.u(2)
        self.pos += 2 * interfaces
        out: dict[str, int | str] = {}
        for _ in range(self.u(2)):
            self.u(2)  # access flags
            name = pool[self.u(2)]
            self.u(2)  # descriptor
            for _ in range(self.u(2)):
                attr, length = pool[self.u(2)], self.u(4)
                if attr == "ConstantValue":
                    out[str(name)] = self._resolve(pool, self.u(2))
                else:
                    self.pos += length
        return out

    @staticmethod
    def _resolve(pool: dict[int, int | str | tuple[int]], index: int) -> int | str:
        value = pool[index]
        if isinstance(value, tuple):
            target = pool[value[0]]
            if not isinstance(target, str):
                raise KeyError(f"constant #{index} is a String whose text is not Utf8")
            return target
        return value

    def _pool(self) -> dict[int, int | str | tuple[int]]:
        pool: dict[int, int | str | tuple[int]] = {}
        count = self.u(2)
        index = 1
        while index < count:
            tag = self.u(1)
            if tag == 1:  # Utf8 (modified UTF-8; the constants read here are ASCII)
                length = self.u(2)
                pool[index] = self.data[self.pos : self.pos + length].decode("utf-8")
                self.pos += length
            elif tag == 3:  # Integer
                pool[index] = struct.unpack(">i", self.u(4).to_bytes(4, "big"))[0]
            elif tag == 8:  # String: its Utf8 index, resolved when read
                pool[index] = (self.u(2),)
            elif tag in (5, 6):  # Long, Double: two slots
                self.pos += 8
                index += 1
            else:
                self.pos += self._SIZES[tag]
            index += 1
        return pool


def version_witnesses(jar: Path) -> list[ReleaseVersion]:
    """Every version the jar states: manifest, file name, ``Info.class`` (in that order, if present)."""
    found: list[ReleaseVersion] = []
    try:
        with zipfile.ZipFile(jar) as archive:
            names = set(archive.namelist())
            manifest = archive.read(MANIFEST).decode("utf-8", "replace") if MANIFEST in names else ""
            info = archive.read(INFO_CLASS) if INFO_CLASS in names else None
    except (OSError, zipfile.BadZipFile) as exc:
        raise UserInputError(f"{jar}: cannot read the jar ({exc})") from None
    m = re.search(r"^Implementation-Version:[ \t]*(\S+)[ \t]*\r?$", manifest, re.MULTILINE)
    if m is not None:
        found.append(parse_version(m[1], f"{jar.name} manifest Implementation-Version"))
    named = _JAR_NAME.fullmatch(jar.name)
    if named is not None:
        found.append(parse_version(named[1], f"file name {jar.name}"))
    if info is not None:
        constants = read_class_constants(info)
        if all(isinstance(constants.get(k), int) for k in ("MAJOR", "MINOR", "MICRO")):
            qualifier = constants.get("QUALIFIER")
            found.append(ReleaseVersion(int(constants["MAJOR"]), int(constants["MINOR"]),
                                        int(constants["MICRO"]), str(qualifier) if qualifier else None,
                                        f"{jar.name} {INFO_CLASS}"))
    return found


def version_from_jar(jar: str | Path) -> ReleaseVersion:
    """The release a ZooKeeper server jar belongs to (the first witness, once all agree)."""
    path = Path(jar)
    witnesses = version_witnesses(path)
    if not witnesses:
        raise UserInputError(f"{path}: no version in its manifest, its name or {INFO_CLASS}; is it a "
                             "ZooKeeper server jar? Give the version with --zookeeper-version")
    if len({w.triple for w in witnesses}) > 1:
        said = "; ".join(f"{w.source} says {w}" for w in witnesses)
        raise UserInputError(f"{path}: its version witnesses disagree ({said}); give --zookeeper-version")
    return witnesses[0]


# ------------------------------------------------------------------------------------------------ releases


@dataclass(frozen=True)
class ZooKeeperRelease:
    """A ZooKeeper release that can be started: its server jar, the jars it needs, its version."""

    jar: Path
    libs: tuple[Path, ...]
    version: ReleaseVersion
    layout: str  # "3.4" (jar at the top), "3.5+" (jar in lib/), "debian", "classpath"
    logging: str  # "log4j" or "logback"

    @property
    def wire_profile(self) -> WireProfile:
        return self.version.wire_profile

    def class_path(self, conf_dir: str | Path) -> str:
        """``conf_dir`` (logging configuration), the server jar, then the libraries."""
        return os.pathsep.join([str(conf_dir), str(self.jar), *(str(p) for p in self.libs)])

    def command(self, zoo_cfg: str | Path, conf_dir: str | Path, tmp_dir: str | Path,
                java: str = "java") -> list[str]:
        """The command line that starts one quorum server of this release."""
        java_path = shutil.which(java)
        if java_path is None:
            raise TargetUnavailable(f"cannot run ZooKeeper {self.version}: no {java!r} executable on PATH; "
                                    "install Java: sudo apt-get install default-jre-headless")
        return [java_path, *JVM_FLAGS, f"-Djava.io.tmpdir={tmp_dir}", "-cp", self.class_path(conf_dir),
                MAIN_CLASS, str(zoo_cfg)]


def _server_jars(directory: Path) -> list[Path]:
    out = []
    for path in sorted(directory.glob("zookeeper-*.jar")):
        m = _JAR_NAME.fullmatch(path.name)
        qualifier = m[1].partition("-")[2] if m else ""
        if m is not None and qualifier.lower() not in _NOT_SERVER:
            out.append(path)
    return out


def _logging_of(jars: Iterable[Path], where: Path) -> str:
    names = [p.name for p in jars]
    if any(n.startswith("logback-classic") for n in names):
        return "logback"
    if any(n.startswith(("slf4j-log4j12", "slf4j-reload4j", "log4j-slf4j")) for n in names):
        return "log4j"
    raise UserInputError(f"{where}: no SLF4J binding (logback-classic or slf4j-log4j12) among the jars: "
                         "the server would log nothing, and the harness reads its log")


def find_release(home: str | Path, version: str | None = None) -> ZooKeeperRelease:
    """The release unpacked in ``home`` (``--zookeeper-home``); ``version`` overrides detection."""
    root = Path(home).expanduser()
    if not root.is_dir():
        raise UserInputError(f"--zookeeper-home {home}: not a directory")
    lib = root / "lib"
    top, inner = _server_jars(root), (_server_jars(lib) if lib.is_dir() else [])
    if (root / "zookeeper.jar").is_file():  # Debian's /usr/share/java (zookeeper-3.8.0.jar is a symlink)
        jar = root / "zookeeper.jar"
        extras = tuple(root / name for name in EXTRA_JARS)
        missing = [str(p) for p in extras if not p.is_file()]
        if missing:
            raise UserInputError(f"--zookeeper-home {home}: Debian layout without {', '.join(missing)}; "
                                 "sudo apt-get install zookeeper")
        return ZooKeeperRelease(jar, extras, _version(jar, version), "debian", "log4j")
    candidates = top or inner
    if not candidates:
        raise UserInputError(f"--zookeeper-home {home}: no zookeeper-X.Y.Z.jar in it or in its lib/; "
                             "point it at an unpacked release (for 3.5 and later, the -bin tarball)")
    if len(candidates) > 1:
        names = ", ".join(str(p) for p in candidates)
        raise UserInputError(f"--zookeeper-home {home}: several server jars ({names}); unpack one release")
    jar = candidates[0]
    libs = tuple(p for p in sorted(lib.glob("*.jar")) if p != jar) if lib.is_dir() else ()
    layout = "3.4" if top else "3.5+"
    return ZooKeeperRelease(jar, libs, _version(jar, version), layout, _logging_of(libs, root))


def release_from_classpath(class_path: str, version: str | None = None) -> ZooKeeperRelease:
    """The release on an explicit class path (``--zookeeper-classpath``): its server jar is the entry
    holding ``Info.class`` and ``QuorumPeerMain``; every other entry is kept, in order."""
    entries = [Path(e) for e in class_path.split(os.pathsep) if e]
    servers = [p for p in entries if p.suffix == ".jar" and p.is_file() and _is_server_jar(p)]
    if len(servers) != 1:
        what = "no" if not servers else f"{len(servers)}"
        raise UserInputError(f"--zookeeper-classpath: {what} ZooKeeper server jar(s) among {len(entries)} "
                             "entries (one must hold the class QuorumPeerMain)")
    missing = [str(p) for p in entries if not p.exists()]
    if missing:
        raise UserInputError(f"--zookeeper-classpath: {', '.join(missing)} does not exist")
    jar = servers[0]
    libs = tuple(p for p in entries if p != jar)
    jars = [p for p in libs if p.suffix == ".jar"]
    logging = _logging_of(jars, jar.parent) if jars else "log4j"
    return ZooKeeperRelease(jar, libs, _version(jar, version), "classpath", logging)


def _is_server_jar(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return "org/apache/zookeeper/server/quorum/QuorumPeerMain.class" in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def _version(jar: Path, given: str | None) -> ReleaseVersion:
    return parse_version(given, "--zookeeper-version") if given else version_from_jar(jar)


def check_given_version(release: ZooKeeperRelease) -> None:
    """The CLI's rule for ``--zookeeper-version``: it may name a jar that states no version, or overrule
    the jar's file name (a renamed jar), but it may not contradict what the jar's contents (manifest,
    ``Info.class``) say: that is the user's mistake, and a ``UserInputError`` names the witness."""
    if release.version.source != "--zookeeper-version":
        return
    for witness in version_witnesses(release.jar):
        if witness.source.startswith("file name"):
            continue
        if witness.triple != release.version.triple:
            raise UserInputError(f"--zookeeper-version {release.version} contradicts {release.jar}: "
                                 f"{witness.source} says {witness}")


# ------------------------------------------------------------------------------------------- log lines


def parse_notification_line_34(line: str) -> LoggedNotification | None:
    """A 3.4.x ``Notification:`` log line (``FastLeaderElection.printNotification``), or None.

    3.4.0-3.4.5 print no format version: it is reported as 0, as is the config version 3.4 never has.
    """
    m = _NOTIFICATION_34.search(line)
    if m is None:
        return None

    def java_hex(text: str) -> int:  # Long.toHexString
        value = int(text, 16)
        return value - (1 << 64) if value >= 1 << 63 else value

    return LoggedNotification(
        my_state=m["my_state"], sid=int(m["sid"]), state=m["state"], leader=int(m["leader"]),
        round=java_hex(m["round"]), peer_epoch=java_hex(m["peer_epoch"]), zxid=java_hex(m["zxid"]),
        version=java_hex(m["version"]) if m["version"] else 0, config_version=0,
    )


def parse_any_notification_line(line: str) -> LoggedNotification | None:
    """A ``Notification:`` line in the 3.5+ form (``zkserver``) or the 3.4 form."""
    return parse_notification_line(line) or parse_notification_line_34(line)


# QuorumPeer.run logs the state it enters on a line of its own, in every release from 3.4.0 to 3.9.0;
# 3.8.0's "Peer state changed: ..." lines (QuorumPeer.setPeerState) do not exist in 3.4.
_STATE_LINE = re.compile(r"\] - (LOOKING|FOLLOWING|LEADING|OBSERVING)\s*$")


def parse_state_line(line: str) -> str | None:
    """The state a ``QuorumPeer.run`` line says the server enters (``LOOKING`` ...), or None."""
    m = _STATE_LINE.search(line)
    return m[1] if m is not None else None


# ---------------------------------------------------------------------------------------------- servers


class ReleaseServer(ZooKeeperServer):
    """One real server of any release (``QuorumPeerMain``) on loopback: ``ZooKeeperServer``'s files and
    observation, started from ``release``'s jars."""

    def __init__(self, sid: int, workdir: str | Path, servers: Mapping[int, ServerSpec] | ZooCfg,
                 release: ZooKeeperRelease, **options: object) -> None:
        super().__init__(sid, workdir, servers, **options)
        self.release = release

    def write_files(self) -> Path:
        cfg = super().write_files()
        (self.dir / "conf" / "logback.xml").write_text(_LOGBACK, encoding="ascii")
        return cfg

    def command(self) -> list[str]:
        return self.release.command(self.dir / "zoo.cfg", self.dir / "conf", self.dir / "tmp", self.java)

    def notifications(self) -> list[LoggedNotification]:
        return [n for n in map(parse_any_notification_line, self.log_lines()) if n is not None]


# ------------------------------------------------------------------------------------- behaviour probes



def _fresh_dir(workdir: str | Path, name: str) -> Path:
    """A new empty directory under ``workdir``: probes need fresh dataDirs (zxid 0, currentEpoch 0)."""
    root = Path(workdir)
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root))


def _connect(port: int, timeout: float) -> socket.socket:
    # the server logs "New election" a moment after its election listener thread starts: retry a refusal
    deadline = time.monotonic() + timeout
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=timeout)
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class ProbePeer:
    """One sid a probe plays against a real server. It dials the server (so its sid must be the larger: only
    the larger sid's connection survives) and speaks the release's wire profile both ways; what it receives
    is kept raw, and ``received`` decodes it strictly with that profile."""

    def __init__(self, profile: WireProfile, sid: int, server_port: int, my_port: int,
                 timeout: float = 10.0) -> None:
        self.profile = profile
        self.sid = sid
        self.sock = _connect(server_port, timeout)
        self.sock.sendall(profile.encode_handshake(sid, f"127.0.0.1:{my_port}"))
        self.frames = wire.FrameReader()
        self.payloads: list[bytes] = []

    def frame(self, state: int, leader: int, zxid: int, rnd: int, peer_epoch: int) -> bytes:
        """One notification, framed in the release's wire profile."""
        n = Notification(state, leader, zxid, rnd, peer_epoch, version=self.profile.notification_version)
        return self.profile.encode_frame(self.profile.encode_notification(n))

    def send(self, state: int, leader: int, zxid: int, rnd: int, peer_epoch: int) -> None:
        self.sock.sendall(self.frame(state, leader, zxid, rnd, peer_epoch))

    def pump(self, wait: float) -> bool:
        """Read what arrives within ``wait`` seconds; False once the server has closed the connection."""
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


@dataclass(frozen=True)
class Observation:
    """What a probe saw a real server do, and the model knobs that reproduce it."""

    behaviour: str  # e.g. "vote order"
    fixed: bool  # the server shows ZooKeeper 3.8.0's behaviour
    shown: str  # e.g. "epoch outranks sid (ZK-1419 fixed)"
    jira: str
    knobs: tuple[tuple[str, object], ...]  # Variant knobs (name, value) agreeing with what was shown
    evidence: str


class _ProbeEnsemble:
    """Server 1 of a ``voters``-server loopback ensemble, real; sids 2..voters are ``ProbePeer``s."""

    def __init__(self, release: ZooKeeperRelease, workdir: Path, voters: int, timeout: float) -> None:
        self.deadline = time.monotonic() + timeout
        servers = loopback_servers(range(1, voters + 1))
        self.server = ReleaseServer(1, workdir, servers, release, tick_time=2000, init_limit=5, sync_limit=2)
        self.ports = {sid: spec.election_port for sid, spec in servers.items()}
        self.release = release
        self.peers: dict[int, ProbePeer] = {}

    def __enter__(self) -> _ProbeEnsemble:
        try:
            self.server.start()
            self.server.wait_for_log("New election", timeout=self.left())
            for sid in sorted(self.ports)[1:]:
                self.peers[sid] = ProbePeer(self.release.wire_profile, sid, self.ports[1], self.ports[sid])
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for peer in self.peers.values():
            peer.close()
        self.server.stop()

    def left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"probe of ZooKeeper {self.release.version} timed out; server log tail:\n"
                               + "\n".join(self.server.log_lines()[-10:]))
        return left

    def wait_logged(self, sid: int, state: str, leader: int) -> None:
        """Until server 1 has logged (so queued) a notification from ``sid`` with this state and leader."""
        wanted = (sid, state, leader)
        while not any((n.sid, n.state, n.leader) == wanted for n in self.server.notifications()):
            self.left()
            time.sleep(0.05)

    def decision(self) -> str | None:
        for line in self.server.log_lines():
            state = parse_state_line(line)
            if state in ("FOLLOWING", "LEADING"):
                return state
        return None


def probe_vote_order(release: ZooKeeperRelease, workdir: str | Path, timeout: float = 60.0) -> Observation:
    """Does peerEpoch outrank the sid? (``totalOrderPredicate``; ZK-1419, fixed in 3.4.4)

    Server 1 of five, fresh; the probe plays 2..5 at zxid 0, round 1. Sid 2 votes (2, peerEpoch 1); once
    server 1 proposes 2, sid 3 votes (3, peerEpoch 0); once that is logged, 4 and 5 vote (2, 1). A correct
    server never proposes 3; with ZK-1419's predicate 3 wins (same zxid, larger sid). Ends when 3 is
    proposed or server 1 decides (1, 2, 4 and 5 agree on 2).
    """
    with _ProbeEnsemble(release, _fresh_dir(workdir, "vote-order"), 5, timeout) as probe:
        p = probe.peers
        p[2].send(LOOKING, 2, 0, 1, 1)
        while not any(n.leader == 2 for n in p[2].received()):
            p[2].pump(min(0.2, probe.left()))
        p[3].send(LOOKING, 3, 0, 1, 0)
        probe.wait_logged(3, "LOOKING", 3)
        p[4].send(LOOKING, 2, 0, 1, 1)
        p[5].send(LOOKING, 2, 0, 1, 1)
        decided_at: float | None = None
        while True:
            p[2].pump(min(0.1, probe.left()))
            proposals = [(n.leader, n.peer_epoch) for n in p[2].received() if n.state == LOOKING]
            if (3, 0) in proposals:
                return Observation("vote order", False, "a larger sid outranks a larger peerEpoch (ZK-1419)",
                                   "ZK-1419", (("predicate", "ZK-1419"),),
                                   f"server 1 proposed (leader, peerEpoch) {proposals}")
            if decided_at is None and probe.decision() is not None:
                decided_at = time.monotonic()
            if decided_at is not None and time.monotonic() - decided_at > 1.0:  # what was sent before
                return Observation("vote order", True, "peerEpoch outranks sid (ZK-1419 fixed)", "ZK-1419",
                                   (("predicate", "3.8.0"),),
                                   f"server 1 proposed (leader, peerEpoch) {proposals}, never (3, 0)")


def probe_self_leadership(release: ZooKeeperRelease, workdir: str | Path,
                          timeout: float = 60.0) -> Observation:
    """Does a server lead on FOLLOWING votes of an older round? (``checkLeader``; ZK-1514, fixed in 3.4.4)

    Server 1 of three, fresh (round 1); sids 2 and 3 send FOLLOWING notifications naming 1 as leader, from
    round 0. 3.4.3's ``checkLeader`` accepts them for itself whatever the round, so server 1 goes LEADING;
    a fixed server ignores them. Then 2 and 3 vote LOOKING for 3 in round 1, which a fixed server follows.
    The first decision server 1 logs tells which.
    """
    with _ProbeEnsemble(release, _fresh_dir(workdir, "self-leadership"), 3, timeout) as probe:
        for sid in (2, 3):
            probe.peers[sid].send(FOLLOWING, 1, 0, 0, 0)
        for sid in (2, 3):
            probe.wait_logged(sid, "FOLLOWING", 1)
        for sid in (2, 3):
            probe.peers[sid].send(LOOKING, 3, 0, 1, 0)
        while (decision := probe.decision()) is None:
            probe.left()
            time.sleep(0.05)
    if decision == "LEADING":
        return Observation("self-leadership", False, "leads on FOLLOWING votes of an older round (ZK-1514)",
                           "ZK-1514", (("check_leader_round_for_self", False),),
                           "server 1 at round 1 went LEADING on round-0 FOLLOWING votes for it")
    return Observation("self-leadership", True, "needs FOLLOWING votes of its own round (ZK-1514 fixed)",
                       "ZK-1514", (("check_leader_round_for_self", True),),
                       "server 1 ignored round-0 FOLLOWING votes for it and followed 3")


def probe_election_vote_update(release: ZooKeeperRelease, workdir: str | Path,
                               timeout: float = 60.0) -> Observation:
    """Does an established server report the epoch Zab gave it? (``QuorumPeer.updateElectionVote``;
    ZK-1732, fixed in 3.4.6)

    Three real servers elect and establish an epoch (``srvr``'s zxid says which). The probe then dials each
    as sid 4, which is in no configuration, and sends a LOOKING vote: ``WorkerReceiver`` answers a non-voter
    at once with the server's ``currentVote``. A fixed server has rewritten that vote's peerEpoch to the
    established epoch; before ZK-1732 it still carries the election's peerEpoch (0 for fresh servers).
    """
    deadline = time.monotonic() + timeout
    root = _fresh_dir(workdir, "election-vote")
    servers = loopback_servers([1, 2, 3])
    members = [ReleaseServer(sid, root, servers, release) for sid in (1, 2, 3)]
    peers: list[ProbePeer] = []
    try:
        for member in members:
            member.start()
        for member in members:
            member.wait_for_mode(timeout=max(0.1, deadline - time.monotonic()))
        epoch = max(int(m.srvr().get("Zxid", "0x0"), 16) >> 32 for m in members)
        replies: dict[int, int] = {}
        for member in members:
            peer = ProbePeer(release.wire_profile, 4, servers[member.sid].election_port, free_ports(1)[0])
            peers.append(peer)
            peer.send(LOOKING, 4, 0, 1, 0)
            while not peer.received():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"ZooKeeper {release.version} server {member.sid} never answered "
                                       "sid 4")
                if not peer.pump(0.2):
                    raise TimeoutError(f"ZooKeeper {release.version} server {member.sid} closed sid 4's "
                                       "connection without answering")
            replies[member.sid] = peer.received()[0].peer_epoch
    finally:
        for peer in peers:
            peer.close()
        for member in members:
            member.stop()
    evidence = f"established epoch {epoch}; peerEpoch in each server's reply {replies}"
    if epoch > 0 and all(e == epoch for e in replies.values()):
        return Observation("election vote after Zab", True, "reports the established epoch (ZK-1732 fixed)",
                           "ZK-1732", (("update_election_vote", True),), evidence)
    return Observation("election vote after Zab", False, "reports the election's stale peerEpoch (ZK-1732)",
                       "ZK-1732", (("update_election_vote", False),), evidence)


def probe_same_round_leader_check(release: ZooKeeperRelease, workdir: str | Path,
                                  timeout: float = 60.0) -> Observation:
    """Does a same-round LEADING vote complete a quorum of recvset's LOOKING votes?
    (``receivedFollowingNotification``'s ``checkLeader``; ZK-3537, fixed in 3.6.0)

    Server 1 of five, fresh (round 1). Sid 2 votes LOOKING (3, zxid 0, round 1, peerEpoch 0); server 1
    adopts 3 and its loop-back vote for 3 is queued (its own ``Notification:`` line). recvset then holds
    LOOKING votes for 3 from 1 and 2: two of five, no quorum. Sid 3 then sends LEADING for 3 in round 1
    and, on the same connection right behind it, LOOKING for 5 in round 2. From 3.6.0 the LEADING vote
    enters recvset with its state, {1, 2, 3} is a quorum and ``checkLeader(recvset)`` finds 3 LEADING:
    server 1 follows 3 at once. Before 3.6.0 the vote enters recvset as LOOKING and ``checkLeader`` reads
    ``outofelection``, which holds 3's vote alone: server 1 stays LOOKING and the round-2 vote moves it to
    round 2, which it broadcasts. The round-2 vote is for 5, better than 3, so that even a poll timeout
    between the two (a loop-back that starts the finalize wait on recvset's quorum) ends in round 2.
    Whichever server 1 shows first ends the probe: its state line, or a round-2 vote it sends sid 2.
    """
    with _ProbeEnsemble(release, _fresh_dir(workdir, "same-round-leader"), 5, timeout) as probe:
        p = probe.peers
        p[2].send(LOOKING, 3, 0, 1, 0)
        probe.wait_logged(1, "LOOKING", 3)  # its own loop-back vote for 3 is queued ahead of what follows
        p[3].sock.sendall(p[3].frame(LEADING, 3, 0, 1, 0) + p[3].frame(LOOKING, 5, 0, 2, 0))  # one write
        while True:
            decision = probe.decision()
            if decision is not None:
                return same_round_observation(decision, moved_to_round_2=False)
            p[2].pump(min(0.1, probe.left()))
            if any(n.state == LOOKING and n.election_epoch == 2 for n in p[2].received()):
                # the state line, if any, was logged before a later election's round-2 vote was sent
                decision = probe.decision()
                return same_round_observation(decision, moved_to_round_2=decision is None)


def same_round_observation(decision: str | None, moved_to_round_2: bool) -> Observation:
    """What ``probe_same_round_leader_check`` saw, as an ``Observation``: server 1's first decision (a
    ``QuorumPeer.run`` state line), or that it moved to round 2 while still LOOKING."""
    if moved_to_round_2:
        return Observation("same-round leader check", False,
                           "a same-round LEADING vote does not complete recvset's quorum (ZK-3537)",
                           "ZK-3537", (("same_round_check_recvset", False),),
                           "server 1 stayed LOOKING on 3's round-1 LEADING vote with LOOKING votes for 3 "
                           "from 1 and 2, and moved to round 2")
    if decision == "FOLLOWING":
        return Observation("same-round leader check", True,
                           "follows on recvset's quorum with the leader's word (ZK-3537 fixed)",
                           "ZK-3537", (("same_round_check_recvset", True),),
                           "server 1 followed 3 on 3's round-1 LEADING vote with LOOKING votes for 3 "
                           "from 1 and 2")
    # neither behaviour of the model: no profile sets this knob to None, so none is consistent
    return Observation("same-round leader check", False, f"went {decision} on a vote for 3 (no profile)",
                       "ZK-3537", (("same_round_check_recvset", None),),
                       f"server 1 went {decision} on 3's round-1 LEADING vote")


PROBES = (probe_vote_order, probe_self_leadership, probe_election_vote_update, probe_same_round_leader_check)


@dataclass(frozen=True)
class Identification:
    """``--identify``: the behaviours a release showed, and the behaviour profiles consistent with them."""

    version: ReleaseVersion
    wire_profile: str
    expected_profile: str  # the profile its version maps to
    observations: tuple[Observation, ...]
    consistent_profiles: tuple[str, ...]

    @property
    def as_expected(self) -> bool:
        return self.expected_profile in self.consistent_profiles

    def table(self) -> str:
        rows = [("behaviour", "shown", "evidence")]
        rows += [(o.behaviour, o.shown, o.evidence) for o in self.observations]
        widths = [max(len(r[i]) for r in rows) for i in range(2)]
        lines = [f"ZooKeeper {self.version} (wire profile {self.wire_profile})"]
        lines += [f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]}" for r in rows]
        lines.append(f"consistent profiles: {', '.join(self.consistent_profiles) or 'none'}; "
                     f"{self.expected_profile} expected from the version"
                     + ("" if self.as_expected else " (NOT consistent: the jar and the behaviour disagree)"))
        lines.append(f"conformance run (zkfle conform --target zookeeper ...): wire profile "
                     f"{self.wire_profile}; model {DEFAULT_PROFILE} unless --profile is given"
                     + ("" if self.expected_profile == DEFAULT_PROFILE
                        else f" (--profile {self.expected_profile} for this release's line)"))
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        return {
            "version": str(self.version),
            "wire_profile": self.wire_profile,
            "expected_profile": self.expected_profile,
            "as_expected": self.as_expected,
            "consistent_profiles": list(self.consistent_profiles),
            "conformance": {"wire_profile": self.wire_profile, "model_profile": DEFAULT_PROFILE,
                            "profile_for_this_line": self.expected_profile},
            "observations": [
                {"behaviour": o.behaviour, "fixed": o.fixed, "shown": o.shown, "jira": o.jira,
                 "knobs": dict(o.knobs), "evidence": o.evidence}
                for o in self.observations
            ],
        }


def identify(release: ZooKeeperRelease, workdir: str | Path, timeout: float = 60.0) -> Identification:
    """Run every probe against ``release``, one after the other, each in a fresh sub-directory of
    ``workdir`` (so a workdir can be reused: servers never start from an earlier probe's dataDir)."""
    observations = tuple(probe(release, workdir, timeout) for probe in PROBES)
    expected = profile_for_release(release.version.triple).name
    return Identification(release.version, release.wire_profile.name, expected, observations,
                          consistent_profiles(observations))


def consistent_profiles(observations: Iterable[Observation]) -> tuple[str, ...]:
    """The behaviour profiles whose knobs agree with every observation."""
    knobs = [kv for o in observations for kv in o.knobs]
    return tuple(name for name, p in PROFILES.items() if all(getattr(p.variant, k) == v for k, v in knobs))


__all__ = [
    "PROBES",
    "Identification",
    "Observation",
    "ProbePeer",
    "ReleaseServer",
    "ReleaseVersion",
    "ZooKeeperRelease",
    "check_given_version",
    "consistent_profiles",
    "find_release",
    "identify",
    "parse_any_notification_line",
    "parse_notification_line_34",
    "parse_state_line",
    "parse_version",
    "probe_election_vote_update",
    "probe_same_round_leader_check",
    "probe_self_leadership",
    "probe_vote_order",
    "read_class_constants",
    "release_from_classpath",
    "same_round_observation",
    "version_from_jar",
    "version_witnesses",
]
