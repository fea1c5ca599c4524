"""impl/activation.py over real loopback sockets: epochs agreed, timeouts, lost leader, lost quorum."""

from __future__ import annotations

import asyncio
import socket
import struct
from pathlib import Path

import pytest

from zkfle.errors import PeerError
from zkfle.impl.activation import (
    FOLLOWERINFO,
    LeaderActivation,
    LearnerActivation,
    Record,
    Timing,
    decode_record,
)
from zkfle.impl.epochs import EpochStore
from zkfle.quorum import QuorumMaj

TIMING = Timing(tick_s=0.05, init_limit=10, sync_limit=4)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Outcomes:
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []
        self.changed = asyncio.Event()

    def established(self, epoch: int) -> None:
        self.events.append(("established", epoch))
        self.changed.set()

    def lost(self, reason: str) -> None:
        self.events.append(("lost", reason))
        self.changed.set()

    async def wait_for(self, kind: str, timeout: float = 5.0) -> object:
        async def until() -> object:
            while True:
                for k, v in self.events:
                    if k == kind:
                        return v
                self.changed.clear()
                await self.changed.wait()

        return await asyncio.wait_for(until(), timeout)


def _store(tmp: Path, name: str, accepted: int = 0) -> EpochStore:
    store = EpochStore(tmp / name)
    if accepted:
        store.set_accepted_epoch(accepted)
    return store


def _leader(port: int, store: EpochStore, out: Outcomes, voters: int = 3) -> LeaderActivation:
    qv = QuorumMaj(voters=frozenset(range(1, voters + 1)))
    return LeaderActivation(3, qv, ("127.0.0.1", port), store, TIMING, log=lambda _m: None,
                            on_established=out.established, on_lost=out.lost)


def _learner(sid: int, port: int, store: EpochStore, out: Outcomes) -> LearnerActivation:
    return LearnerActivation(sid, 3, ("127.0.0.1", port), store, TIMING, observer=False, log=lambda _m: None,
                             on_established=out.established, on_lost=out.lost)


def test_leader_and_follower_agree_on_max_accepted_epoch_plus_one(tmp_path: Path) -> None:
    async def scenario() -> None:
        port = _free_port()
        leader_out, follower_out = Outcomes(), Outcomes()
        leader = _leader(port, _store(tmp_path, "s3", accepted=2), leader_out)
        follower_store = _store(tmp_path, "s1", accepted=4)
        follower = _learner(1, port, follower_store, follower_out)
        leader.start()
        follower.start()
        assert await leader_out.wait_for("established") == 5
        assert await follower_out.wait_for("established") == 5
        assert (follower_store.current_epoch, follower_store.accepted_epoch) == (5, 5)
        assert EpochStore(tmp_path / "s3").current_epoch == 5
        # Losing the leader: the follower returns to LOOKING.
        await leader.stop()
        reason = await follower_out.wait_for("lost")
        assert "leader lost" in str(reason)
        await follower.stop()

    asyncio.run(scenario())


def test_leader_without_quorum_times_out_after_init_limit(tmp_path: Path) -> None:
    async def scenario() -> None:
        out = Outcomes()
        leader = _leader(_free_port(), _store(tmp_path, "s3"), out)
        leader.start()
        reason = await out.wait_for("lost")
        assert "Timeout while waiting for epoch from quorum" in str(reason)
        assert ("established", 1) not in out.events
        await leader.stop()

    asyncio.run(scenario())


def test_leader_loses_quorum_when_its_follower_goes_silent(tmp_path: Path) -> None:
    async def scenario() -> None:
        port = _free_port()
        leader_out, follower_out = Outcomes(), Outcomes()
        leader = _leader(port, _store(tmp_path, "s3"), leader_out)
        follower = _learner(1, port, _store(tmp_path, "s1"), follower_out)
        leader.start()
        follower.start()
        assert await leader_out.wait_for("established") == 1
        await follower.stop()
        reason = await leader_out.wait_for("lost")
        assert "Not sufficient followers synced" in str(reason)
        await leader.stop()

    asyncio.run(scenario())


def test_follower_gives_up_when_no_leader_listens(tmp_path: Path) -> None:
    async def scenario() -> None:
        out = Outcomes()
        follower = _learner(1, _free_port(), _store(tmp_path, "s1"), out)
        follower.start()
        reason = await out.wait_for("lost")
        assert "could not connect to leader 3" in str(reason)
        assert not any(k == "established" for k, _ in out.events)
        await follower.stop()

    asyncio.run(scenario())


def test_follower_refuses_a_zab_speaking_leader(tmp_path: Path) -> None:
    # A server that answers like a Zab leader (a jute LEADERINFO packet, not zkfle's record).
    async def scenario() -> None:
        async def zab_leader(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(100)
            writer.write(struct.pack(">iqi", 17, 1 << 32, -1) + struct.pack(">ii", 0, 0x10000) + b"\0" * 9)
            await writer.drain()
            await asyncio.sleep(1)
            writer.close()

        server = await asyncio.start_server(zab_leader, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        out = Outcomes()
        store = _store(tmp_path, "s1")
        follower = _learner(1, port, store, out)
        follower.start()
        reason = await out.wait_for("lost")
        assert "cannot follow a ZooKeeper leader" in str(reason)
        assert store.current_epoch == 0
        await follower.stop()
        server.close()

    asyncio.run(scenario())


def test_record_codec_round_trip_and_rejects_other_protocols() -> None:
    record = Record(FOLLOWERINFO, 2, 7, 0x100000005)
    assert decode_record(record.encode()) == record
    with pytest.raises(PeerError, match="magic"):
        decode_record(b"\x00\x00\x00\x0b" + record.encode()[4:])


def test_single_voter_leader_establishes_alone(tmp_path: Path) -> None:
    async def scenario() -> None:
        out = Outcomes()
        store = _store(tmp_path, "s3", accepted=6)
        leader = _leader(_free_port(), store, out, voters=1)
        leader.myid = 1
        leader.start()
        assert await out.wait_for("established") == 7
        assert (store.current_epoch, store.accepted_epoch) == (7, 7)
        await leader.stop()

    asyncio.run(scenario())
