"""QuorumCnxManager on asyncio, over real sockets on 127.0.0.1 (free ports only).

Raw peers (plain asyncio streams speaking the wire codec) play the misbehaving or the ZooKeeper side, so each
rule of QuorumCnxManager is seen from the other end of the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import pytest

from zkfle.conformance.zkserver import free_ports
from zkfle.errors import UserInputError
from zkfle.impl.transport import QuorumCnxManager
from zkfle.impl.wire import (
    OBSERVER_ID,
    PACKET_MAX_SIZE,
    FrameReader,
    HandshakeReader,
    encode_frame,
    encode_handshake,
    encode_legacy_handshake,
    read_frame,
    read_handshake,
)
from zkfle.impl.wire_profiles import ZK_3_4_0, ZK_3_4_6
from zkfle.zoocfg import ServerSpec

HELLO_9 = encode_handshake(9, "127.0.0.1:1")  # a handshake from sid 9, not in any configuration
WAIT = 10.0  # liveness bound for every wait: a hang fails the test instead of blocking it


def run(coro: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(asyncio.wait_for(coro(), 60))


def specs(*sids: int) -> dict[int, ServerSpec]:
    ports = free_ports(2 * len(sids))
    return {sid: ServerSpec(sid, "127.0.0.1", ports[2 * i], ports[2 * i + 1]) for i, sid in enumerate(sids)}


class Peer:
    """A QuorumCnxManager and what it received."""

    def __init__(self, sid: int, servers: dict[int, ServerSpec], **options: Any) -> None:
        self.got: list[tuple[int, bytes]] = []
        self._changed = asyncio.Event()
        options.setdefault("log", logging.getLogger(f"test.qcm.{sid}"))
        self.qcm = QuorumCnxManager(sid, servers, on_receive=self._on_receive, **options)

    def _on_receive(self, sid: int, payload: bytes) -> None:
        self.got.append((sid, payload))
        self._changed.set()

    async def received(self, sid: int, payload: bytes) -> None:
        async with asyncio.timeout(WAIT):
            while (sid, payload) not in self.got:
                self._changed.clear()
                await self._changed.wait()


@asynccontextmanager
async def peers(servers: dict[int, ServerSpec], *sids: int, **options: Any) -> AsyncIterator[dict[int, Peer]]:
    out = {sid: Peer(sid, servers, **options) for sid in sids}
    try:
        for p in out.values():
            await p.qcm.start()
        yield out
    finally:
        for p in out.values():
            await p.qcm.stop()


async def exchange(a: Peer, b: Peer, tag: str) -> None:
    """a and b each send one message to the other, and both arrive."""
    ma, mb = f"{tag}:{a.qcm.myid}".encode(), f"{tag}:{b.qcm.myid}".encode()
    a.qcm.to_send(b.qcm.myid, ma)
    b.qcm.to_send(a.qcm.myid, mb)
    await b.received(a.qcm.myid, ma)
    await a.received(b.qcm.myid, mb)


class RawListener:
    """A raw election listener that records each accepted connection's handshake and frames."""

    def __init__(self) -> None:
        self.conns: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self, port: int) -> None:
        def on_accept(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            self.writers.append(w)
            self.conns.put_nowait((r, w))

        self.server = await asyncio.start_server(on_accept, "127.0.0.1", port)

    async def accept(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.wait_for(self.conns.get(), WAIT)

    async def close(self) -> None:
        for writer in self.writers:
            writer.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


async def raw_connect(port: int, handshake: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(handshake)
    await writer.drain()
    return reader, writer


async def at_eof(reader: asyncio.StreamReader) -> bool:
    """True when the other side closed (read returns EOF) within WAIT; frames before it are skipped."""
    async with asyncio.timeout(WAIT):
        while await reader.read(4096):
            pass
    return True


async def eventually(predicate: Callable[[], bool]) -> None:
    """Wait (up to WAIT) until predicate holds: connection churn between two dialling peers settles."""
    async with asyncio.timeout(WAIT):
        while not predicate():
            await asyncio.sleep(0.01)


async def next_frame(reader: asyncio.StreamReader) -> bytes | None:
    return await asyncio.wait_for(read_frame(reader), WAIT)


# ------------------------------------------------------------------------------------------- happy paths


def test_two_managers_exchange_frames_over_one_connection() -> None:
    async def go() -> None:
        servers = specs(1, 2)
        async with peers(servers, 1, 2) as p:
            await exchange(p[1], p[2], "hello")
            # both dialled at once: the connection 1 opened loses, and the pair settles on one connection
            await eventually(lambda: p[1].qcm.connected() == {2} and p[2].qcm.connected() == {1})
            await exchange(p[1], p[2], "again")

    run(go)


def test_three_managers_all_pairs_and_loopback_order() -> None:
    async def go() -> None:
        async with peers(specs(1, 2, 3), 1, 2, 3) as p:
            for a in (1, 2, 3):
                for b in (1, 2, 3):
                    p[a].qcm.to_send(b, f"{a}->{b}".encode())
            for a in (1, 2, 3):
                for b in (1, 2, 3):
                    await p[b].received(a, f"{a}->{b}".encode())
            p[2].qcm.to_send(2, b"first")
            p[2].qcm.to_send(2, b"second")
            assert (2, b"first") not in p[2].got  # the loop-back goes through the loop, never re-entrantly
            await p[2].received(2, b"second")
            own = [m for s, m in p[2].got if s == 2]
            assert own == [b"2->2", b"first", b"second"]  # the loop-back keeps the order
            await eventually(lambda: all(p[s].qcm.connected() == {1, 2, 3} - {s} for s in p))

    run(go)


def test_connect_all_dials_every_peer_without_a_message() -> None:
    async def go() -> None:
        async with peers(specs(1, 2, 3), 1, 2, 3) as p:
            p[3].qcm.connect_all()
            p[2].qcm.connect_all()
            async with asyncio.timeout(WAIT):
                while p[3].qcm.connected() != {1, 2} or p[1].qcm.connected() != {2, 3}:
                    await asyncio.sleep(0.01)

    run(go)


# ---------------------------------------------------------------------------------------------- sid rule


def test_acceptor_keeps_a_connection_from_a_larger_sid() -> None:
    async def go() -> None:
        servers = specs(1, 5)
        async with peers(servers, 1) as p:
            reader, writer = await raw_connect(servers[1].election_port, encode_handshake(5, "127.0.0.1:1"))
            writer.write(encode_frame(b"from 5"))
            await p[1].received(5, b"from 5")
            p[1].qcm.to_send(5, b"to 5")
            assert await next_frame(reader) == b"to 5"
            assert p[1].qcm.connected() == {5}
            writer.close()

    run(go)


def test_acceptor_drops_a_smaller_sid_and_dials_back_to_the_advertised_address() -> None:
    async def go() -> None:
        servers = specs(3)
        back = RawListener()
        back_port = free_ports(1)[0]
        await back.start(back_port)
        async with peers(servers, 3) as p:
            # sid 1 is not in the configuration: the dial-back goes to the address in the handshake
            reader, writer = await raw_connect(servers[3].election_port,
                                               encode_handshake(1, f"127.0.0.1:{back_port}"))
            writer.write(encode_frame(b"dropped"))
            assert await at_eof(reader)
            r2, w2 = await back.accept()
            hs = await read_handshake(r2, WAIT)
            assert (hs.sid, hs.addresses) == (3, (("127.0.0.1", servers[3].election_port),))
            w2.write(encode_frame(b"kept"))
            await p[3].received(1, b"kept")
            assert (1, b"dropped") not in p[3].got
            w2.close()
            writer.close()
        await back.close()

    run(go)


def test_initiator_to_a_larger_sid_sends_the_handshake_in_one_write_then_closes() -> None:
    async def go() -> None:
        servers = specs(1, 2)
        big = RawListener()
        await big.start(servers[2].election_port)
        async with peers(servers, 1) as p:
            p[1].qcm.to_send(2, b"vote")
            reader, _ = await big.accept()
            # the handshake arrives whole, then the socket closes without a frame
            data = await asyncio.wait_for(reader.read(), WAIT)
            assert data == encode_handshake(1, f"127.0.0.1:{servers[1].election_port}")
            assert 2 not in p[1].qcm.connected()
            assert not p[1].qcm.have_delivered()  # the vote still waits in the slot for the dial-back
        await big.close()

    run(go)


def test_initiator_to_a_smaller_sid_keeps_the_connection() -> None:
    async def go() -> None:
        servers = specs(1, 2)
        small = RawListener()
        await small.start(servers[1].election_port)
        async with peers(servers, 2) as p:
            p[2].qcm.to_send(1, b"vote")
            reader, writer = await small.accept()
            hs = await read_handshake(reader, WAIT)
            assert hs.sid == 2
            assert await next_frame(reader) == b"vote"
            writer.write(encode_frame(b"reply"))
            await p[2].received(1, b"reply")
            assert p[2].qcm.have_delivered()
            writer.close()
        await small.close()

    run(go)


def test_legacy_and_observer_id_handshakes() -> None:
    async def go() -> None:
        servers = specs(1)
        async with peers(servers, 1) as p:
            port = servers[1].election_port
            _reader, writer = await raw_connect(port, encode_legacy_handshake(7))
            writer.write(encode_frame(b"legacy"))
            await p[1].received(7, b"legacy")
            # Long.MAX_VALUE becomes -1: a smaller sid, so it is dropped
            r2, w2 = await raw_connect(port, encode_handshake(OBSERVER_ID, "127.0.0.1:1"))
            assert await at_eof(r2)
            writer.close()
            w2.close()

    run(go)


# ----------------------------------------------------------------------------------- send slot, re-send


def test_the_send_slot_keeps_only_the_newest_unsent_message() -> None:
    async def go() -> None:
        servers = specs(1, 2)
        async with peers(servers, 1) as p:
            for m in (b"a", b"b", b"c"):
                p[1].qcm.to_send(2, m)  # sid 2 is down: each newer message replaces the unsent one
            assert not p[1].qcm.have_delivered()
            async with peers(servers, 2) as late:  # sid 2 comes up; the retry delivers the slot
                await late[2].received(1, b"c")
                assert late[2].got == [(1, b"c")]
                assert p[1].qcm.have_delivered()

    run(go)


def test_have_delivered_is_true_when_any_slot_is_empty() -> None:
    async def go() -> None:
        servers = specs(1, 2, 3)
        async with peers(servers, 3, 2) as p:
            assert not p[3].qcm.have_delivered()  # no slot at all
            await exchange(p[3], p[2], "x")
            p[3].qcm.to_send(1, b"never")  # sid 1 is down: its slot stays full
            assert p[3].qcm.have_delivered()  # ... but sid 2's slot is empty: "any", not "all"

    run(go)


def test_the_last_message_is_re_sent_on_every_new_connection() -> None:
    async def go() -> None:
        servers = specs(1, 2)
        small = RawListener()
        await small.start(servers[1].election_port)
        async with peers(servers, 2) as p:
            p[2].qcm.to_send(1, b"last")
            r1, w1 = await small.accept()
            await read_handshake(r1, WAIT)
            assert await next_frame(r1) == b"last"
            w1.close()  # break the connection
            async with asyncio.timeout(WAIT):
                while 1 in p[2].qcm.connected():
                    await asyncio.sleep(0.01)
            p[2].qcm.connect_all()
            r2, w2 = await small.accept()
            await read_handshake(r2, WAIT)
            assert await next_frame(r2) == b"last"  # lastMessageSent, with the slot empty
            w2.close()
            async with asyncio.timeout(WAIT):
                while 1 in p[2].qcm.connected():
                    await asyncio.sleep(0.01)
            # the twin: with a newer message in the slot, that one goes first and the old one never
            p[2].qcm.to_send(1, b"newer")
            r3, w3 = await small.accept()
            await read_handshake(r3, WAIT)
            assert await next_frame(r3) == b"newer"
            w3.close()
        await small.close()
    asyncio.run(go())


def test_forget_last_sent_means_a_new_connection_re_sends_nothing() -> None:
    """The conformance harness's hook: after forget_last_sent(sid) a reconnect carries no stale copy."""

    async def go() -> None:
        servers = specs(1, 2)
        small = RawListener()
        await small.start(servers[1].election_port)
        async with peers(servers, 2) as p:
            p[2].qcm.to_send(1, b"stale")
            r1, w1 = await small.accept()
            await read_handshake(r1, WAIT)
            assert await next_frame(r1) == b"stale"
            w1.close()
            async with asyncio.timeout(WAIT):
                while 1 in p[2].qcm.connected():
                    await asyncio.sleep(0.01)
            p[2].qcm.forget_last_sent(1)
            p[2].qcm.connect_all()
            r2, w2 = await small.accept()
            await read_handshake(r2, WAIT)
            with pytest.raises(TimeoutError):  # without the forget, "stale" would arrive at once
                await asyncio.wait_for(next_frame(r2), 0.3)
            p[2].qcm.to_send(1, b"fresh")
            assert await next_frame(r2) == b"fresh"
            w2.close()
        await small.close()

    run(go)


# -------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 10, id="garbage"),
        pytest.param(struct.pack(">qqi", -65536, 9, 100000), id="huge-address-length"),
        pytest.param(struct.pack(">qqi", -65536, 9, 3) + b"a:x", id="bad-address"),
        pytest.param(HELLO_9 + struct.pack(">i", PACKET_MAX_SIZE + 1), id="oversized"),
        pytest.param(HELLO_9 + struct.pack(">i", -4), id="negative-length"),
        pytest.param(HELLO_9 + struct.pack(">i", 0), id="zero-length"),
    ],
)
def test_bad_bytes_close_only_that_connection(bad: bytes) -> None:
    async def go() -> None:
        servers = specs(1, 2)
        async with peers(servers, 1, 2, socket_timeout=2.0) as p:
            reader, writer = await raw_connect(servers[1].election_port, bad)
            await exchange(p[1], p[2], "while-bad")
            assert await at_eof(reader)  # the manager closed the bad connection
            await exchange(p[1], p[2], "after-bad")
            assert not any(s == 9 for s, _ in p[1].got)
            await eventually(lambda: p[1].qcm.connected() == {2})
            writer.close()

    run(go)


def test_a_good_frame_before_a_bad_length_is_delivered() -> None:
    # the twin of the test above: the codec only rejects the bad length, not the connection's earlier frames
    async def go() -> None:
        servers = specs(1)
        async with peers(servers, 1) as p:
            data = HELLO_9 + encode_frame(b"good") + struct.pack(">i", PACKET_MAX_SIZE + 1)
            reader, writer = await raw_connect(servers[1].election_port, data)
            await p[1].received(9, b"good")
            assert await at_eof(reader)
            writer.close()

    run(go)


def test_a_stalled_handshake_neither_blocks_others_nor_lives_forever() -> None:
    async def go() -> None:
        servers = specs(1, 2, 3)
        async with peers(servers, 1, 2, 3, socket_timeout=1.0) as p:
            port = servers[1].election_port
            silent_r, silent_w = await asyncio.open_connection("127.0.0.1", port)  # connects, says nothing
            half_r, half_w = await raw_connect(port, encode_handshake(9, "127.0.0.1:1")[:10])
            # while both stall their handshakes, sids 2 and 3 connect to 1 and talk
            await exchange(p[1], p[3], "stall")
            await exchange(p[2], p[1], "stall")
            # and the stalled sockets are closed after socket_timeout
            assert await at_eof(silent_r)
            assert await at_eof(half_r)
            silent_w.close()
            half_w.close()

    run(go)


def test_a_handshake_split_across_writes_is_accepted() -> None:
    async def go() -> None:
        servers = specs(1)
        async with peers(servers, 1) as p:
            hs = encode_handshake(9, "127.0.0.1:1") + encode_frame(b"split")
            _reader, writer = await asyncio.open_connection("127.0.0.1", servers[1].election_port)
            for i in range(0, len(hs), 5):
                writer.write(hs[i : i + 5])
                await writer.drain()
                await asyncio.sleep(0.01)
            await p[1].received(9, b"split")
            writer.close()

    run(go)


def test_a_peer_that_never_reads_stalls_only_itself() -> None:
    async def go() -> None:
        servers = specs(1, 2, 3)
        async with peers(servers, 3, 2) as p:
            _reader, writer = await raw_connect(servers[3].election_port, encode_handshake(9, "127.0.0.1:1"))
            writer.write(encode_frame(b"hi"))
            await p[3].received(9, b"hi")
            big = bytes(PACKET_MAX_SIZE)
            for i in range(40):  # ~20 MiB towards a socket nobody reads
                p[3].qcm.to_send(9, big[:-1] + bytes([i]))
                await exchange(p[3], p[2], f"busy{i}")
            # and stopping does not wait for that peer to read what is queued for it
            async with asyncio.timeout(WAIT):
                await p[3].qcm.stop()
            writer.close()

    run(go)


def test_unknown_sids_are_reported_and_a_duplicate_replaces_the_old_connection() -> None:
    async def go() -> None:
        servers = specs(1)
        async with peers(servers, 1) as p:
            port = servers[1].election_port
            r1, w1 = await raw_connect(port, encode_handshake(42, "127.0.0.1:1") + encode_frame(b"one"))
            await p[1].received(42, b"one")
            r2, w2 = await raw_connect(port, encode_handshake(42, "127.0.0.1:1") + encode_frame(b"two"))
            await p[1].received(42, b"two")
            assert await at_eof(r1)  # the old connection for sid 42 was finished
            p[1].qcm.to_send(42, b"to the new one")
            assert await next_frame(r2) == b"to the new one"
            # an unknown sid that is smaller, with no address to dial back: closed, never reported
            r3, w3 = await raw_connect(port, encode_legacy_handshake(0) + encode_frame(b"zero"))
            assert await at_eof(r3)
            assert not any(s == 0 for s, _ in p[1].got)
            # a connection claiming my own sid is closed too
            r4, w4 = await raw_connect(port, encode_handshake(1, "127.0.0.1:1") + encode_frame(b"me"))
            assert await at_eof(r4)
            assert (1, b"me") not in p[1].got
            for w in (w1, w2, w3, w4):
                w.close()

    run(go)


def test_a_failing_on_receive_does_not_kill_the_connection() -> None:
    async def go() -> None:
        servers = specs(1, 2)
        got: list[bytes] = []

        def fragile(sid: int, payload: bytes) -> None:
            if payload == b"boom":
                raise RuntimeError("the node broke")
            got.append(payload)

        q1 = QuorumCnxManager(1, servers, on_receive=fragile)
        async with peers(servers, 2) as p:
            await q1.start()
            try:
                p[2].qcm.to_send(1, b"boom")
                async with asyncio.timeout(WAIT):
                    while 1 not in p[2].qcm.connected():
                        await asyncio.sleep(0.01)
                p[2].qcm.to_send(1, b"fine")
                async with asyncio.timeout(WAIT):
                    while got != [b"fine"]:
                        await asyncio.sleep(0.01)
                assert q1.connected() == {2}
            finally:
                await q1.stop()

    run(go)


def test_misuse_is_reported_to_the_caller() -> None:
    async def go() -> None:
        servers = specs(1, 2)
        with pytest.raises(UserInputError, match="not in the configuration"):
            QuorumCnxManager(7, servers, on_receive=lambda s, b: None)
        async with peers(servers, 1) as p:
            with pytest.raises(ValueError, match="bytes"):
                p[1].qcm.to_send(2, b"")
            clash = QuorumCnxManager(1, servers, on_receive=lambda s, b: None)
            with pytest.raises(UserInputError, match="cannot listen"):
                await clash.start()

    run(go)


def test_an_unconfigured_manager_listens_anywhere_and_advertises_it() -> None:
    async def go() -> None:
        servers = specs(1)
        async with peers(servers, 1) as p:
            client = Peer(50, servers, listen_host="127.0.0.1")
            await client.qcm.start()
            try:
                await exchange(client, p[1], "client")
                assert client.qcm.address[1] != 0
            finally:
                await client.qcm.stop()

    run(go)


def test_frame_reader_agrees_with_what_the_manager_writes() -> None:
    async def go() -> None:
        servers = specs(1, 2)
        small = RawListener()
        await small.start(servers[1].election_port)
        async with peers(servers, 2) as p:
            p[2].qcm.to_send(1, b"m1")
            reader, writer = await small.accept()
            hs_reader = HandshakeReader()
            frames = FrameReader()
            got: list[bytes] = []
            async with asyncio.timeout(WAIT):
                while not got:
                    chunk = await reader.read(4096)
                    if hs_reader.feed(chunk) is not None:
                        got += frames.feed(hs_reader.rest)
                        hs_reader.rest = b""
            assert got == [b"m1"]
            writer.close()
        await small.close()

    run(go)


class Records(logging.Handler):
    """Keeps the messages a logger emits."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_a_dial_that_times_out_blocks_nobody_and_is_retried_until_it_lands() -> None:
    async def go() -> None:
        servers = specs(1, 2, 3)
        # sid 1's port is a black hole: a listener that never accepts, its backlog of one already taken,
        # so the kernel drops further SYNs and a connect() hangs until its timeout
        hole = socket.socket()
        hole.bind(("127.0.0.1", servers[1].election_port))
        hole.listen(0)
        filler = socket.create_connection(("127.0.0.1", servers[1].election_port))
        records = Records()
        logger = logging.getLogger("test.qcm.timeouts")
        logger.addHandler(records)
        try:
            async with peers(servers, 3, 2, connect_timeout=0.2, log=logger) as p:
                p[3].qcm.to_send(1, b"patience")
                await exchange(p[3], p[2], "meanwhile")  # the hung dial blocks nobody
                gave_up = "Cannot open channel to 1 at election address 127.0.0.1"
                async with asyncio.timeout(WAIT):
                    while not any(gave_up in m and "timed out" in m for m in records.messages):
                        await asyncio.sleep(0.02)
                assert 1 not in p[3].qcm.connected()
                filler.close()
                hole.close()  # sid 1 comes up on its port: a later retry delivers the waiting message
                async with peers(servers, 1) as late:
                    await late[1].received(3, b"patience")
        finally:
            logger.removeHandler(records)
            filler.close()
            hole.close()

    run(go)


def test_an_unknown_sid_is_dialled_at_the_address_it_advertised() -> None:
    async def go() -> None:
        servers = specs(1)
        home = RawListener()
        home_port = free_ports(1)[0]
        await home.start(home_port)
        async with peers(servers, 1) as p:
            # sid 60 is not configured: it connects once, advertising where it listens, then goes away
            hello = encode_handshake(60, f"127.0.0.1:{home_port}") + encode_frame(b"hi")
            _, writer = await raw_connect(servers[1].election_port, hello)
            await p[1].received(60, b"hi")
            writer.close()
            async with asyncio.timeout(WAIT):
                while 60 in p[1].qcm.connected():
                    await asyncio.sleep(0.01)
            # its send slot is empty, so nothing retries: only connect_all, which walks the send slots, dials
            # it, at the advertised address; 60 > 1, so the dial only says hello and drops
            p[1].qcm.connect_all()
            r1, _ = await home.accept()
            assert (await read_handshake(r1, WAIT)).sid == 1
            assert await at_eof(r1)
            # a message for it dials there too
            p[1].qcm.to_send(60, b"for 60")
            r2, _ = await home.accept()
            assert (await read_handshake(r2, WAIT)).sid == 1
        await home.close()

    run(go)


# ------------------------------------------------------------------------------ another line's wire profile


def test_a_3_4_profile_writes_the_sid_alone_and_keeps_the_connection_to_a_smaller_sid() -> None:
    async def go() -> None:
        servers = specs(1, 2)
        small = RawListener()
        await small.start(servers[1].election_port)
        async with peers(servers, 2, wire_profile=ZK_3_4_0) as p:
            p[2].qcm.to_send(1, b"vote")
            reader, writer = await small.accept()
            assert await asyncio.wait_for(reader.readexactly(8), WAIT) == encode_legacy_handshake(2)
            assert await next_frame(reader) == b"vote"  # no address follows: the frame comes next
            writer.write(encode_frame(b"reply"))
            await p[2].received(1, b"reply")
            writer.close()
        async with peers(servers, 2) as p:  # the twin: without a profile the handshake is 3.8.0's
            p[2].qcm.to_send(1, b"vote")
            reader, writer = await small.accept()
            hs = await read_handshake(reader, WAIT)
            assert (hs.legacy, hs.addresses) == (False, (("127.0.0.1", servers[2].election_port),))
            writer.close()
        await small.close()

    run(go)


def test_a_3_4_0_acceptor_takes_a_versioned_handshake_for_a_negative_sid_and_drops_it() -> None:
    async def go() -> None:
        servers = specs(1)
        hello = encode_handshake(9, "127.0.0.1:1") + encode_frame(b"from 9")
        async with peers(servers, 1, wire_profile=ZK_3_4_0) as p:
            reader, writer = await raw_connect(servers[1].election_port, hello)
            assert await at_eof(reader)  # -65536 is the sid, smaller than 1: closed
            assert not p[1].got
            _r2, w2 = await raw_connect(servers[1].election_port, encode_legacy_handshake(9))
            w2.write(encode_frame(b"legacy 9"))
            await p[1].received(9, b"legacy 9")
            writer.close()
            w2.close()
        async with peers(servers, 1) as p:  # the twin: 3.8.0's acceptor reads the same bytes as sid 9
            reader, writer = await raw_connect(servers[1].election_port, hello)
            await p[1].received(9, b"from 9")
            writer.close()

    run(go)


def test_a_3_4_6_acceptor_skips_the_address_of_a_versioned_handshake() -> None:
    async def go() -> None:
        servers = specs(1)
        async with peers(servers, 1, wire_profile=ZK_3_4_6) as p:
            hello = encode_handshake(9, "127.0.0.1:1") + encode_frame(b"after the address")
            _, writer = await raw_connect(servers[1].election_port, hello)
            await p[1].received(9, b"after the address")
            bad = struct.pack(">qqi", -65536, 8, -1)  # a negative address length closes the socket
            r2, w2 = await raw_connect(servers[1].election_port, bad)
            assert await at_eof(r2)
            writer.close()
            w2.close()

    run(go)


def test_two_3_4_managers_talk_and_a_3_4_frame_may_exceed_512_kib() -> None:
    big = bytes(PACKET_MAX_SIZE + 1)  # over 3.8.0's PACKETMAXSIZE, under 3.4's 1 MiB

    async def go() -> None:
        servers = specs(1, 2)
        async with peers(servers, 1, 2, wire_profile=ZK_3_4_0) as p:
            await exchange(p[1], p[2], "3.4")
            p[2].qcm.to_send(1, big)
            await p[1].received(2, big)
        async with peers(servers, 1) as p:  # the twin: a 3.8.0 manager closes the connection on that length
            reader, writer = await raw_connect(servers[1].election_port,
                                               encode_legacy_handshake(2) + ZK_3_4_0.encode_frame(big))
            with contextlib.suppress(ConnectionResetError):  # closed with our bytes unread: a reset
                assert await at_eof(reader)
            assert not p[1].got
            with pytest.raises(ValueError, match="524288"):
                p[1].qcm.to_send(2, big)
            writer.close()

    run(go)
