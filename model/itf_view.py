"""How FLE states and steps read outside the model: ITF values (ADR-015) and one-line step descriptions.

Rules:

- Every integer becomes ``{"#bigint": "..."}``, maps become ``{"#map": [[k, v], ...]}``; records keep readable
  field names (``state``, ``round``, ``proposal``, ``currentVote``, ``recvset``, ``outofelection``, ...).
- ``describe`` names who did what, and which of the actor's fields changed and why, on one line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zkfle.model.config import zxid_text
from zkfle.model.vote import MIN_VALUE, STATE_NAMES

if TYPE_CHECKING:
    from zkfle.model.fle import FleModel

State = tuple[Any, ...]
Action = tuple[Any, ...]


def big(value: int) -> dict[str, str]:
    return {"#bigint": str(value)}


def _vote(leader: int, zxid: int, pe: int) -> dict[str, Any]:
    return {"leader": big(leader), "zxid": big(zxid), "peerEpoch": big(pe)}


def _entry(e: tuple[Any, ...]) -> list[Any]:
    sid, leader, zxid, rnd, pe, st = e[:6]
    return [big(sid), {"leader": big(leader), "zxid": big(zxid), "round": big(rnd), "peerEpoch": big(pe),
                       "state": STATE_NAMES[st]}]


def _message(msg: tuple[Any, ...]) -> dict[str, Any]:
    st, leader, zxid, rnd, pe = msg[:5]
    return {"state": STATE_NAMES[st], "leader": big(leader), "zxid": big(zxid), "round": big(rnd),
            "peerEpoch": big(pe)}


def state_to_itf(m: FleModel, state: State) -> dict[str, Any]:
    from zkfle.model import fle

    servers, channels, counters = state
    out_servers = []
    for k, s in enumerate(servers):
        cl, cz, crnd, cpe = s[fle.CV]
        pend = s[fle.PEND]
        record = {
            "alive": ("down", "down (may start)", "up")[s[fle.ALIVE]],
            "observer": not m.is_voter[k],
            "state": STATE_NAMES[s[fle.ST]],
            "round": big(s[fle.RND]),
            "proposal": _vote(s[fle.PL], s[fle.PZ], s[fle.PE]),
            "currentVote": {**_vote(cl, cz, cpe), "round": big(crnd)},
            "recvset": {"#map": [_entry(e) for e in s[fle.RS]]},
            "outofelection": {"#map": [_entry(e) for e in s[fle.OOE]]},
            "finalizeWait": bool(s[fle.FW]),
            "requeued": [] if pend is None else [{"from": big(pend[0]), **_message(pend[1:])}],
            "currentEpoch": big(s[fle.CEP]),
            "acceptedEpoch": big(s[fle.AEP]),
            "zxid": big(s[fle.ZX]),
            "establishedEpoch": big(s[fle.ZAB]),
        }
        if s[fle.OLDCV] is not None:  # decided, setCurrentVote not run yet: replies carry this vote (D1)
            ol, oz, ornd, ope = s[fle.OLDCV]
            record["currentVoteBeforeSet"] = {**_vote(ol, oz, ope), "round": big(ornd)}
        out_servers.append([big(m.sids[k]), record])
    out_channels = []
    n = m.n
    for c, ch in enumerate(channels):
        slot, infl, last, conn = ch
        if not infl and slot is None and last is None:
            continue
        entry: dict[str, Any] = {"inFlight": [_message(x) for x in infl]}
        if m.zk:
            entry["sendSlot"] = [] if slot is None else [_message(slot)]
            entry["lastSent"] = [] if last is None else [_message(last)]
            entry["connected"] = bool(conn)
        out_channels.append([{"#tup": [big(m.sids[c // n]), big(m.sids[c % n])]}, entry])
    return {
        "servers": {"#map": out_servers},
        "channels": {"#map": out_channels},
        "crashes": big(counters[0]),
        "txns": big(counters[1]),
        "timeouts": big(counters[2]),
    }


def action_to_itf(action: Action) -> dict[str, Any]:
    """The action's parameters by name (zkfle.itf adds the action's name)."""
    name = action[0]
    if name in ("Deliver", "Transmit"):
        return {"src": action[1], "dst": action[2]}  # as conformance traces name them (one ITF format)
    if name == "Commit":
        return {"leader": action[1], "quorumMask": action[2]}
    return {"server": action[1]}


def _vote_text(leader: int, zxid: int, pe: int) -> str:
    if leader == MIN_VALUE:
        return "(none)"
    return f"(sid {leader}, zxid {zxid_text(zxid)}, epoch {pe})"


def _changes(m: FleModel, before: tuple[Any, ...], after: tuple[Any, ...]) -> list[str]:
    from zkfle.model import fle

    notes: list[str] = []
    if before[fle.ALIVE] != after[fle.ALIVE]:
        notes.append("crashes" if after[fle.ALIVE] != fle.UP else "starts")
    if before[fle.RND] != after[fle.RND]:
        notes.append(f"round {before[fle.RND]} -> {after[fle.RND]}")
    old = (before[fle.PL], before[fle.PZ], before[fle.PE])
    new = (after[fle.PL], after[fle.PZ], after[fle.PE])
    if old != new:
        notes.append(f"proposal {_vote_text(*old)} -> {_vote_text(*new)}")
    if not before[fle.FW] and after[fle.FW]:
        notes.append("sees a quorum, starts the finalize wait")
    if before[fle.FW] and not after[fle.FW] and after[fle.PEND] is not None:
        notes.append("a better vote ends the finalize wait (re-queued)")
    if before[fle.ST] != after[fle.ST]:
        cl = after[fle.CV][0]
        notes.append(f"{STATE_NAMES[before[fle.ST]]} -> {STATE_NAMES[after[fle.ST]]}"
                     + (f" (leader {cl}, round {after[fle.CV][2]})" if after[fle.ST] != 0 else ""))
    if before[fle.ZAB] != after[fle.ZAB] and after[fle.ZAB]:
        notes.append(f"established in epoch {after[fle.ZAB]}")
    if before[fle.ZX] != after[fle.ZX]:
        notes.append(f"zxid {zxid_text(before[fle.ZX])} -> {zxid_text(after[fle.ZX])}")
    if len(after[fle.RS]) != len(before[fle.RS]) or after[fle.RS] != before[fle.RS]:
        notes.append(f"recvset has {len(after[fle.RS])}")
    return notes


def describe(m: FleModel, action: Action, before: State | None, after: State | None) -> str:
    from zkfle.model import fle

    name = action[0]
    if name == "Deliver":
        i, j = action[1], action[2]
        head = f"server {j} receives server {i}'s notification"
        if before is not None:
            msg = before[1][m.idx[i] * m.n + m.idx[j]][fle.INFL][0]
            head += f" [{STATE_NAMES[msg[0]]} {_vote_text(msg[1], msg[2], msg[4])} round {msg[3]}]"
        actor = j
    elif name == "Transmit":
        head, actor = f"server {action[1]} sends its queued notification to {action[2]}", action[1]
    elif name == "Commit":
        members = [m.sids[k] for k in range(m.n) if action[2] >> k & 1]
        head, actor = f"leader {action[1]} commits a transaction with quorum {members}", action[1]
    else:
        words = {
            "ProcessRequeued": "handles its re-queued notification",
            "FinalizeExpire": "finalize wait expires with nothing better",
            "Timeout": "notification timeout: re-broadcasts its proposal",
            "Establish": "establishes its epoch with its quorum (Zab discovery + sync)",
            "Join": "joins its established leader and syncs",
            "LeaderQuit": "gives up leading (no quorum of followers)",
            "FollowerQuit": "gives up following (leader gone)",
            "Crash": "crashes",
            "Restart": "starts",
            "SetCurrentVote": "sets currentVote to its end vote (QuorumPeer.run, after lookForLeader)",
        }
        head, actor = f"server {action[1]} {words.get(name, name)}", action[1]
    if before is None or after is None:
        return head
    k = m.idx[actor]
    notes = _changes(m, before[0][k], after[0][k])
    if name == "Crash":
        notes = [x for x in notes if x != "crashes"]
    return head + (": " + "; ".join(notes) if notes else ": no change")
