"""``zkfle cluster``: a local ensemble of ``zkfle node`` processes on loopback, watched live and scripted.

Rules:

- Each node is a separate OS process (``python -m zkfle node --config <workdir>/s<sid>/zoo.cfg``) with its own
  dataDir ``<workdir>/s<sid>`` (``myid``, ``version-2/``) and log ``<workdir>/s<sid>/node.log``; all ports are
  free loopback ports chosen at start-up (``zkfle.conformance.zkserver.free_ports``).
- A node's state is read through its client port with zkfle's ``zkst`` four-letter word (state, vote, round,
  epochs, established); a node that does not answer is shown as ``down``.
- "The leader" is a node that is LEADING and established, followed by established FOLLOWING voters that,
  with it, form a quorum (``zkfle.quorum.has_quorum``). ``wait-leader`` and ``expect-leader`` also wait
  until every running node is established (a story that kills the leader next must not kill it while a
  follower is still syncing its epoch: that follower would vote with its old epoch).
- Commands (from the keyboard, or one per line of a ``--script`` file; ``#`` starts a comment):
  ``wait-leader [SECONDS]``, ``expect-leader N [SECONDS]``,
  ``expect-state N LOOKING|FOLLOWING|LEADING|OBSERVING [SECONDS]``, ``kill N`` (SIGKILL, ``k N``),
  ``restart N`` (kill if running, then start, ``r N``), ``start N``, ``stop N`` (SIGTERM),
  ``sleep SECONDS``, ``set-zxid N ZXID`` and ``set-epoch N EPOCH`` (write the node's
  ``version-2`` files; used at its next start), ``status``, ``quit`` (``q``).
  A script is parsed completely before anything starts; a bad line is the user's error (exit 2). A failed
  ``expect-*`` or ``wait-leader`` ends the run with exit 1; a script that runs to its end exits 0.
- Every process is killed when the command ends, whatever the reason.

Theory of operation: ``LocalEnsemble`` owns the processes and files, ``ClusterView`` renders a rich table of
``zkst`` snapshots, and ``run_cluster`` runs either a script (printing each step and, at the end, the table)
or an interactive loop with a live table refreshed four times a second.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Group
from rich.table import Table
from rich.text import Text

from zkfle.conformance.zkserver import free_ports, kill9_process, stop_process
from zkfle.errors import UserInputError
from zkfle.impl.epochs import ACCEPTED_EPOCH, CURRENT_EPOCH, LAST_ZXID, VERSION_DIR, write_long_atomic
from zkfle.impl.fourlw import ask
from zkfle.quorum import QuorumMaj, has_quorum
from zkfle.zoocfg import OBSERVER, PARTICIPANT, ServerSpec

STATES = ("LOOKING", "FOLLOWING", "LEADING", "OBSERVING")


@dataclass
class NodeProcess:
    """One ``zkfle node`` process and its files."""

    sid: int
    dir: Path
    client_port: int
    log_format: str = "text"
    proc: subprocess.Popen[bytes] | None = None

    @property
    def config_path(self) -> Path:
        return self.dir / "zoo.cfg"

    @property
    def log_path(self) -> Path:
        return self.dir / "node.log"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        if self.running:
            return
        cmd = [sys.executable, "-m", "zkfle", "node", "--config", str(self.config_path),
               "--log-format", self.log_format]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def kill9(self) -> None:
        kill9_process(self.proc)

    def stop(self, timeout: float = 5.0) -> None:
        stop_process(self.proc, timeout)

    def status(self, timeout: float = 0.5) -> dict[str, object] | None:
        """The node's ``zkst`` snapshot, or None if it does not answer."""
        if not self.running:
            return None
        try:
            reply = ask("127.0.0.1", self.client_port, "zkst", timeout=timeout)
            parsed = json.loads(reply)
        except (OSError, ValueError):
            return None
        return parsed if isinstance(parsed, dict) else None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""


@dataclass
class LocalEnsemble:
    """zkfle nodes on loopback, one process each (voters 1..N, observers after them)."""

    workdir: Path
    voters: int
    observers: int = 0
    tick_time: int = 200
    init_limit: int = 10
    sync_limit: int = 5
    log_format: str = "text"
    servers: Mapping[int, ServerSpec] | None = None  # given: share server lines with real ZooKeeper servers
    only: Iterable[int] | None = None  # given: zkfle runs only these sids (others are someone else's)
    nodes: dict[int, NodeProcess] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.workdir = Path(self.workdir).resolve()
        if self.servers is None:
            total = self.voters + self.observers
            ports = free_ports(2 * total)
            self.servers = {
                sid: ServerSpec(sid, "127.0.0.1", ports[2 * (sid - 1)], ports[2 * (sid - 1) + 1],
                                OBSERVER if sid > self.voters else PARTICIPANT)
                for sid in range(1, total + 1)
            }
        sids = sorted(self.only) if self.only is not None else sorted(self.servers)
        client_ports = free_ports(len(sids))
        for sid, port in zip(sids, client_ports, strict=True):
            node = NodeProcess(sid, self.workdir / f"s{sid}", port, self.log_format)
            self.nodes[sid] = node
            self._write_files(node)

    @property
    def qv(self) -> QuorumMaj:
        assert self.servers is not None
        voters = frozenset(s for s, spec in self.servers.items() if not spec.is_observer)
        return QuorumMaj(voters=voters, observers=frozenset(self.servers) - voters)

    def zoo_cfg_text(self, node: NodeProcess) -> str:
        assert self.servers is not None
        lines = [
            f"tickTime={self.tick_time}",
            f"initLimit={self.init_limit}",
            f"syncLimit={self.sync_limit}",
            f"dataDir={node.dir}",
            f"clientPort={node.client_port}",
            "clientPortAddress=127.0.0.1",
        ]
        for sid in sorted(self.servers):
            s = self.servers[sid]
            lines.append(f"server.{sid}={s.host}:{s.quorum_port}:{s.election_port}:{s.learner_type}")
        return "\n".join(lines) + "\n"

    def _write_files(self, node: NodeProcess) -> None:
        (node.dir / VERSION_DIR).mkdir(parents=True, exist_ok=True)
        (node.dir / "myid").write_text(f"{node.sid}\n", encoding="ascii")
        node.config_path.write_text(self.zoo_cfg_text(node), encoding="utf-8")

    def node(self, sid: int) -> NodeProcess:
        if sid not in self.nodes:
            raise UserInputError(f"there is no zkfle node {sid} (nodes: {sorted(self.nodes)})")
        return self.nodes[sid]

    def set_zxid(self, sid: int, zxid: int) -> None:
        write_long_atomic(self.node(sid).dir / VERSION_DIR / LAST_ZXID, zxid)

    def set_epoch(self, sid: int, epoch: int) -> None:
        base = self.node(sid).dir / VERSION_DIR
        write_long_atomic(base / ACCEPTED_EPOCH, epoch)
        write_long_atomic(base / CURRENT_EPOCH, epoch)

    def start(self, sids: Iterable[int] | None = None) -> None:
        for sid in sorted(sids) if sids is not None else sorted(self.nodes):
            self.node(sid).start()

    def stop(self) -> None:
        for node in self.nodes.values():
            node.kill9()

    def statuses(self) -> dict[int, dict[str, object] | None]:
        return {sid: node.status() for sid, node in sorted(self.nodes.items())}

    def leader(self, statuses: Mapping[int, dict[str, object] | None] | None = None) -> int | None:
        """The established leader with an established quorum following it, if any."""
        statuses = statuses if statuses is not None else self.statuses()
        for sid, st in statuses.items():
            if st is None or st.get("state") != "LEADING" or not st.get("established"):
                continue
            followers = {
                other for other, o in statuses.items()
                if o is not None and o.get("established") and o.get("state") == "FOLLOWING"
                and isinstance(o.get("vote"), list) and o["vote"][0] == sid  # type: ignore[index]
            }
            if has_quorum(self.qv, followers | {sid}):
                return sid
        return None

    def wait_for(self, predicate: Callable[[dict[int, dict[str, object] | None]], bool],
                 timeout: float) -> dict[int, dict[str, object] | None]:
        """Poll the nodes until ``predicate(statuses)``; raise ``TimeoutError`` with the last statuses."""
        deadline = time.monotonic() + timeout
        while True:
            statuses = self.statuses()
            if predicate(statuses):
                return statuses
            if time.monotonic() > deadline:
                raise TimeoutError(f"after {timeout:g} s: {_summary(statuses)}")
            time.sleep(0.05)

    def settled_leader(self, statuses: Mapping[int, dict[str, object] | None] | None = None) -> int | None:
        """The leader, once every running node is established (serving) too; None before that."""
        statuses = statuses if statuses is not None else self.statuses()
        leader = self.leader(statuses)
        if leader is None:
            return None
        for sid, node in self.nodes.items():
            st = statuses.get(sid)
            if node.running and (st is None or not st.get("established")):
                return None
        return leader

    def wait_leader(self, timeout: float = 30.0) -> int:
        """Wait for ``settled_leader``: a leader, and every running node serving (synced with it)."""
        statuses = self.wait_for(lambda st: self.settled_leader(st) is not None, timeout)
        leader = self.settled_leader(statuses)
        assert leader is not None
        return leader

    def __enter__(self) -> LocalEnsemble:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _summary(statuses: Mapping[int, dict[str, object] | None]) -> str:
    parts = []
    for sid, st in statuses.items():
        if st is None:
            parts.append(f"{sid}:down")
        else:
            mark = "" if st.get("established") else "?"
            parts.append(f"{sid}:{st.get('state')}{mark} vote={st.get('vote')}")
    return ", ".join(parts)


# ---------------------------------------------------------------------------------------------- commands


@dataclass(frozen=True)
class Command:
    verb: str
    args: tuple[str, ...]
    line: int = 0


_ALIASES = {"k": "kill", "r": "restart", "q": "quit", "s": "status"}
# Argument kinds per verb: i = integer (sid, zxid, epoch; 0x allowed), f = seconds, s = a state name;
# a trailing "?" makes the argument optional.
_SIGNATURES: dict[str, tuple[str, ...]] = {
    "wait-leader": ("f?",), "expect-leader": ("i", "f?"), "expect-state": ("i", "s", "f?"),
    "kill": ("i",), "restart": ("i",), "start": ("i",), "stop": ("i",), "sleep": ("f",),
    "set-zxid": ("i", "i"), "set-epoch": ("i", "i"), "status": (), "quit": (),
}


def _check_arg(kind: str, value: str) -> bool:
    try:
        if kind == "i":
            int(value, 0)
        elif kind == "f":
            return float(value) >= 0
        else:
            return value.upper() in STATES
    except ValueError:
        return False
    return True


def parse_command(text: str, line: int = 0, where: str = "command") -> Command | None:
    """One command line -> ``Command`` (None for blanks and comments); ``UserInputError`` if malformed."""
    body = text.split("#", 1)[0].strip()
    if not body:
        return None
    try:
        words = shlex.split(body)
    except ValueError as exc:
        raise UserInputError(f"{where}:{line}: {exc}") from None
    verb = _ALIASES.get(words[0], words[0])
    if verb not in _SIGNATURES:
        known = ", ".join(sorted(_SIGNATURES))
        raise UserInputError(f"{where}:{line}: unknown command {words[0]!r} (known: {known})")
    signature = _SIGNATURES[verb]
    args = tuple(words[1:])
    required = sum(1 for kind in signature if not kind.endswith("?"))
    if not required <= len(args) <= len(signature):
        usage = " ".join(k.rstrip("?") for k in signature)
        raise UserInputError(f"{where}:{line}: {verb} takes {required}..{len(signature)} arguments "
                             f"({usage or 'none'}), got {len(args)}")
    for kind, value in zip(signature, args, strict=False):
        if not _check_arg(kind.rstrip("?"), value):
            what = {"i": "a whole number", "f": "a number of seconds", "s": "one of " + ", ".join(STATES)}
            raise UserInputError(f"{where}:{line}: {verb}: {value!r} is not {what[kind.rstrip('?')]}")
    return Command(verb, args, line)


def parse_script(path: str) -> list[Command]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UserInputError(f"cannot read the script {path}: {exc}") from None
    commands = []
    for number, raw in enumerate(text.splitlines(), start=1):
        cmd = parse_command(raw, number, path)
        if cmd is not None:
            commands.append(cmd)
    return commands


class ScriptFailure(Exception):
    """An expectation in the script did not hold."""


def execute(ens: LocalEnsemble, cmd: Command, say: Callable[[str], None]) -> bool:
    """Run one command; False means quit. ``ScriptFailure`` if an expectation fails."""
    a = cmd.args
    if cmd.verb == "quit":
        return False
    if cmd.verb == "sleep":
        time.sleep(float(a[0]))
    elif cmd.verb == "kill":
        ens.node(int(a[0])).kill9()
        say(f"killed {a[0]} (SIGKILL)")
    elif cmd.verb == "stop":
        ens.node(int(a[0])).stop()
        say(f"stopped {a[0]}")
    elif cmd.verb in ("restart", "start"):
        node = ens.node(int(a[0]))
        if cmd.verb == "restart":
            node.kill9()
        node.start()
        say(f"started {a[0]}")
    elif cmd.verb == "set-zxid":
        ens.set_zxid(int(a[0]), int(a[1], 0))
        say(f"node {a[0]}: lastZxid = {a[1]}")
    elif cmd.verb == "set-epoch":
        ens.set_epoch(int(a[0]), int(a[1], 0))
        say(f"node {a[0]}: currentEpoch = acceptedEpoch = {a[1]}")
    elif cmd.verb == "status":
        say(_summary(ens.statuses()))
    else:
        _expect(ens, cmd, say)
    return True


def _expect(ens: LocalEnsemble, cmd: Command, say: Callable[[str], None]) -> None:
    a = cmd.args
    started = time.monotonic()
    try:
        if cmd.verb == "expect-state":
            sid, want = int(a[0]), a[1].upper()
            timeout = float(a[2]) if len(a) > 2 else 30.0

            def reached(st: dict[int, dict[str, object] | None]) -> bool:
                s = st.get(sid)
                if s is None or s.get("state") != want:
                    return False
                return want == "LOOKING" or bool(s.get("established"))

            ens.wait_for(reached, timeout)
            say(f"node {sid} is {want} ({int((time.monotonic() - started) * 1000)} ms)")
            return
        timeout_at = 0 if cmd.verb == "wait-leader" else 1
        timeout = float(a[timeout_at]) if len(a) > timeout_at else 30.0
        leader = ens.wait_leader(timeout)
    except TimeoutError as exc:
        raise ScriptFailure(f"line {cmd.line}: {cmd.verb} {' '.join(a)}: not reached {exc}") from None
    took = int((time.monotonic() - started) * 1000)
    if cmd.verb == "expect-leader" and leader != int(a[0]):
        raise ScriptFailure(f"line {cmd.line}: expected leader {a[0]}, but the leader is {leader}")
    say(f"leader is {leader} ({took} ms)")


# ---------------------------------------------------------------------------------------------- display


def render_table(statuses: Mapping[int, dict[str, object] | None], ens: LocalEnsemble) -> Table:
    leader = ens.leader(statuses)
    table = Table(title=f"zkfle cluster ({ens.workdir}) leader: {leader if leader is not None else '-'}")
    columns = ("sid", "role", "state", "vote (leader, zxid, round, peerEpoch)", "round", "epoch", "serving")
    for column in columns:
        table.add_column(column)
    for sid, st in statuses.items():
        spec = ens.servers[sid] if ens.servers else None
        role = "observer" if spec is not None and spec.is_observer else "voter"
        if st is None:
            table.add_row(str(sid), role, "[red]down[/red]", "", "", "", "")
            continue
        vote = st.get("vote")
        vote_text = ""
        if isinstance(vote, list):
            vote_text = f"({vote[0]}, 0x{int(vote[1]) & 0xFFFFFFFFFFFFFFFF:x}, {vote[2]}, {vote[3]})"
        state = str(st.get("state"))
        colour = {"LEADING": "green", "FOLLOWING": "cyan", "OBSERVING": "blue"}.get(state, "yellow")
        table.add_row(str(sid), role, f"[{colour}]{state}[/{colour}]", vote_text, str(st.get("round")),
                      f"{st.get('current_epoch')}/{st.get('accepted_epoch')}",
                      "yes" if st.get("established") else "no")
    return table


def run_cluster(args: argparse.Namespace) -> int:
    if args.servers < 1:
        raise UserInputError(f"--servers must be at least 1, got {args.servers}")
    if args.observers < 0:
        raise UserInputError(f"--observers cannot be negative, got {args.observers}")
    script = parse_script(args.script) if args.script else None
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="zkfle-cluster-"))
    workdir.mkdir(parents=True, exist_ok=True)
    ens = LocalEnsemble(workdir, args.servers, args.observers, tick_time=args.tick_time,
                        init_limit=args.init_limit, sync_limit=args.sync_limit)
    with ens:
        if script is not None:
            return _run_script(ens, script)
        ens.start()
        return _interactive(ens)


def _run_script(ens: LocalEnsemble, script: list[Command]) -> int:
    from rich.console import Console

    console = Console()
    # A script that sets zxids or epochs first, or starts nodes itself, decides who runs at first.
    if not any(c.verb == "start" for c in script):
        prelude = [c for c in script if c.verb in ("set-zxid", "set-epoch")]
        for cmd in prelude:
            execute(ens, cmd, console.print)
        script = [c for c in script if c not in prelude]
        ens.start()
        console.print(f"started nodes {sorted(ens.nodes)} in {ens.workdir}")
    try:
        for cmd in script:
            console.print(f"> {cmd.verb} {' '.join(cmd.args)}".rstrip())
            if not execute(ens, cmd, console.print):
                break
    except ScriptFailure as exc:
        console.print(render_table(ens.statuses(), ens))
        print(f"zkfle cluster: FAILED: {exc}", file=sys.stderr)
        return 1
    console.print(render_table(ens.statuses(), ens))
    return 0


def _interactive(ens: LocalEnsemble) -> int:
    from rich.console import Console
    from rich.live import Live

    console = Console()
    lines: list[str] = []
    lock = threading.Lock()
    done = threading.Event()

    def reader() -> None:
        for raw in sys.stdin:
            with lock:
                lines.append(raw)
        done.set()

    threading.Thread(target=reader, daemon=True).start()
    console.print("commands: k N (kill -9), r N (restart), start N, stop N, wait-leader, status, q (quit)")
    messages: list[str] = []
    with Live(render_table(ens.statuses(), ens), console=console, refresh_per_second=4) as live:
        while True:
            with lock:
                pending, lines[:] = list(lines), []
            quit_now = done.is_set() and not pending
            for raw in pending:
                try:
                    cmd = parse_command(raw, 0, "keyboard")
                    if cmd is not None and not execute(ens, cmd, messages.append):
                        quit_now = True
                        break
                except (UserInputError, ScriptFailure) as exc:
                    messages.append(str(exc))
            live.update(_with_messages(render_table(ens.statuses(), ens), messages[-5:]))
            if quit_now:
                return 0
            time.sleep(0.25)


def _with_messages(table: Table, messages: list[str]) -> Group:
    return Group(table, *(Text(m) for m in messages))
