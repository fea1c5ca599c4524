"""The one zoo.cfg parser: what ZooKeeper 3.8.0 accepts, and one clear line for what it does not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from zkfle.errors import ConfigError
from zkfle.quorum import QuorumHierarchical, QuorumMaj
from zkfle.zoocfg import OBSERVER, load_zoo_cfg, majority_config, parse_server, parse_zoo_cfg, read_myid

SAMPLE = """\
# the reference's sample (section 3.1)
tickTime=2000
initLimit=10
syncLimit=5
dataDir=/tmp/s1/data
clientPort=21811
clientPortAddress=127.0.0.1
4lw.commands.whitelist=*
admin.enableServer=false
server.1=127.0.0.1:28881:38881
server.2=127.0.0.1:28882:38882
server.3=127.0.0.1:28883:38883
"""


def test_sample_config_parses_like_zookeeper() -> None:
    cfg = parse_zoo_cfg(SAMPLE, "zoo.cfg")
    assert cfg.tick_time == 2000 and cfg.init_limit == 10 and cfg.sync_limit == 5
    assert cfg.client_port == 21811 and cfg.client_port_address == "127.0.0.1"
    assert cfg.data_dir == "/tmp/s1/data"
    assert cfg.voters == {1, 2, 3} and cfg.observers == frozenset()
    assert cfg.servers[2].election_port == 38882 and cfg.servers[2].quorum_port == 28882
    # unknown keys are tolerated and kept, as ZooKeeper turns them into system properties
    assert cfg.extra["4lw.commands.whitelist"] == "*"
    assert isinstance(cfg.quorum_verifier(), QuorumMaj)


def test_wire_config_text_matches_the_bytes_zookeeper_sent() -> None:
    # [verified] in the reference, section 2.3: 138 bytes from server 1
    expected = (
        "server.1=127.0.0.1:28881:38881:participant\nserver.2=127.0.0.1:28882:38882:participant\n"
        "server.3=127.0.0.1:28883:38883:participant\nversion=0"
    )
    text = parse_zoo_cfg(SAMPLE).wire_config_text()
    assert text == expected and len(text.encode()) == 138


def test_server_line_forms() -> None:
    spec = parse_server(4, "10.0.0.4:2888:3888:observer;127.0.0.1:2184")
    assert spec.learner_type == OBSERVER and spec.client_host == "127.0.0.1" and spec.client_port == 2184
    assert parse_server(5, "h:1:2;2185").client_host == "0.0.0.0"
    v6 = parse_server(6, "[::1]:2888:3888")
    assert v6.host == "::1" and v6.election_port == 3888
    assert parse_server(7, "a:1:2|b:3:4").host == "a"


def test_properties_syntax_and_last_value_wins() -> None:
    cfg = parse_zoo_cfg("tickTime : 1000\n! comment\nserver.1 = h:1:2\nserver.1=h:5:6\ninitLimit 7\n")
    assert cfg.tick_time == 1000 and cfg.init_limit == 7 and cfg.servers[1].quorum_port == 5


def test_hierarchical_config_and_default_weight() -> None:
    cfg = parse_zoo_cfg(
        "server.1=h:1:2\nserver.2=h:3:4\nserver.3=h:5:6\nserver.4=h:7:8:observer\n"
        "group.1=1:2\ngroup.2=3\nweight.2=0\n"
    )
    qv = cfg.quorum_verifier()
    assert isinstance(qv, QuorumHierarchical)
    assert qv.weight(1) == 1 and qv.weight(2) == 0
    assert qv.contains_quorum({1, 3}) and not qv.contains_quorum({2, 3})
    assert "weight.2=0" in cfg.wire_config_text() and "group.1=1:2" in cfg.wire_config_text()


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("server.1=h:x:2\n", 1, "quorum port must be a whole number"),
        ("tickTime=2000\nserver.1=h:1\n", 2, "expected server.N=host:quorumPort:electionPort"),
        ("server.1=h:1:1\n", 1, "must differ"),
        ("server.1=h:1:2:voter\n", 1, "unrecognised peer type"),
        ("server.1=h:1:99999\n", 1, "port number"),
        ("server.one=h:1:2\n", 1, "server id must be a whole number"),
        ("server.1=h:1:2\nserver.2=h:3:4\ngroup.1=1\n", 2, "not in any group"),
        ("server.1=h:1:2\ngroup.1=1\ngroup.2=1\n", 3, "more than one group"),
        ("server.1=h:1:2\nweight.1=-1\n", 2, "at least 0"),
        ("server.1=h:1:2\ntickTime=fast\n", 2, "tickTime must be a whole number"),
        ("server.1=h:1:2:observer\n", 1, "every server is an observer"),
    ],
)
def test_malformed_configs_name_the_line_and_problem(text: str, line: int, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_zoo_cfg(text, "bad.cfg")
    message = str(info.value)
    assert message.startswith(f"bad.cfg:{line}: "), message
    assert words in message and "\n" not in message


def test_no_servers_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"no server\.N lines"):
        parse_zoo_cfg("tickTime=2000\n")


def test_myid(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="myid file is missing"):
        read_myid(tmp_path)
    (tmp_path / "myid").write_text("3\n")
    assert read_myid(tmp_path) == 3
    (tmp_path / "myid").write_text("three\n")
    with pytest.raises(ConfigError, match="not a number"):
        read_myid(tmp_path)


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_zoo_cfg(tmp_path / "nope.cfg")


def test_majority_config_helper() -> None:
    cfg = majority_config(3, 1)
    assert cfg.voters == {1, 2, 3} and cfg.observers == {4}
    assert len({p for s in cfg.servers.values() for p in (s.quorum_port, s.election_port)}) == 8


def test_cli_bad_config_is_one_line_exit_2(tmp_path: Path) -> None:
    """Any subcommand that reads a zoo.cfg must fail with one line, not a traceback."""
    bad = tmp_path / "zoo.cfg"
    bad.write_text("server.1=h:1:nope\n")
    for command in ("check", "prove", "node"):
        argv = [command, "--config", str(bad)]
        if command == "prove":
            argv = [command, "quorums", "--config", str(bad)]
        run = subprocess.run(
            [sys.executable, "-m", "zkfle", *argv], capture_output=True, text=True, timeout=120
        )
        assert run.returncode == 2, (command, run.stdout, run.stderr)
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and "zoo.cfg:1:" in lines[0] and "Traceback" not in run.stderr
