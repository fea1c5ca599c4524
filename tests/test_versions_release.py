"""Release detection without starting anything: version witnesses, the class-file reader, release layouts,
class paths, commands and 3.4 log lines. Jars are built here (zipfile) with hand-written class files, so
these tests need neither Java nor a real release; the few that read Debian's jar are marked ``zookeeper``."""

from __future__ import annotations

import os
import shutil
import struct
import zipfile
from pathlib import Path

import pytest

from zkfle.conformance.versions import (
    INFO_CLASS,
    ReleaseVersion,
    find_release,
    parse_any_notification_line,
    parse_notification_line_34,
    parse_state_line,
    parse_version,
    read_class_constants,
    release_from_classpath,
    version_from_jar,
    version_witnesses,
)
from zkfle.errors import TargetUnavailable, UserInputError

DEBIAN = Path("/usr/share/java")
QPM = "org/apache/zookeeper/server/quorum/QuorumPeerMain.class"


# --------------------------------------------------------------------------------- hand-built class files


def _utf8(text: str) -> bytes:
    raw = text.encode()
    return b"\x01" + struct.pack(">H", len(raw)) + raw


def _const_field(name_index: int, descriptor: int, value_index: int) -> bytes:
    # field_info: public static final, name, descriptor, one ConstantValue attribute (#5) of 2 bytes
    return struct.pack(">HHHH", 0x19, name_index, descriptor, 1) + struct.pack(">HIH", 5, 2, value_index)


def info_class(major: int, minor: int, micro: int, qualifier: str | None = None) -> bytes:
    """An interface ``Info`` with int constants (and a String QUALIFIER when given), per JVMS chapter 4."""
    pool = [_utf8("org/apache/zookeeper/version/Info"), b"\x07\x00\x01",  # 1, 2: this class
            _utf8("java/lang/Object"), b"\x07\x00\x03",  # 3, 4: super class
            _utf8("ConstantValue"), _utf8("I"), _utf8("Ljava/lang/String;"),  # 5, 6, 7
            b"\x05" + struct.pack(">q", 7),  # 8 (+9): a Long, which takes two slots
            ]
    fields: list[bytes] = []
    for name, value in (("MAJOR", major), ("MINOR", minor), ("MICRO", micro)):
        pool.append(_utf8(name))
        name_index = len(pool) + 1  # +1 for the Long's second slot
        pool.append(b"\x03" + struct.pack(">i", value))
        fields.append(_const_field(name_index, 6, name_index + 1))
    if qualifier is not None:
        pool.append(_utf8("QUALIFIER"))
        name_index = len(pool) + 1
        pool.append(_utf8(qualifier))
        pool.append(b"\x08" + struct.pack(">H", name_index + 1))
        fields.append(_const_field(name_index, 7, name_index + 2))
    head = struct.pack(">IHHH", 0xCAFEBABE, 0, 52, len(pool) + 2)
    body = struct.pack(">HHHH", 0x601, 2, 4, 0) + struct.pack(">H", len(fields)) + b"".join(fields)
    return head + b"".join(pool) + body + struct.pack(">HH", 0, 0)


def make_jar(path: Path, *, manifest_version: str | None = None, info: bytes | None = None,
             server: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as jar:
        lines = ["Manifest-Version: 1.0"]
        if manifest_version:
            lines.append(f"Implementation-Version: {manifest_version}")
        jar.writestr("META-INF/MANIFEST.MF", "\r\n".join(lines) + "\r\n")
        if info is not None:
            jar.writestr(INFO_CLASS, info)
        if server:
            jar.writestr(QPM, b"\xca\xfe\xba\xbe")
    return path


def release_34(root: Path, version: str = "3.4.3") -> Path:
    """The 3.4 tarball layout: the server jar at the top, its libraries in lib/."""
    triple = tuple(int(x) for x in version.split("."))
    make_jar(root / f"zookeeper-{version}.jar", manifest_version=f"{version}-1240972",
             info=info_class(*triple))
    make_jar(root / f"zookeeper-{version}-sources.jar", server=False)
    for name in ("slf4j-log4j12-1.6.1.jar", "log4j-1.2.15.jar", "slf4j-api-1.6.1.jar"):
        make_jar(root / "lib" / name, server=False)
    return root


def release_35(root: Path, version: str = "3.6.2") -> Path:
    """The 3.5+ -bin layout: every jar in lib/, logback or log4j as the binding."""
    triple = tuple(int(x) for x in version.split("."))
    make_jar(root / "lib" / f"zookeeper-{version}.jar", info=info_class(*triple))
    for name in (f"zookeeper-jute-{version}.jar", "logback-classic-1.2.10.jar", "slf4j-api-1.7.30.jar"):
        make_jar(root / "lib" / name, server=False)
    return root


# ------------------------------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "triple", "qualifier"),
    [("3.4.3", (3, 4, 3), None), ("3.4.3-1240972", (3, 4, 3), None), ("3.5.0-alpha", (3, 5, 0), "alpha"),
     ("3.8.0-5a02a05eddb59aee6ac762f7ea82e92a68eb9c0f", (3, 8, 0), None), (" 3.9.3 ", (3, 9, 3), None)],
)
def test_parse_version(text: str, triple: tuple[int, int, int], qualifier: str | None) -> None:
    v = parse_version(text)
    assert (v.triple, v.qualifier) == (triple, qualifier)


@pytest.mark.parametrize("text", ["3.4", "three", "3.4.x", ""])
def test_bad_versions_are_user_errors(text: str) -> None:
    with pytest.raises(UserInputError, match="not a ZooKeeper version"):
        parse_version(text, "--zookeeper-version")


def test_versions_order_and_pick_profiles() -> None:
    assert parse_version("3.4.3") < parse_version("3.4.6") < parse_version("3.5.0-alpha")
    assert str(parse_version("3.5.0-alpha")) == "3.5.0-alpha"
    assert parse_version("3.4.3").wire_profile.name == "3.4.0-3.4.5"
    assert parse_version("3.4.6").wire_profile.name == "3.4.6-3.4.x"
    assert parse_version("3.8.0").wire_profile.name == "3.5.0+"


def test_class_reader_reads_int_and_string_constants() -> None:
    constants = read_class_constants(info_class(3, 5, 0, "alpha"))
    assert constants == {"MAJOR": 3, "MINOR": 5, "MICRO": 0, "QUALIFIER": "alpha"}


def test_class_reader_rejects_garbage() -> None:
    good = info_class(3, 4, 3)
    for bad in (b"\x00" * 40, good[:30], good[: len(good) - 12]):
        with pytest.raises(UserInputError, match="class file"):
            read_class_constants(bad)


@pytest.mark.zookeeper
def test_class_reader_on_debian_info_class() -> None:
    with zipfile.ZipFile(DEBIAN / "zookeeper.jar") as jar:
        constants = read_class_constants(jar.read(INFO_CLASS))
    assert (constants["MAJOR"], constants["MINOR"], constants["MICRO"]) == (3, 8, 0)


# -------------------------------------------------------------------------------------------- witnesses


def test_three_witnesses_agree(tmp_path: Path) -> None:
    jar = make_jar(tmp_path / "zookeeper-3.4.3.jar", manifest_version="3.4.3-1240972",
                   info=info_class(3, 4, 3))
    witnesses = version_witnesses(jar)
    assert [w.triple for w in witnesses] == [(3, 4, 3)] * 3
    assert "manifest" in witnesses[0].source and "file name" in witnesses[1].source
    assert "Info.class" in witnesses[2].source
    assert version_from_jar(jar).triple == (3, 4, 3)


def test_info_class_alone_is_enough(tmp_path: Path) -> None:
    jar = make_jar(tmp_path / "zookeeper.jar", info=info_class(3, 8, 0))
    assert version_from_jar(jar) == ReleaseVersion(3, 8, 0)


def test_disagreeing_witnesses_are_named(tmp_path: Path) -> None:
    jar = make_jar(tmp_path / "zookeeper-3.4.6.jar", info=info_class(3, 4, 3))  # a renamed 3.4.3 jar
    with pytest.raises(UserInputError, match=r"disagree.*3\.4\.6.*3\.4\.3"):
        version_from_jar(jar)


def test_no_witness_or_no_jar(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="no version"):
        version_from_jar(make_jar(tmp_path / "server.jar"))
    (tmp_path / "broken.jar").write_bytes(b"not a zip")
    with pytest.raises(UserInputError, match="cannot read"):
        version_from_jar(tmp_path / "broken.jar")


@pytest.mark.zookeeper
def test_debian_jar_is_3_8_0() -> None:
    assert version_from_jar(DEBIAN / "zookeeper.jar").triple == (3, 8, 0)


# ---------------------------------------------------------------------------------------------- layouts


def test_find_release_3_4_layout(tmp_path: Path) -> None:
    root = release_34(tmp_path / "zookeeper-3.4.3")
    rel = find_release(root)
    assert (rel.layout, rel.logging, str(rel.version)) == ("3.4", "log4j", "3.4.3")
    assert rel.jar == root / "zookeeper-3.4.3.jar"  # the -sources jar is never the server jar
    assert rel.wire_profile.name == "3.4.0-3.4.5"
    cp = rel.class_path("/srv/conf").split(os.pathsep)
    assert cp[:2] == ["/srv/conf", str(root / "zookeeper-3.4.3.jar")]
    assert cp[2:] == sorted(cp[2:]) and len(cp) == 5


def test_find_release_3_5_layout(tmp_path: Path) -> None:
    root = release_35(tmp_path / "apache-zookeeper-3.6.2-bin")
    rel = find_release(root)
    assert (rel.layout, rel.logging, str(rel.version)) == ("3.5+", "logback", "3.6.2")
    assert rel.jar.name == "zookeeper-3.6.2.jar" and rel.jar not in rel.libs
    assert any(p.name.startswith("zookeeper-jute") for p in rel.libs)
    assert rel.wire_profile.name == "3.5.0+"


def test_version_override(tmp_path: Path) -> None:
    rel = find_release(release_34(tmp_path / "r"), version="3.4.6")
    assert str(rel.version) == "3.4.6" and rel.version.source == "--zookeeper-version"
    assert rel.wire_profile.name == "3.4.6-3.4.x"


def test_bad_release_directories(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="not a directory"):
        find_release(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserInputError, match=r"no zookeeper-X\.Y\.Z\.jar"):
        find_release(tmp_path / "empty")
    two = release_34(tmp_path / "two")
    make_jar(two / "zookeeper-3.4.5.jar", info=info_class(3, 4, 5))
    with pytest.raises(UserInputError, match="several server jars"):
        find_release(two)
    nolog = tmp_path / "nolog"
    make_jar(nolog / "lib" / "zookeeper-3.6.2.jar", info=info_class(3, 6, 2))
    make_jar(nolog / "lib" / "slf4j-api-1.7.30.jar", server=False)
    with pytest.raises(UserInputError, match="no SLF4J binding"):
        find_release(nolog)


@pytest.mark.zookeeper
def test_find_release_debian() -> None:
    rel = find_release(DEBIAN)
    assert (rel.layout, str(rel.version), rel.wire_profile.name) == ("debian", "3.8.0", "3.5.0+")
    assert rel.jar == DEBIAN / "zookeeper.jar"


def test_release_from_classpath(tmp_path: Path) -> None:
    root = release_34(tmp_path / "r")
    entries = [root / "lib" / "slf4j-log4j12-1.6.1.jar", root / "zookeeper-3.4.3.jar", root / "lib"]
    rel = release_from_classpath(os.pathsep.join(map(str, entries)))
    assert rel.jar == root / "zookeeper-3.4.3.jar" and str(rel.version) == "3.4.3"
    assert list(rel.libs) == [entries[0], entries[2]]
    with pytest.raises(UserInputError, match="no ZooKeeper server jar"):
        release_from_classpath(str(entries[0]))
    with pytest.raises(UserInputError, match="does not exist"):
        release_from_classpath(os.pathsep.join([str(entries[1]), str(tmp_path / "gone.jar")]))


def test_command_line(tmp_path: Path) -> None:
    rel = find_release(release_34(tmp_path / "r"))
    if not shutil.which("java"):
        pytest.skip("no java on PATH")
    cmd = rel.command(tmp_path / "zoo.cfg", tmp_path / "conf", tmp_path / "tmp")
    assert cmd[-2:] == ["org.apache.zookeeper.server.quorum.QuorumPeerMain", str(tmp_path / "zoo.cfg")]
    assert cmd[cmd.index("-cp") + 1].startswith(f"{tmp_path / 'conf'}{os.pathsep}")
    assert f"-Djava.io.tmpdir={tmp_path / 'tmp'}" in cmd
    with pytest.raises(TargetUnavailable, match="no-such-java"):
        rel.command(tmp_path / "zoo.cfg", tmp_path / "conf", tmp_path / "tmp", java="no-such-java")


# ------------------------------------------------------------------------------------------------ log lines

LINE_343 = ("2026-11-27 09:36:53,075 [myid:2] - INFO  [WorkerReceiver[myid=2]:FastLeaderElection@542] - "
            "Notification: 2 (n.leader), 0x0 (n.zxid), 0x1 (n.round), LOOKING (n.state), 1 (n.sid), "
            "0x0 (n.peerEPoch), LOOKING (my state)")
LINE_346 = ("Notification: 1 (message format version), 3 (n.leader), 0x100000002 (n.zxid), 0x7 (n.round), "
            "FOLLOWING (n.state), 3 (n.sid), 0xffffffffffffffff (n.peerEpoch) LEADING (my state)")
LINE_380 = ("Notification: my state:LOOKING; n.sid:2, n.state:LOOKING, n.leader:3, n.round:0x1, "
            "n.peerEpoch:0x0, n.zxid:0x0, message format version:0x2, n.config version:0x0")


def test_parse_3_4_notification_lines() -> None:
    n = parse_notification_line_34(LINE_343)
    assert n is not None
    assert (n.sid, n.leader, n.round, n.state, n.my_state, n.version) == (1, 2, 1, "LOOKING", "LOOKING", 0)
    n = parse_notification_line_34(LINE_346)
    assert n is not None
    assert (n.version, n.leader, n.zxid, n.round, n.peer_epoch) == (1, 3, 0x1_0000_0002, 7, -1)
    assert (n.state, n.my_state) == ("FOLLOWING", "LEADING")
    assert parse_notification_line_34(LINE_380) is None
    assert parse_notification_line_34("Notification time out: 400") is None


def test_parse_any_notification_line() -> None:
    for line, sid in ((LINE_343, 1), (LINE_346, 3), (LINE_380, 2)):
        n = parse_any_notification_line(line)
        assert n is not None and n.sid == sid
    assert parse_any_notification_line("New election. My id =  1, proposed zxid=0x0") is None


def test_parse_state_lines() -> None:
    lines = {
        "2026-11-27 09:36:53,277 [myid:1] - INFO  [QuorumPeer[myid=1]/127.0.0.1:55517:QuorumPeer@738] - "
        "FOLLOWING": "FOLLOWING",
        "2026-11-27 09:58:44,595 [myid:] - INFO  [QuorumPeer[myid=1](plain=127.0.0.1:39969)(secure=disabled):"
        "o.a.z.s.q.QuorumPeer@1471] - LOOKING": "LOOKING",
        "… [QuorumPeer[myid=2]/127.0.0.1:49303:QuorumPeer@750] - LEADING  ": "LEADING",
    }
    for line, state in lines.items():
        assert parse_state_line(line) == state
    for other in ("… [QuorumPeer@906] - Peer state changed: following",
                  "… [Follower@63] - FOLLOWING - LEADER ELECTION TOOK - 589", LINE_343):
        assert parse_state_line(other) is None
