"""Behaviour profiles: which ``Variant`` of the model a ZooKeeper release line runs (``--profile``).

Rules:

- A profile names a range of releases and the model ``Variant`` whose knobs reproduce their Fast Leader
  Election, built only from knobs (``zkfle.model.variant``), each turned for a JIRA that was fixed *after*
  the range: a profile is "3.8.0 with these fixes undone". ``mutants`` names the registry entries
  (``zkfle.model.mutants``) whose knobs it combines.
- Every profile lists, in ``not_modelled``, the differences of its releases that the model has no knob for,
  so a verdict under a profile is never read as more than it is. ``zookeeper-3.8.0`` is the default and
  is ``Variant()`` itself.
- Sources: the 3.4.3 release source (read for this module: ``totalOrderPredicate``, ``checkLeader``,
  ``Vote.equals``, ``lookForLeader``, ``WorkerReceiver``), reference/historical-bugs.md for the fix versions,
  reference/zookeeper-3.8-fle.md for 3.8.0.

Theory of operation: ``PROFILES`` is a table of frozen values; ``profile(name)`` looks one up (a
``UserInputError`` lists the valid names), ``profile_for_release((3, 4, 3))`` picks the one covering a
release, and ``add_profile_argument`` gives a CLI its ``--profile`` flag.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from typing import Any

from zkfle.errors import UserInputError
from zkfle.model.variant import Variant

DEFAULT_PROFILE = "zookeeper-3.8.0"
Release = tuple[int, int, int]
ANY = 10**9  # a micro version standing for "every release of the minor line"


@dataclass(frozen=True)
class BehaviourProfile:
    """One release line's FLE, as a model ``Variant`` plus what the model does not capture of it."""

    name: str
    first: Release  # the first release covered
    last: Release | None  # the last one covered (None: open-ended)
    variant: Variant
    mutants: tuple[str, ...]  # registry mutants whose knobs it combines
    modelled: tuple[str, ...]  # one line per knob turned: JIRA, fix version, what it means here
    not_modelled: tuple[str, ...]  # differences of these releases without a model knob

    def covers(self, release: Release) -> bool:
        return self.first <= release and (self.last is None or release <= self.last)

    @property
    def releases(self) -> str:
        first = ".".join(map(str, self.first))
        if self.last is None:
            return f"{first} and later"
        major, minor, micro = self.last
        return f"{first}-{major}.{minor}.{'x' if micro == ANY else micro}"

    def describe(self) -> str:
        """A few lines for ``--profile`` help and reports."""
        lines = [f"{self.name} ({self.releases}): knobs {self.variant.changes() or 'none (ZooKeeper 3.8.0)'}"]
        lines += [f"  models: {m}" for m in self.modelled]
        lines += [f"  not modelled: {m}" for m in self.not_modelled]
        return "\n".join(lines)


def _variant(**knobs: Any) -> Variant:
    return replace(Variant(), **knobs)


_ZK_3537 = ("ZK-3537 (fixed 3.6.0): a same-round FOLLOWING/LEADING notification is stored in recvset as a "
            "LOOKING-state vote and checkLeader reads outofelection, not recvset")
_NO_2988 = ("ZK-2988 (fixed 3.4.13/3.5.4): no check that n.leader is a voter; the model always checks, which "
            "changes nothing in it (no voter ever proposes a non-voter), only a peer naming an unknown sid")
_LOGICALCLOCK_REPLY = ("ZK-1732 part 3 (same knob): a decided server answers a LOOKING peer with "
                       "logicalclock instead of currentVote's round")
_WIRE_34 = ("wire: 3.4 handshake and notification layouts, a 29..35-byte notification kills the receiver "
            "thread (ZK-3769, never fixed on 3.4), 1 MiB frames (zkfle.impl.wire_profiles)")

ZK_3_8_0 = BehaviourProfile(
    DEFAULT_PROFILE, (3, 6, 0), None, Variant(), (),
    ("everything the model has: reference/zookeeper-3.8-fle.md",),
    ("releases 3.6.0-3.7.x are mapped here as no FLE change in the modelled behaviour is known; only 3.8.0 "
     "itself is verified (reference §0)",
     "ZK-3109's maxTimeToWaitForEpoch (3.6.0) is opt-in and off by default; the model has it off"),
)
ZK_3_5_0 = BehaviourProfile(
    "zookeeper-3.5.0", (3, 5, 0), (3, 5, ANY), _variant(same_round_check_recvset=False), ("ZK-3537",),
    (_ZK_3537,),
    (
     "ZK-1818 (fixed 3.5.5): 3.5.0-3.5.4 store IGNOREVALUE (-1) for the zxid and round of outofelection "
     "votes; equal to 3.8.0's (leader, peerEpoch) matching between 3.5 servers, different across versions",
     "ZK-2164/ZK-3756/ZK-3769 (fixed 3.5.8): connection and receiver-thread faults (QuorumCnxManager)"),
)
ZK_3_4_6 = BehaviourProfile(
    "zookeeper-3.4.6", (3, 4, 6), (3, 4, ANY), _variant(same_round_check_recvset=False), ("ZK-3537",),
    ("ZK-1732/ZK-1805/ZK-1817 fixed: updateElectionVote, version-aware Vote.equals, as in 3.8.0", _ZK_3537),
    (_NO_2988,
     "a FOLLOWING/LEADING server answers a version-0 (3.4.0-3.4.5) peer with its bcVote (ZK-1817); the "
     "model has one version",
     _WIRE_34.replace("3.4 handshake and notification layouts", "sid-only handshake, 40-byte notifications")),
)
ZK_3_4_4 = BehaviourProfile(
    "zookeeper-3.4.4", (3, 4, 4), (3, 4, 5),
    _variant(update_election_vote=False, same_round_check_recvset=False),
    ("ZK-1732", "ZK-3537"),
    ("ZK-1732 (fixed 3.4.6): no updateElectionVote, and outofelection votes match on every field "
     "(Vote.equals compares id, zxid, electionEpoch and peerEpoch)", _LOGICALCLOCK_REPLY, _ZK_3537),
    (_NO_2988,
     _WIRE_34.replace("3.4 handshake and notification layouts", "sid-only handshake, 36-byte notifications")),
)
ZK_3_4_3 = BehaviourProfile(
    "zookeeper-3.4.3", (3, 4, 0), (3, 4, 3),
    _variant(predicate="ZK-1419", check_leader_round_for_self=False, update_election_vote=False,
             same_round_check_recvset=False),
    ("ZK-1419", "ZK-1514", "ZK-1732", "ZK-3537"),
    ("ZK-1419 (fixed 3.4.4): totalOrderPredicate's third clause compares zxid and sid without "
     "newEpoch == curEpoch (read in the 3.4.3 source; a higher sid beats a higher peerEpoch at equal zxid)",
     "ZK-1514 (fixed 3.4.4): checkLeader lets a server lead on FOLLOWING votes of any round (3.4.3 source: "
     "no logicalclock check for self)",
     "ZK-1732 (fixed 3.4.6): no updateElectionVote; outofelection votes match on every field",
     _LOGICALCLOCK_REPLY, _ZK_3537),
    (_NO_2988,
     "a notification with an unknown state code is taken as LOOKING (3.4.3's switch has no default)",
     _WIRE_34.replace("3.4 handshake and notification layouts", "sid-only handshake, 36-byte notifications")),
)

PROFILES: dict[str, BehaviourProfile] = {
    p.name: p for p in (ZK_3_8_0, ZK_3_5_0, ZK_3_4_6, ZK_3_4_4, ZK_3_4_3)
}


def profile(name: str) -> BehaviourProfile:
    """The profile called ``name`` (``zookeeper-3.4.3``; ``3.4.3`` is accepted too)."""
    key = name if name in PROFILES else f"zookeeper-{name}"
    try:
        return PROFILES[key]
    except KeyError:
        raise UserInputError(f"unknown profile {name!r}; valid: {', '.join(PROFILES)}") from None


def variant_for(name: str) -> Variant:
    """The model variant of profile ``name``."""
    return profile(name).variant


def profile_for_release(release: Release) -> BehaviourProfile:
    """The profile covering a release (major, minor, micro); 3.3 and older have none."""
    for candidate in PROFILES.values():
        if candidate.covers(release):
            return candidate
    text = ".".join(map(str, release))
    raise UserInputError(f"no behaviour profile covers ZooKeeper {text} (profiles start at 3.4.0)")


def add_profile_argument(parser: argparse.ArgumentParser, default: str | None = DEFAULT_PROFILE) -> None:
    """``--profile NAME``; read it back with ``variant_for(args.profile)``. ``default=None`` lets a CLI tell
    an omitted flag (``args.profile is None``) from the default profile named explicitly."""
    parser.add_argument(
        "--profile", default=default, metavar="NAME",
        help=f"which ZooKeeper release line's FLE to model: {', '.join(PROFILES)} "
             f"(default {DEFAULT_PROFILE})",
    )


__all__ = [
    "ANY",
    "DEFAULT_PROFILE",
    "PROFILES",
    "ZK_3_4_3",
    "ZK_3_4_4",
    "ZK_3_4_6",
    "ZK_3_5_0",
    "ZK_3_8_0",
    "BehaviourProfile",
    "add_profile_argument",
    "profile",
    "profile_for_release",
    "variant_for",
]
