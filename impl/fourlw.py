"""Four-letter words on a zkfle node's clientPort, so the tools people point at ZooKeeper work.

Rules (ZooKeeper 3.8.0's ``FourLetterCommands`` and ``AbstractFourLetterCommand``):

- A client connects, sends four ASCII bytes, and reads the reply until the server closes the connection.
- ``ruok`` answers ``imok`` always, even while LOOKING: it says the process is up, nothing about the election.
- ``srvr`` and ``stat`` print ``ServerStats``-style lines ending in ``Mode: leader|follower|observer``, but
  only while the node is *serving*, i.e. once leader activation has established its epoch; before that they
  answer exactly ``This ZooKeeper instance is not currently serving requests`` (as ZooKeeper does while no
  ZooKeeperServer runs: LOOKING, and the discovery/sync phases after an election).
- ``zkst`` is zkfle's own word (a real ZooKeeper closes the connection on it): one line of JSON with the
  node's state, vote, round and epochs, served in every state. ``zkfle cluster`` and the benchmark read it.
- Any other word: the connection is closed without a reply. A client that sends nothing is dropped after 5 s.

Theory of operation: the node owns a ``StatusSource`` (any callable returning a ``NodeStatus`` snapshot);
``FourLetterServer`` is an asyncio server that renders a reply from a fresh snapshot per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass

NOT_SERVING = "This ZooKeeper instance is not currently serving requests\n"  # AbstractFourLetterCommand
VERSION_LINE = "Zookeeper version: 3.8.0-zkfle-0.1.0, built for zkfle (election only, no data)"
_MODES = {1: "follower", 2: "leader", 3: "observer"}  # ZooKeeperServer.getState() of each server kind
_STATE_NAMES = {0: "LOOKING", 1: "FOLLOWING", 2: "LEADING", 3: "OBSERVING"}
_READ_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class NodeStatus:
    """What a node reports about itself at one instant."""

    myid: int
    state: int  # a ServerState ordinal
    round: int  # logicalclock
    vote: tuple[int, int, int, int] | None  # (leader, zxid, electionEpoch, peerEpoch) of the current vote
    current_epoch: int
    accepted_epoch: int
    last_zxid: int
    established: bool  # leader activation done: the node is "serving"

    @property
    def state_name(self) -> str:
        return _STATE_NAMES.get(self.state, str(self.state))

    def as_json(self) -> str:
        body = asdict(self)
        body["state"] = self.state_name
        body["vote"] = list(self.vote) if self.vote is not None else None
        return json.dumps(body, sort_keys=True)


StatusSource = Callable[[], NodeStatus]


def render_srvr(status: NodeStatus) -> str:
    """``SrvrCommand`` -> ``ServerStats.toString()`` plus the mode; or the not-serving line."""
    if not status.established or status.state not in _MODES:
        return NOT_SERVING
    lines = [
        VERSION_LINE,
        "Latency min/avg/max: 0/0.0/0",
        "Received: 0",
        "Sent: 0",
        "Connections: 0",
        "Outstanding: 0",
        f"Zxid: 0x{status.last_zxid & 0xFFFFFFFFFFFFFFFF:x}",
        f"Mode: {_MODES[status.state]}",
        "Node count: 0",
    ]
    if status.state == 2:
        lines.append("Proposal sizes last/min/max: -1/-1/-1")  # Leader: ProposalStats
    return "\n".join(lines) + "\n"


def render_stat(status: NodeStatus, client: str) -> str:
    """``StatCommand``: srvr with the client list after the version line."""
    srvr = render_srvr(status)
    if srvr == NOT_SERVING:
        return srvr
    first, rest = srvr.split("\n", 1)
    return f"{first}\nClients:\n {client}[0](queued=0,recved=1,sent=0)\n\n{rest}"


def reply_for(word: bytes, status: NodeStatus, client: str) -> str | None:
    """The reply to one four-letter word, or None to close without one."""
    if word == b"ruok":
        return "imok"
    if word == b"srvr":
        return render_srvr(status)
    if word == b"stat":
        return render_stat(status, client)
    if word == b"zkst":
        return status.as_json() + "\n"
    return None


class FourLetterServer:
    """An asyncio server answering four-letter words from a ``StatusSource``."""

    def __init__(self, host: str, port: int, status: StatusSource) -> None:
        self.host = host
        self.port = port
        self._status = status
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        sockets = self._server.sockets
        if sockets:
            self.port = sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        client = f"/{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "/unknown"
        try:
            word = await asyncio.wait_for(reader.readexactly(4), _READ_TIMEOUT_S)
            reply = reply_for(word, self._status(), client)
            if reply is not None:
                writer.write(reply.encode("utf-8"))
                await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


def ask(host: str, port: int, word: str, timeout: float = 2.0) -> str:
    """Client side: send a four-letter word, return the whole reply (blocking; for tools and tests)."""
    import socket

    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(word.encode("ascii"))
        chunks: list[bytes] = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace")
