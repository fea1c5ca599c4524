"""The one zoo.cfg parser, shared by model/, proofs/ and impl/.

Reads the file ZooKeeper 3.8.0 reads (``QuorumPeerConfig.parse``), so one file configures a real
ZooKeeper server, a ``zkfle node``, the model and the proofs:

- ``key=value`` lines in Java ``Properties`` syntax (``=``, ``:`` or blanks separate; ``#``/``!`` comment);
  a later line for the same key wins, as in ``Properties.load``;
- ``server.N=host:quorumPort:electionPort[:participant|observer][;[clientHost:]clientPort]``
  (``QuorumServer(long, String)``); several ``|``-separated addresses are accepted, the first is used;
- ``group.N=a:b:c`` and ``weight.N=w``: a hierarchical quorum (``QuorumHierarchical.parse``);
- ``tickTime``, ``initLimit``, ``syncLimit``, ``clientPort``, ``clientPortAddress``, ``dataDir``;
- any other key is kept in ``extra`` and otherwise ignored, as ZooKeeper turns it into a system property.

Every problem raises ``ConfigError`` with ``path:line: problem`` on one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from zkfle.errors import ConfigError
from zkfle.quorum import QuorumHierarchical, QuorumMaj, QuorumVerifier

PARTICIPANT = "participant"
OBSERVER = "observer"
DEFAULT_TICK_TIME = 3000  # ZooKeeperServer.DEFAULT_TICK_TIME

_JAVA_LONG_MAX = (1 << 63) - 1
_SERVER_KEY = re.compile(r"^server\.(\d+)$")
_GROUP_KEY = re.compile(r"^group\.(\d+)$")
_WEIGHT_KEY = re.compile(r"^weight\.(\d+)$")


@dataclass(frozen=True)
class ServerSpec:
    """One ``server.N`` line (``QuorumPeer.QuorumServer``)."""

    sid: int
    host: str
    quorum_port: int
    election_port: int
    learner_type: str = PARTICIPANT
    client_host: str | None = None
    client_port: int | None = None

    @property
    def is_observer(self) -> bool:
        return self.learner_type == OBSERVER

    def wire_text(self) -> str:
        """``QuorumServer.toString()``: how the server appears in a notification's config text."""
        text = f"{self.host}:{self.quorum_port}:{self.election_port}:{self.learner_type}"
        if self.client_port is not None:
            text += f";{self.client_host or '0.0.0.0'}:{self.client_port}"
        return text


@dataclass(frozen=True)
class ZooCfg:
    """A parsed zoo.cfg."""

    servers: dict[int, ServerSpec]
    groups: dict[int, frozenset[int]] = field(default_factory=dict)
    weights: dict[int, int] = field(default_factory=dict)
    tick_time: int = DEFAULT_TICK_TIME
    init_limit: int = 0
    sync_limit: int = 0
    client_port: int | None = None
    client_port_address: str | None = None
    data_dir: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    path: str | None = None

    @property
    def voters(self) -> frozenset[int]:
        return frozenset(s for s, spec in self.servers.items() if not spec.is_observer)

    @property
    def observers(self) -> frozenset[int]:
        return frozenset(s for s, spec in self.servers.items() if spec.is_observer)

    @property
    def hierarchical(self) -> bool:
        return bool(self.groups)

    def quorum_verifier(self) -> QuorumVerifier:
        """``QuorumPeerConfig.parseDynamicConfig``: hierarchical when any ``group`` key is present."""
        if self.hierarchical:
            return QuorumHierarchical(
                groups=dict(self.groups),
                weights=dict(self.weights),
                voters=self.voters,
                observers=self.observers,
            )
        return QuorumMaj(voters=self.voters, observers=self.observers)

    def wire_config_text(self) -> str:
        """``QuorumVerifier.toString()`` for a static config (version 0), as sent in notifications."""
        lines = [f"server.{sid}={self.servers[sid].wire_text()}" for sid in sorted(self.servers)]
        if self.hierarchical:
            for gid in sorted(self.groups):
                lines.append(f"group.{gid}=" + ":".join(str(s) for s in sorted(self.groups[gid])))
            for sid in sorted(self.voters):
                lines.append(f"weight.{sid}={self.weights.get(sid, 1)}")
        lines.append("version=0")
        return "\n".join(lines)


def majority_config(voters: int, observers: int = 0, *, base_port: int = 20000) -> ZooCfg:
    """A loopback config with sids 1..voters (+ observers after them), for the model and tests."""
    servers: dict[int, ServerSpec] = {}
    for sid in range(1, voters + observers + 1):
        servers[sid] = ServerSpec(
            sid=sid,
            host="127.0.0.1",
            quorum_port=base_port + 2 * sid,
            election_port=base_port + 2 * sid + 1,
            learner_type=OBSERVER if sid > voters else PARTICIPANT,
        )
    return ZooCfg(servers=servers, tick_time=2000, init_limit=10, sync_limit=5)


def _split_property(raw: str) -> tuple[str, str] | None:
    """One logical line of a Java properties file -> (key, value); None for blanks and comments."""
    line = raw.strip()
    if not line or line[0] in "#!":
        return None
    match = re.match(r"^((?:\\.|[^=:\s\\])+)\s*(?:[=:]\s*|\s+|$)(.*)$", line)
    if match is None:  # pragma: no cover - the pattern matches any non-blank line
        return None
    return match.group(1).replace("\\", ""), match.group(2).strip()


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Join backslash-continued lines, keeping the number of the first physical line."""
    out: list[tuple[int, str]] = []
    pending: str | None = None
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        piece = raw if pending is None else raw.lstrip()
        if pending is None:
            start = number
        joined = (pending or "") + piece
        stripped = joined.rstrip()
        trailing = len(stripped) - len(stripped.rstrip("\\"))
        if trailing % 2 == 1 and not stripped.lstrip().startswith(("#", "!")):
            pending = stripped[:-1]
            continue
        out.append((start, joined))
        pending = None
    if pending is not None:
        out.append((start, pending))
    return out


def _int(value: str, what: str, path: str | None, line: int, *, minimum: int | None = None) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise ConfigError(f"{what} must be a whole number, got {value!r}", path=path, line=line) from None
    if minimum is not None and number < minimum:
        raise ConfigError(f"{what} must be at least {minimum}, got {number}", path=path, line=line)
    return number


def _port(value: str, what: str, path: str | None, line: int) -> int:
    port = _int(value, what, path, line)
    if not 0 < port < 65536:
        raise ConfigError(f"{what} must be a port number from 1 to 65535, got {port}", path=path, line=line)
    return port


def _host_and_port(text: str, path: str | None, line: int) -> list[str]:
    """``ConfigUtils.getHostAndPort``: split on ':' with IPv6 literals in brackets."""
    text = text.strip()
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ConfigError(f"{text!r} starts with '[' but has no closing ']'", path=path, line=line)
        host = text[1:end]
        rest = text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ConfigError(f"{text!r}: expected ':' after the IPv6 address", path=path, line=line)
        return [host, *(rest[1:].split(":") if rest else [])]
    return text.split(":")


_SERVER_FORM = (
    "expected server.N=host:quorumPort:electionPort[:participant|observer][;[clientHost:]clientPort]"
)


def parse_server(sid: int, value: str, path: str | None = None, line: int = 0) -> ServerSpec:
    """``QuorumServer(long, String)``."""
    parts = value.split(";")
    if len(parts) > 2:
        raise ConfigError(f"server.{sid}={value!r}: {_SERVER_FORM}", path=path, line=line)
    client_host: str | None = None
    client_port: int | None = None
    if len(parts) == 2:
        client = _host_and_port(parts[1], path, line)
        if len(client) > 2 or not client[-1]:
            raise ConfigError(f"server.{sid}={value!r}: {_SERVER_FORM}", path=path, line=line)
        client_host = client[0] if len(client) == 2 else "0.0.0.0"
        client_port = _port(client[-1], f"server.{sid} client port", path, line)
    first = parts[0].split("|")[0]
    fields = _host_and_port(first, path, line)
    if not 3 <= len(fields) <= 4 or not fields[0]:
        raise ConfigError(f"server.{sid}={value!r}: {_SERVER_FORM}", path=path, line=line)
    quorum_port = _port(fields[1], f"server.{sid} quorum port", path, line)
    election_port = _port(fields[2], f"server.{sid} election port", path, line)
    if quorum_port == election_port:
        raise ConfigError(
            f"server.{sid}: the quorum port and the election port must differ (both {quorum_port})",
            path=path,
            line=line,
        )
    learner_type = PARTICIPANT
    if len(fields) == 4:
        learner_type = fields[3].strip().lower()
        if learner_type not in (PARTICIPANT, OBSERVER):
            raise ConfigError(
                f"server.{sid}: unrecognised peer type {fields[3]!r} (use participant or observer)",
                path=path,
                line=line,
            )
    host = fields[0].strip()
    return ServerSpec(sid, host, quorum_port, election_port, learner_type, client_host, client_port)


def parse_zoo_cfg(text: str, path: str | None = None) -> ZooCfg:
    """Parse zoo.cfg text. Raises ``ConfigError`` naming the line and the problem."""
    props: dict[str, tuple[int, str]] = {}
    for number, logical in _logical_lines(text):
        kv = _split_property(logical)
        if kv is not None:
            props[kv[0]] = (number, kv[1])

    servers: dict[int, ServerSpec] = {}
    groups: dict[int, frozenset[int]] = {}
    weights: dict[int, int] = {}
    extra: dict[str, str] = {}
    group_of: dict[int, int] = {}
    settings: dict[str, int] = {}
    strings: dict[str, str] = {}
    for key, (line, value) in props.items():
        if m := _SERVER_KEY.match(key):
            sid = int(m.group(1))
            servers[sid] = parse_server(sid, value, path, line)
        elif key.startswith("server."):
            raise ConfigError(f"{key}: the server id must be a whole number", path=path, line=line)
        elif m := _GROUP_KEY.match(key):
            gid = int(m.group(1))
            members: set[int] = set()
            for part in value.split(":"):
                member = _int(part, f"{key} member", path, line, minimum=0)
                if member in group_of:
                    raise ConfigError(f"server {member} is in more than one group", path=path, line=line)
                group_of[member] = gid
                members.add(member)
            groups[gid] = frozenset(members)
        elif m := _WEIGHT_KEY.match(key):
            weights[int(m.group(1))] = _int(value, key, path, line, minimum=0)
            if weights[int(m.group(1))] > _JAVA_LONG_MAX:  # Long.parseLong in QuorumHierarchical.parse
                raise ConfigError(f"{key} must fit in a Java long (at most {_JAVA_LONG_MAX})", path=path,
                                  line=line)
        elif key.startswith(("group", "weight")):
            problem = f"{key}: expected group.N or weight.N with a whole number N"
            raise ConfigError(problem, path=path, line=line)
        elif key in ("tickTime", "initLimit", "syncLimit", "clientPort", "electionAlg"):
            settings[key] = _int(value, key, path, line, minimum=0)
            if key == "clientPort":
                settings[key] = _port(value, key, path, line)
        elif key in ("dataDir", "clientPortAddress", "dataLogDir", "peerType"):
            strings[key] = value
        else:
            extra[key] = value

    where_servers = min((ln for k, (ln, _) in props.items() if k.startswith("server.")), default=None)
    if settings.get("electionAlg", 3) != 3:
        raise ConfigError("only electionAlg=3 (fast leader election) is supported", path=path,
                          line=props["electionAlg"][0])
    if not servers:
        raise ConfigError("no server.N lines: a quorum needs at least one server", path=path)
    voters = [s for s, spec in servers.items() if not spec.is_observer]
    if not voters:
        raise ConfigError("every server is an observer: a quorum needs at least one participant", path=path,
                          line=where_servers)
    if groups:
        for sid in sorted(voters):
            if sid not in group_of:
                raise ConfigError(f"server {sid} is a participant but is not in any group.N", path=path,
                                  line=props[f"server.{sid}"][0])
    tick_time = settings.get("tickTime", DEFAULT_TICK_TIME)
    if tick_time == 0:
        raise ConfigError("tickTime must be positive", path=path, line=props["tickTime"][0])
    return ZooCfg(
        servers=dict(sorted(servers.items())),
        groups=groups,
        weights=weights,
        tick_time=tick_time,
        init_limit=settings.get("initLimit", 0),
        sync_limit=settings.get("syncLimit", 0),
        client_port=settings.get("clientPort"),
        client_port_address=strings.get("clientPortAddress"),
        data_dir=strings.get("dataDir"),
        extra=extra,
        path=path,
    )


def load_zoo_cfg(path: str | Path) -> ZooCfg:
    """Read and parse a zoo.cfg file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("no such file", path=str(p)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read it: {exc}", path=str(p)) from None
    return parse_zoo_cfg(text, str(p))


def read_myid(data_dir: str | Path) -> int:
    """``QuorumPeerConfig.setupMyId``: the sid on the first line of ``dataDir/myid``."""
    myid = Path(data_dir) / "myid"
    try:
        first = myid.read_text(encoding="ascii", errors="replace").splitlines()[:1]
    except FileNotFoundError:
        raise ConfigError("myid file is missing (write this server's id into it)", path=str(myid)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read it: {exc}", path=str(myid)) from None
    text = first[0].strip() if first else ""
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"serverid {text!r} is not a number", path=str(myid), line=1) from None
