#!/usr/bin/env python3
"""An example conformance adapter: ZooKeeper 3.8.0's FLE written as pure functions over immutable records.

Speaks the JSON-lines protocol of docs/conformance.md on stdin/stdout. Every handler is a function
``(Server, ...) -> (Server, sends)``; nothing is mutated, the only state is the ``servers`` map threaded
through the main loop. It depends on nothing but the standard library, so any Python 3.10+ runs it:

    zkfle conform --target "cmd:python3 docs/examples/adapter_example.py" --traces DIR
"""

from __future__ import annotations

import json
import sys
from typing import Any, NamedTuple

LOOKING, FOLLOWING, LEADING, OBSERVING = 0, 1, 2, 3
Vote = tuple[int, int, int, int]  # (leader, zxid, round, peerEpoch)
Entry = tuple[int, int, int, int, int]  # (leader, zxid, round, peerEpoch, state)
Send = tuple[int, int, int, int, int, int]  # (dst, state, leader, zxid, round, peerEpoch)


class Server(NamedTuple):
    sid: int
    voters: tuple[int, ...]
    zxid: int
    epoch: int
    state: int = LOOKING
    round: int = 0
    proposal: tuple[int, int, int] = (-1, -1, 0)
    recvset: tuple[tuple[int, Entry], ...] = ()
    outofelection: tuple[tuple[int, Entry], ...] = ()
    current: Vote = (0, 0, -1, 0)
    finalizing: bool = False


def better(new: tuple[int, int, int], cur: tuple[int, int, int]) -> bool:
    """totalOrderPredicate on (leader, zxid, peerEpoch): peerEpoch, then zxid, then sid."""
    (nl, nz, ne), (cl, cz, ce) = new, cur
    return ne > ce or (ne == ce and (nz > cz or (nz == cz and nl > cl)))


def put(entries: tuple[tuple[int, Entry], ...], sid: int, entry: Entry) -> tuple[tuple[int, Entry], ...]:
    return tuple(sorted([e for e in entries if e[0] != sid] + [(sid, entry)]))


def quorum(s: Server, sids: set[int]) -> bool:
    return len(sids & set(s.voters)) > len(s.voters) // 2


def broadcast(s: Server) -> list[Send]:
    leader, zxid, pe = s.proposal
    return [(v, LOOKING, leader, zxid, s.round, pe) for v in sorted(s.voters)]


def initial(s: Server) -> tuple[int, int, int]:
    return (s.sid, s.zxid, s.epoch)


def look_for_leader(s: Server) -> tuple[Server, list[Send]]:
    s = s._replace(state=LOOKING, round=s.round + 1, proposal=initial(s), recvset=(), outofelection=(),
                   finalizing=False)
    return s, broadcast(s)


def decide(s: Server, leader: int, vote: Vote) -> Server:
    return s._replace(state=LEADING if leader == s.sid else FOLLOWING, current=vote, finalizing=False)


def check_leader(s: Server, votes: tuple[tuple[int, Entry], ...], leader: int, rnd: int) -> bool:
    if leader != s.sid:
        return any(sid == leader and e[4] == LEADING for sid, e in votes)
    return s.round == rnd


def on_looking(s: Server, src: int, n: Entry) -> tuple[Server, list[Send]]:
    leader, zxid, rnd, pe, _ = n
    sends: list[Send] = []
    if zxid == -1:
        return s, sends
    if rnd > s.round:
        s = s._replace(round=rnd, recvset=())
        s = s._replace(proposal=(leader, zxid, pe) if better((leader, zxid, pe), initial(s)) else initial(s))
        sends = broadcast(s)
    elif rnd < s.round:
        return s, sends
    elif better((leader, zxid, pe), s.proposal):
        s = s._replace(proposal=(leader, zxid, pe))
        sends = broadcast(s)
    s = s._replace(recvset=put(s.recvset, src, n))
    want = (*s.proposal[:2], s.round, s.proposal[2])
    acks = {sid for sid, e in s.recvset if (e[0], e[1], e[2], e[3]) == want}
    return (s._replace(finalizing=True) if quorum(s, acks) else s), sends


def on_decided_vote(s: Server, src: int, n: Entry) -> Server:
    """receivedFollowingNotification: recvset (same round) or outofelection (any round), and checkLeader."""
    leader, zxid, rnd, pe, _ = n
    end = (leader, zxid, rnd, pe)
    if rnd == s.round:
        s = s._replace(recvset=put(s.recvset, src, n))
        acks = {sid for sid, e in s.recvset
                if (e[0] == leader if e[4] != LOOKING else e[:4] == end)}
        if quorum(s, acks) and check_leader(s, s.recvset, leader, rnd):
            return decide(s, leader, end)
    s = s._replace(outofelection=put(s.outofelection, src, n))
    acks = {sid for sid, e in s.outofelection if e[0] == leader and e[3] == pe}
    if quorum(s, acks) and check_leader(s, s.outofelection, leader, rnd):
        return decide(s._replace(round=rnd), leader, end)
    return s


def process(s: Server, src: int, n: Entry) -> tuple[Server, list[Send]]:
    """One notification taken from lookForLeader's queue."""
    if s.finalizing:
        if not better((n[0], n[1], n[3]), s.proposal):
            return s, []  # discarded during the finalize wait
        s = s._replace(finalizing=False)  # re-queued, and taken again at once
    if src not in s.voters or n[0] not in s.voters or n[4] == OBSERVING:
        return s, []
    if n[4] == LOOKING:
        return on_looking(s, src, n)
    return on_decided_vote(s, src, n), []


def receive(s: Server, src: int, n: Entry) -> tuple[Server, list[Send]]:
    """WorkerReceiver, then lookForLeader."""
    rnd, state = n[2], n[4]
    if s.state != LOOKING:
        cl, cz, cr, cpe = s.current
        return s, ([(src, s.state, cl, cz, cr, cpe)] if state == LOOKING else [])
    reply: list[Send] = []
    if state == LOOKING and rnd < s.round:
        pl, pz, ppe = s.proposal
        reply = [(src, LOOKING, pl, pz, s.round, ppe)]
    s, sends = process(s, src, n)
    return s, reply + sends


def handle(voters: tuple[int, ...], servers: dict[int, Server],
           req: dict[str, Any]) -> tuple[dict[int, Server], dict[str, Any]]:
    """One request: the servers after it, and the answer."""
    op, sid = req["op"], int(req.get("sid", 0))
    s = servers.get(sid)
    sends: list[Send] = []
    if op == "start":
        zxid, epoch = int(req["zxid"]), int(req["epoch"])
        s, sends = look_for_leader(Server(sid, voters, zxid, epoch, current=(sid, zxid, -1, epoch)))
    elif s is None:
        return servers, {"error": f"server {sid} is not running"}
    elif op == "receive":
        st, leader, zxid, rnd, pe = req["n"]
        s, sends = receive(s, int(req["src"]), (leader, zxid, rnd, pe, st))
    elif op == "finalize_timeout":
        if s.finalizing:
            leader, zxid, pe = s.proposal
            s = decide(s, leader, (leader, zxid, s.round, pe))
    elif op == "poll_timeout":
        sends = broadcast(s) if s.state == LOOKING and not s.finalizing else []
    elif op == "lost":
        if s.state != LOOKING:
            s, sends = look_for_leader(s)
    elif op == "established":
        cl, cz, cr, _ = s.current
        epoch = int(req["epoch"])
        s = s._replace(current=(cl, cz, cr, epoch), epoch=epoch, zxid=int(req["zxid"]))
    elif op == "crash":
        return {k: v for k, v in servers.items() if k != sid}, {}
    elif op == "view":
        return servers, {"state": s.state, "round": s.round, "proposal": list(s.proposal)}
    else:
        return servers, {"error": f"unsupported op {op!r}"}
    return {**servers, sid: s}, {"sends": [list(x) for x in sends]}


def main() -> None:
    voters: tuple[int, ...] = ()
    servers: dict[int, Server] = {}
    for line in sys.stdin:
        req = json.loads(line)
        answer: dict[str, Any] = {}
        if req["op"] == "reset":
            voters, servers = tuple(int(v) for v in req["voters"]), {}
        else:
            servers, answer = handle(voters, servers, req)
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
