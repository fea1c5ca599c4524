"""The ``node`` and ``zookeeper`` targets: one live server (the SUT), every other server played over the wire.

Rules:

- The SUT is one real process: a ``zkfle node`` or an unmodified ZooKeeper 3.8.0 (``zkserver.py``), on
  loopback, with a fresh dataDir (zxid 0, currentEpoch 0), tickTime 100 ms and initLimit 10. Every other
  server of the trace is played by the harness: one ``QuorumCnxManager`` per played sid listens on that sid's
  election port (the sid rule decides who dials), and a plain listener on its quorum port sees the SUT
  connect when it follows.
- Rounds are relative: FLE compares rounds only with each other, so a trace is replayed with every round
  shifted by ``r0 - 1``, where ``r0`` is the round of the SUT's election that the trace starts from. This
  lets one SUT process serve many traces: between traces the harness sends it back to a new election
  (see ``reset``), which is a fresh election in everything FLE looks at (empty recvset, initial vote
  (sid, 0, 0), a new round), without restarting the JVM.
- Steps, in trace order: a notification a played server delivers to the SUT is sent on the wire, and the
  harness waits for the SUT's ``Notification:`` log line for it (so the SUT sees notifications in the
  trace's order); the SUT's own loop-back is awaited the same way; a step where a played server takes a
  notification from the SUT waits until the harness has received it; ``FinalizeExpire`` and every step
  where the SUT changes state wait for its ``Peer state changed`` log line, and 30 ms more (``--settle-ms``):
  ZooKeeper sets ``currentVote`` a moment after it logs the change, and a reply in that window carries the
  previous election's vote (docs/divergences.md, D1). Other steps are the played servers' business and
  take no time.
- Checks: every notification the SUT sends to a played server must be one the model sent to that server
  by then (in order; a message may be overwritten in ZooKeeper's capacity-1 send slot, and earlier ones may
  be re-sent: the notification-timeout re-broadcast, the lastMessageSent re-send on a new connection; a
  copy of an earlier one stays unmatched until a strict check, as it may be a step's send not replayed
  yet). Its state changes must be the model's; a decision the model takes at once (not at
  ``FinalizeExpire``) must not come 190 ms or more after the notification that caused it (that is the
  finalize wait, by the SUT's own log clock). At the end, its state must be the model's (or, if the model
  left it in the finalize wait, the decision the wait ends in), and a follower must have connected to its
  leader's quorum port.
- A divergence on a live target is confirmed by replaying the trace once more; one that does not repeat
  is reported as a pass with a note (timing on a loaded machine), never silently.
- Another ZooKeeper release as the SUT (``release``, a ``versions.ZooKeeperRelease``; issue 7): it is
  started with ``versions.ReleaseServer``, and the harness speaks the release's wire profile in both
  directions (the played servers' ``QuorumCnxManager`` writes and accepts that line's handshake; injected
  notifications are encoded, and the SUT's decoded strictly, with ``release.wire_profile``). Its log is read
  with ``versions.parse_any_notification_line`` (the 3.4 and the 3.5+ forms), ``New election. My id =  N``
  (3.4 prints two spaces) and, for releases before 3.8.0, the bare state line ``QuorumPeer.run`` logs
  (``versions.parse_state_line``) instead of ``Peer state changed``, which 3.4 does not log; that line
  comes after ``currentVote`` is set, so D1 cannot happen there. Without a release, or for Debian's jar,
  everything is exactly the 3.8.0 harness above.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from zkfle.conformance.report import Divergence, TraceResult
from zkfle.conformance.trace import ConfTrace, Obs, Step
from zkfle.conformance.versions import (
    ReleaseServer,
    ZooKeeperRelease,
    parse_any_notification_line,
    parse_state_line,
)
from zkfle.conformance.zkserver import (
    ZK_JAR,
    LoggedNotification,
    ZooKeeperServer,
    check_installed,
    free_ports,
    parse_notification_line,
)
from zkfle.errors import TargetUnavailable
from zkfle.impl.events import Notification
from zkfle.impl.wire import NotificationFormatError, decode_notification, encode_notification
from zkfle.impl.wire_profiles import WireProfile
from zkfle.model.vote import FOLLOWING, LEADING, LOOKING, STATE_NAMES
from zkfle.zoocfg import PARTICIPANT, ServerSpec

Body = tuple[int, int, int, int, int]
TICK_MS, INIT_LIMIT, SYNC_LIMIT = 100, 10, 5
STEP_TIMEOUT = 5.0  # seconds to wait for one expected reaction of the SUT
FINALIZE_GAP_MS = 190  # a decision this long after its notification went through the finalize wait
SETTLE_MS = 30  # after a state change, before the next injection (see _await_state)
_STATE = re.compile(r"Peer state changed: (\w+)")
_NEW_ELECTION = re.compile(r"New election\. My id = +(\d+)")  # 3.4 prints two spaces
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3})")
_STATE_CODES = {"looking": LOOKING, "following": FOLLOWING, "leading": LEADING, "observing": 3}
PEER_STATE_CHANGED_SINCE = (3, 8, 0)  # the first release run here that logs "Peer state changed" (3.9.0 too)


class LiveDivergence(Exception):
    """The SUT did something the model does not allow at this step."""

    def __init__(self, expected: str, observed: str) -> None:
        super().__init__(f"expected {expected}; observed {observed}")
        self.expected = expected
        self.observed = observed


def body_text(b: Body) -> str:
    st, leader, zxid, rnd, pe = b
    return f"{STATE_NAMES[st]}(leader {leader}, zxid 0x{zxid:x}, round {rnd}, peerEpoch {pe})"


def _stamp_ms(line: str) -> float | None:
    m = _STAMP.match(line)
    if m is None:
        return None
    t = datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S")
    return t.timestamp() * 1000.0 + int(m[2])


# ------------------------------------------------------------------------------------------- the SUT's log
@dataclass
class LoggedLine:
    index: int
    ms: float | None
    sid: int = 0
    body: Body | None = None  # for a Notification line
    state: int | None = None  # for a Peer state changed line
    new_election: bool = False


class LogWatcher:
    """Reads the SUT's log as it grows: Notification lines, state changes and new elections, in order.

    ``release``: the SUT's release, for its log dialect (module rules); None is 3.8.0's.
    """

    def __init__(self, path: Path, release: ZooKeeperRelease | None = None) -> None:
        self.path = path
        self._parse_notification: Callable[[str], LoggedNotification | None] = parse_notification_line
        self._bare_states = False
        if release is not None:
            self._parse_notification = parse_any_notification_line
            self._bare_states = release.version.triple < PEER_STATE_CHANGED_SINCE
        self._offset = 0
        self._partial = b""
        self.lines: list[LoggedLine] = []
        self.raw_count = 0

    def poll(self) -> None:
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return
        self._offset += len(data)
        data = self._partial + data
        *complete, self._partial = data.split(b"\n")
        for raw in complete:
            self._parse(raw.decode("utf-8", errors="replace"))

    def _parse(self, line: str) -> None:
        self.raw_count += 1
        ms = _stamp_ms(line)
        n = self._parse_notification(line)
        if n is not None:
            code = _STATE_CODES.get(n.state.lower())
            if code is None:
                return
            self.lines.append(LoggedLine(len(self.lines), ms, n.sid,
                                         (code, n.leader, n.zxid, n.round, n.peer_epoch)))
            return
        state = self._state_of(line)
        if state is not None:
            self.lines.append(LoggedLine(len(self.lines), ms, state=state))
            return
        if _NEW_ELECTION.search(line):
            self.lines.append(LoggedLine(len(self.lines), ms, new_election=True))

    def _state_of(self, line: str) -> int | None:
        if self._bare_states:
            bare = parse_state_line(line)
            return _STATE_CODES[bare.lower()] if bare is not None else None
        m = _STATE.search(line)
        if m is not None and m[1].lower() in _STATE_CODES:
            return _STATE_CODES[m[1].lower()]
        return None

    def last_state(self) -> int:
        for line in reversed(self.lines):
            if line.state is not None:
                return line.state
        return LOOKING


# ------------------------------------------------------------------------------------------- SUT processes
class Sut:
    """One live server under test: start, stop, its log."""

    kind = "?"
    log_path: Path

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def alive(self) -> bool:
        raise NotImplementedError


class ZooKeeperSut(Sut):
    """Debian's ZooKeeper 3.8.0 (``zkserver``), or ``release`` started with ``versions.ReleaseServer``."""

    kind = "zookeeper"

    def __init__(self, sid: int, workdir: Path, servers: dict[int, ServerSpec],
                 release: ZooKeeperRelease | None = None) -> None:
        options = {"tick_time": TICK_MS, "init_limit": INIT_LIMIT, "sync_limit": SYNC_LIMIT}
        self.server: ZooKeeperServer
        if release is None:
            check_installed()
            self.server = ZooKeeperServer(sid, workdir, servers, **options)
        else:
            self.server = ReleaseServer(sid, workdir, servers, release, **options)
        self.log_path = self.server.log_path

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def alive(self) -> bool:
        return self.server.running


# ``zkfle node`` through zkfle.impl.cli alone: the SUT does not depend on other parts' CLIs importing cleanly.
_NODE_MAIN = (
    "import argparse, sys\n"
    "from zkfle.impl import cli\n"
    "parser = argparse.ArgumentParser(prog='zkfle')\n"
    "cli.register(parser.add_subparsers())\n"
    "args = parser.parse_args()\n"
    "sys.exit(args.handler(args))\n"
)


class NodeSut(Sut):
    kind = "node"

    def __init__(self, sid: int, workdir: Path, servers: dict[int, ServerSpec]) -> None:
        self.dir = workdir / f"node{sid}"
        (self.dir / "data").mkdir(parents=True, exist_ok=True)
        (self.dir / "data" / "myid").write_text(f"{sid}\n", encoding="ascii")
        client = free_ports(1)[0]
        lines = [f"tickTime={TICK_MS}", f"initLimit={INIT_LIMIT}", f"syncLimit={SYNC_LIMIT}",
                 f"dataDir={self.dir / 'data'}", f"clientPort={client}", "clientPortAddress=127.0.0.1"]
        lines += [f"server.{s}={v.host}:{v.quorum_port}:{v.election_port}:{v.learner_type}"
                  for s, v in sorted(servers.items())]
        self.cfg = self.dir / "zoo.cfg"
        self.cfg.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.log_path = self.dir / "node.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            argv = [sys.executable, "-c", _NODE_MAIN, "node", "--config", str(self.cfg)]
            self._proc = subprocess.Popen(argv,
                                          stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True)

    def stop(self) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None


# ------------------------------------------------------------------------------------------ played servers
@dataclass
class _PeerBox:
    """What one played server has received from the SUT, and what the model lets it expect."""

    received: list[Body] = field(default_factory=list)
    checked: int = 0  # received[:checked] were matched
    expected: list[Body] = field(default_factory=list)
    pointer: int = 0  # expected[:pointer] were matched (or overwritten)
    malformed: list[str] = field(default_factory=list)


class QuorumPort:
    """A played server's quorum port: records the SUT connecting; holds the connection, or closes it."""

    def __init__(self, spec: ServerSpec) -> None:
        self.spec = spec
        self.hold = True
        self.connections = 0
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.spec.host, self.spec.quorum_port,
                                                  reuse_address=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if not self.hold:
            writer.close()
            return
        self._writers.append(writer)
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while await reader.read(4096):
                pass
        writer.close()

    def drop_all(self) -> None:
        for w in self._writers:
            w.close()
        self._writers.clear()

    async def stop(self) -> None:
        self.drop_all()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


# ----------------------------------------------------------------------------------------------- one lane
class Lane:
    """One SUT and the harness playing the other servers; replays traces one after another."""

    def __init__(self, kind: str, voters: tuple[int, ...], sut: int, workdir: Path, *,
                 settle_ms: int = SETTLE_MS, release: ZooKeeperRelease | None = None) -> None:
        from zkfle.impl.transport import QuorumCnxManager

        release = sut_release(kind, release)
        self.kind = kind
        self.release = release
        # the SUT's wire, both ways; None: 3.8.0's codec (zkfle.impl.wire), as for every 3.5+ release
        self.profile: WireProfile | None = (
            release.wire_profile if release is not None and release.wire_profile.name != "3.5.0+" else None)
        self.voters = voters
        self.sut = sut
        self.played = tuple(s for s in voters if s != sut)
        ports = free_ports(2 * len(voters))
        self.servers = {s: ServerSpec(s, "127.0.0.1", ports[2 * k], ports[2 * k + 1], PARTICIPANT)
                        for k, s in enumerate(voters)}
        self.sut_proc: Sut = (ZooKeeperSut(sut, workdir, self.servers, release) if kind == "zookeeper"
                              else NodeSut(sut, workdir, self.servers))
        self.log = LogWatcher(self.sut_proc.log_path, release)
        self.boxes: dict[int, _PeerBox] = {p: _PeerBox() for p in self.played}
        self.qcms = {p: QuorumCnxManager(p, self.servers, on_receive=self._receiver(p),
                                         wire_profile=self.profile) for p in self.played}
        self.quorum_ports = {p: QuorumPort(self.servers[p]) for p in self.played}
        self.settle_ms = settle_ms
        self.round0 = 0  # the SUT's current election round (the trace's round 1)
        self.last_round = 0
        self.used = False
        self.mark = 0  # the SUT's log lines before this index belong to earlier traces
        self._state_seen = 0
        self._delivered_ms: float | None = None
        self._step_index = 0

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        for p in self.played:
            await self.qcms[p].start()
            await self.quorum_ports[p].start()
        self.sut_proc.start()

    async def stop(self) -> None:
        self.sut_proc.stop()
        for p in self.played:
            await self.qcms[p].stop()
            await self.quorum_ports[p].stop()

    def _receiver(self, p: int):  # type: ignore[no-untyped-def]
        def on_receive(sid: int, payload: bytes) -> None:
            if sid != self.sut:
                return
            try:
                n = decode_notification(payload) if self.profile is None else \
                    self.profile.decode_notification(payload)
            except NotificationFormatError as exc:
                self.boxes[p].malformed.append(str(exc))
                return
            self.boxes[p].received.append((n.state, n.leader, n.zxid, n.election_epoch, n.peer_epoch))
        return on_receive

    # ------------------------------------------------------------------ waiting
    def _exited(self) -> TargetUnavailable:
        return TargetUnavailable(f"the {self.kind} SUT (server {self.sut}) exited; see {self.log.path}")

    async def _until(self, cond, what: str, timeout: float = STEP_TIMEOUT,  # type: ignore[no-untyped-def]
                     strict: bool = False):
        deadline = time.monotonic() + timeout
        while True:
            self.log.poll()
            if strict:
                self._check_all(strict=True)  # a send the model does not allow fails now, not at the timeout
            got = cond()
            if got:
                return got
            if not self.sut_proc.alive():
                raise self._exited()
            if time.monotonic() > deadline:
                raise LiveDivergence(what, f"nothing within {timeout:g} s")
            await asyncio.sleep(0.004)

    # ------------------------------------------------------------------ reset to a fresh election
    def _send(self, p: int, body: Body) -> None:
        st, leader, zxid, rnd, pe = body
        if self.profile is None:
            payload = encode_notification(Notification(st, leader, zxid, rnd, pe))
        else:
            version = self.profile.notification_version
            payload = self.profile.encode_notification(Notification(st, leader, zxid, rnd, pe, version))
        self.qcms[p].to_send(self.sut, payload)

    def _forget_sent(self) -> None:
        """Drop the played servers' ``lastMessageSent`` to the SUT once the SUT has taken it.

        A played server is the harness, not a ZooKeeper: its transport would re-send its last notification on
        every new connection (QuorumCnxManager's SendWorker does), and the SUT would act on that stale copy
        (an earlier trace's FOLLOWING/LEADING vote made a LOOKING SUT follow: docs/divergences.md, D2). The
        traces are on the model's fifo channel, which has no such re-send.
        """
        for qcm in self.qcms.values():
            qcm.forget_last_sent(self.sut)

    async def reset(self) -> None:
        """Bring the SUT to a clean new election and learn its round (round0); the boxes are emptied."""
        for q in self.quorum_ports.values():
            q.hold = False
            q.drop_all()
        for _ in range(5):
            r0 = await self._new_election()
            if r0 is not None:
                break
        else:
            raise TargetUnavailable(f"the {self.kind} SUT (server {self.sut}) never started a clean election "
                                    "(one no other server's notification reached first); its log: "
                                    f"{self.log.path}")
        self._start_trace(r0)

    def _force_follow(self, rnd: int) -> list[Body]:
        """The notifications that make a LOOKING SUT follow a played leader through outofelection.

        The leader's LEADING vote first, then just enough FOLLOWING votes for a quorum of voters, so the
        decision falls on the last one: nothing is left over to reach the SUT's next election. outofelection
        matches votes on (leader, peerEpoch), so each batch carries its own peerEpoch (its round): a vote
        left over from an earlier batch can never complete this one's quorum.
        """
        leader = self.played[-1]
        need = len(self.voters) // 2 + 1  # played votes for a quorum (the SUT's own is not counted)
        followers = [p for p in self.played if p != leader][: need - 1]
        return [(LEADING, leader, 0, rnd, rnd)] + [(FOLLOWING, leader, 0, rnd, rnd) for _ in followers]

    async def _new_election(self) -> int | None:
        """Drive the SUT into a new election; its round, or None if another server's vote reached it first."""
        start_line = len(self.log.lines)
        self.last_round = max([self.last_round, *(b[3] for box in self.boxes.values() for b in box.received)])
        forced_at: float | None = None
        forced_round = self.last_round
        deadline = time.monotonic() + 30.0
        while True:
            self.log.poll()
            fresh = any(x.new_election for x in self.log.lines[start_line:])
            state = self.log.last_state()
            if (fresh or not self.used) and state == LOOKING:
                break
            if state == LOOKING and (forced_at is None or time.monotonic() - forced_at > 3.0):
                # force a decision through outofelection: a quorum of played servers following a played
                # leader in a far newer round; the SUT follows, finds the quorum port closed, re-elects.
                # Again after 3 s if the SUT is still LOOKING in the same election.
                forced_round += 5
                leader = self.played[-1]
                followers = [p for p in self.played if p != leader]
                for k, body in enumerate(self._force_follow(forced_round)):
                    self._send(leader if k == 0 else followers[k - 1], body)
                    await asyncio.sleep(0.01)
                forced_at = time.monotonic()
            if time.monotonic() > deadline:
                raise TargetUnavailable(f"the {self.kind} SUT (server {self.sut}) did not return to a new "
                                        f"election within 30 s; its log: {self.log.path}")
            if not self.sut_proc.alive():
                raise self._exited()
            await asyncio.sleep(0.01)

        def election_round() -> int | None:
            """The round of the SUT's latest election, read from its own loop-back line after it."""
            starts = [x.index for x in self.log.lines if x.new_election]
            if not starts:
                return None
            later = self.log.lines[starts[-1] + 1:]
            if any(x.state is not None and x.state != LOOKING for x in later):
                return None  # that election is already over
            own = [x.body[3] for x in later
                   if x.sid == self.sut and x.body is not None and x.body[0] == LOOKING]
            return own[0] if own else None

        def polluted() -> bool:
            """Did another server's notification reach the latest election before the trace did?

            WorkerReceiver queues every notification that arrives while the SUT is LOOKING, also between
            its return to LOOKING and the start of lookForLeader; such a left-over (a late vote of the reset,
            or of the previous trace) would be handled in the new election.
            """
            lines = self.log.lines
            looking = [x.index for x in lines if x.state == LOOKING or x.new_election]
            since = looking[-2] if len(looking) > 1 and lines[looking[-1]].new_election and \
                lines[looking[-2]].state == LOOKING else (looking[-1] if looking else 0)
            return any(x.body is not None and x.sid != self.sut for x in lines[since + 1:])

        while True:  # settled: no newer election starts within 150 ms of the one we found
            r0 = await self._until(election_round, "the SUT's loop-back vote of a new election", timeout=15.0)
            await asyncio.sleep(0.15)
            self.log.poll()
            if election_round() == r0:
                break

        if polluted():
            return None

        def initial_votes_arrived() -> bool:
            return all(any(b[0] == LOOKING and b[1] == self.sut and b[3] == r0 for b in box.received)
                       for box in self.boxes.values())

        await self._until(initial_votes_arrived, f"the SUT's round-{r0} vote to every played server")
        return int(r0)

    def _start_trace(self, r0: int) -> None:
        self.round0 = r0
        self.last_round = r0
        self.used = True
        self.mark = len(self.log.lines)
        for p in self.played:
            box = self.boxes[p]
            first = [b for b in box.received if b[0] == LOOKING and b[3] == r0]
            box.received, box.checked, box.expected, box.pointer = first[:1], 0, [], 0
            box.malformed.clear()
        self._forget_sent()
        for q in self.quorum_ports.values():
            q.connections = 0
            q.hold = True

    # ------------------------------------------------------------------ matching
    def _shift(self, b: Body) -> Body:
        return (b[0], b[1], b[2], b[3] + self.round0 - 1, b[4])

    def _match(self, p: int, strict: bool) -> None:
        """Match what played server p received against what the model let it expect (see the rules)."""
        box = self.boxes[p]
        if box.malformed:
            raise LiveDivergence(f"well-formed notifications to {p}", f"malformed: {box.malformed[0]}")
        while box.checked < len(box.received):
            got = box.received[box.checked]
            if got in box.expected[box.pointer:]:
                box.pointer = box.expected.index(got, box.pointer) + 1
            elif not strict:
                # the model may still send it in a step not replayed yet; that holds for a copy of an earlier
                # send too: the SUT runs ahead of the trace (it re-queues and re-proposes at once), and taking
                # the new send for a re-send would leave its step's expectation unmatched
                return
            elif got not in box.expected[:box.pointer]:
                allowed = [body_text(b) for b in box.expected[box.pointer:]] or ["nothing new"]
                raise LiveDivergence(f"the SUT sends server {p} one of: {'; '.join(allowed)}",
                                     f"it sent {body_text(got)}")
            box.checked += 1
        self.last_round = max([self.last_round, *(b[3] for b in box.received)])

    def _check_all(self, strict: bool) -> None:
        for p in self.played:
            self._match(p, strict)

    # ------------------------------------------------------------------ one trace
    async def run_trace(self, trace: ConfTrace) -> None:
        """Replay one trace; raise ``LiveDivergence`` at the first step the SUT diverges."""
        await self.reset()
        self._state_seen = self.mark
        self._delivered_ms = None
        sut = self.sut
        prev = trace.steps[0].servers[sut]
        consumed: set[int] = set()
        for step in trace.steps:
            self._step_index = step.index
            for msg in step.sent:
                if msg.frm == sut and msg.to != sut:
                    self.boxes[msg.to].expected.append(self._shift(msg.body))
            await self._perform(step, consumed)
            now = step.servers[sut]
            if now.alive and prev.alive and now.state != prev.state:
                await self._await_state(now.state, immediate=step.action == "Deliver")
            self._check_all(strict=False)
            prev = now
        await self._finish(prev)

    def _find_line(self, sid: int, body: Body, consumed: set[int]) -> LoggedLine | None:
        for line in self.log.lines[self.mark:]:
            if line.body == body and line.sid == sid and line.index not in consumed:
                return line
        return None

    async def _perform(self, step: Step, consumed: set[int]) -> None:
        sut = self.sut
        if step.action == "Deliver":
            d = step.delivered
            assert d is not None
            body = self._shift(d.body)
            if d.to == sut:
                if d.frm != sut:
                    self._check_all(strict=True)
                    self._send(d.frm, body)
                line = await self._until(lambda: self._find_line(d.frm, body, consumed),
                                         f"the SUT logs the notification {body_text(body)} from {d.frm}",
                                         strict=d.frm == sut)
                consumed.add(line.index)
                self._delivered_ms = line.ms
                self._forget_sent()
            elif d.frm == sut:
                box = self.boxes[d.to]

                def seen() -> bool:
                    self._match(d.to, strict=False)
                    return body in box.expected[:box.pointer]
                await self._until(seen, f"the SUT sends server {d.to} {body_text(body)}", strict=True)

    async def _await_state(self, state: int, immediate: bool) -> None:
        """Wait for the SUT's next state change; it must be ``state`` (and at once, if ``immediate``)."""
        start = max(self._state_seen, self.mark)

        def changed() -> LoggedLine | None:
            for line in self.log.lines[start:]:
                if line.state is not None:
                    return line
            return None
        line = await self._until(changed, f"the SUT changes state to {STATE_NAMES[state]}", timeout=2.0)
        self._state_seen = line.index + 1
        # QuorumPeer.run sets currentVote only after lookForLeader returns, a moment after setPeerState
        # logged the change: a reply in between carries the previous election's vote (docs/divergences.md, D1)
        await asyncio.sleep(self.settle_ms / 1000.0)
        if line.state != state:
            raise LiveDivergence(f"the SUT changes state to {STATE_NAMES[state]}",
                                 f"it changed to {STATE_NAMES[line.state or 0]}")
        cause = self._delivered_ms
        if immediate and cause is not None and line.ms is not None and line.ms - cause >= FINALIZE_GAP_MS:
            raise LiveDivergence(f"the SUT decides {STATE_NAMES[state]} at once on this notification",
                                 f"it decided {line.ms - cause:.0f} ms later (after the finalize wait)")

    async def _finish(self, last: Obs) -> None:
        """The end of the trace: every expected send arrived, nothing else did, the final state is right."""
        want = last.state
        if want == LOOKING and last.finalize_wait:
            # the model leaves the SUT in the finalize wait: the wait ends in a decision for the proposal
            want = LEADING if last.proposal[0] == self.sut else FOLLOWING
            await self._await_state(want, immediate=False)

        def complete() -> bool:
            self._check_all(strict=True)
            return all(b.pointer >= len(b.expected) for b in self.boxes.values())
        try:
            await self._until(complete, "every notification the model sends", timeout=2.0)
        except LiveDivergence:
            missing = {p: [body_text(x) for x in b.expected[b.pointer:]] for p, b in self.boxes.items()
                       if b.pointer < len(b.expected)}
            raise LiveDivergence(f"the SUT sends {missing}", "it never sent them") from None
        await asyncio.sleep(0.25)  # a quiet moment: anything the model does not allow shows up now
        self.log.poll()
        self._check_all(strict=True)
        since = [x.state for x in self.log.lines[self.mark:] if x.state is not None]
        actual = since[-1] if since else LOOKING
        if actual != want:
            raise LiveDivergence(f"the SUT ends {STATE_NAMES[want]}", f"it is {STATE_NAMES[actual]}")
        if want == FOLLOWING:
            leader = last.proposal[0] if last.state == LOOKING else last.leader
            port = self.quorum_ports.get(leader) if leader is not None else None
            if port is not None:
                await self._until(lambda: port.connections > 0,
                                  f"the SUT connects to its leader {leader}'s quorum port")


# ------------------------------------------------------------------------------------------ the target
def sut_release(kind: str, release: ZooKeeperRelease | None) -> ZooKeeperRelease | None:
    """The release a ``zookeeper`` SUT runs, None for Debian's 3.8.0 (then the harness is exactly 3.8.0's).

    Debian's own jar named as a release (``--zookeeper-home /usr/share/java``) is the default; a release
    for another target is the caller's bug.
    """
    if release is None:
        return None
    if kind != "zookeeper":
        raise ValueError(f"a ZooKeeper release is the SUT of the zookeeper target only, not of {kind!r}")
    if release.jar.resolve() == ZK_JAR.resolve():
        return None
    return release


class LiveTarget:
    """Replays traces against ``lanes`` SUT processes of one kind, in parallel (one asyncio loop)."""

    def __init__(self, kind: str, *, lanes: int = 1, confirm: bool = True, keep: bool = False,
                 settle_ms: int = SETTLE_MS, release: ZooKeeperRelease | None = None) -> None:
        self.release = sut_release(kind, release)
        if kind == "zookeeper" and self.release is None:
            check_installed()
        self.kind = kind
        self.lanes = max(1, lanes)
        self.confirm = confirm
        self.keep = keep
        self.settle_ms = settle_ms

    def run(self, traces: list[ConfTrace], reproduce: str) -> list[TraceResult]:
        return asyncio.run(self._run(traces, reproduce))

    async def _run(self, traces: list[ConfTrace], reproduce: str) -> list[TraceResult]:
        groups: dict[tuple[tuple[int, ...], int], list[int]] = {}
        for k, t in enumerate(traces):
            groups.setdefault((t.voters, t.sut), []).append(k)
        results: list[TraceResult | None] = [None] * len(traces)
        workdir = Path(tempfile.mkdtemp(prefix=f"zkfle-conform-{self.kind}-"))
        keep_files = False
        try:
            for g, ((voters, sut), idx) in enumerate(groups.items()):
                queue: asyncio.Queue[int] = asyncio.Queue()
                for k in idx:
                    queue.put_nowait(k)
                n = min(self.lanes, len(idx))
                lanes = [Lane(self.kind, voters, sut, workdir / f"group{g}-sut{sut}-lane{j}",
                              settle_ms=self.settle_ms, release=self.release) for j in range(n)]
                try:
                    await asyncio.gather(*(self._serve(ln, queue, traces, results, reproduce)
                                           for ln in lanes))
                except BaseException:
                    keep_files = True  # the harness lost a SUT: keep its files for a post-mortem
                    raise
        finally:
            if not (self.keep or keep_files):
                shutil.rmtree(workdir, ignore_errors=True)
        return [r for r in results if r is not None]

    async def _serve(self, lane: Lane, queue: asyncio.Queue[int], traces: list[ConfTrace],
                     results: list[TraceResult | None], reproduce: str) -> None:
        lane.sut_proc.log_path.parent.mkdir(parents=True, exist_ok=True)
        await lane.start()
        try:
            while not queue.empty():
                k = queue.get_nowait()
                results[k] = await self._one(lane, traces[k], reproduce)
        finally:
            await lane.stop()

    async def _one(self, lane: Lane, trace: ConfTrace, reproduce: str) -> TraceResult:
        started = time.perf_counter()
        first = await _attempt(lane, trace)
        notes: list[str] = []
        div = first
        if first is not None and self.confirm:
            second = await _attempt(lane, trace)
            if second is None:
                notes.append(f"diverged once ({first[1]}: observed {first[3]}), conformed on the re-run: "
                             "taken as timing on a loaded machine")
            div = second
        result = TraceResult(trace.name, str(trace.path), self.kind, len(trace.steps),
                             time.perf_counter() - started, notes=notes)
        if div is not None:
            k, action, expected, observed = div
            prefix = [s.describe() for s in trace.steps[:k + 1]]
            result.divergence = Divergence(k, action, expected, observed, prefix,
                                           reproduce.format(path=trace.path), trace.sut)
        return result


async def _attempt(lane: Lane, trace: ConfTrace) -> tuple[int, str, str, str] | None:
    lane._step_index = 0
    try:
        await lane.run_trace(trace)
    except LiveDivergence as exc:
        k = lane._step_index
        return k, trace.steps[k].describe(), exc.expected, exc.observed
    return None
