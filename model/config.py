"""What one model run is about: the ensemble, each server's starting point, the channel and the bounds.

Rules:

- Quorums come only from ``zkfle.quorum`` (a ``QuorumVerifier``), built from a real zoo.cfg through
  ``zkfle.zoocfg`` or from ``majority_config``; the model never counts votes any other way.
- ``ServerStart`` is one server's persistent state at the start (``currentEpoch``, ``acceptedEpoch``, last
  zxid) and whether it is running, will start later, or stays down.
- ``Bounds`` keep the state space finite: crashes, epochs, committed transactions, notification timeouts,
  messages in flight per channel and the largest election round.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from zkfle.errors import UserInputError
from zkfle.model.variant import Variant
from zkfle.quorum import QuorumVerifier
from zkfle.zoocfg import ZooCfg, majority_config

CHANNELS = ("fifo", "zk")


def zxid_of(epoch: int, counter: int) -> int:
    """``ZxidUtils.makeZxid``: the epoch in the high 32 bits, the counter in the low 32."""
    return (epoch << 32) | counter


def zxid_text(zxid: int) -> str:
    """A zxid as ``epoch:counter`` (how the docs and traces show it)."""
    if zxid < 0:
        return str(zxid)
    return f"{zxid >> 32}:{zxid & 0xFFFFFFFF}"


@dataclass(frozen=True)
class ServerStart:
    """One server at the start of a run."""

    current_epoch: int = 0
    accepted_epoch: int = 0
    zxid: int = 0
    running: bool = True  # up at the start
    starts_later: bool = True  # when not running: may it start (a late joiner) or is it down for good?
    after_decision: bool = False  # it starts once every running voter has decided and the network is quiet
    round: int = 1  # logicalclock of a server running at the start (it may have run elections before)


@dataclass(frozen=True)
class Bounds:
    """The bounds of one exhaustive run."""

    crashes: int = 0  # crashes (each crashed server may restart once per crash)
    epochs: int = 2  # no leader is established beyond this epoch
    txns: int = 0  # committed transactions, over the whole run
    timeouts: int | None = None  # notification timeouts; None = unbounded (guarded by a quiet network)
    max_in_flight: int = 2  # messages per channel; a step that would exceed it is not explored
    max_round: int = 6  # no election round beyond this one
    faults_when_quiet: bool = False  # crashes and restarts only between message bursts (check-model)

    def __post_init__(self) -> None:
        for name in ("crashes", "epochs", "txns", "max_in_flight", "max_round"):
            if getattr(self, name) < 0:
                raise UserInputError(f"--{name.replace('_', '-')} must be 0 or more")
        if self.timeouts is not None and self.timeouts < 0:
            raise UserInputError("--timeouts must be 0 or more")
        if self.max_in_flight < 1:
            raise UserInputError("--max-in-flight must be at least 1")
        if self.max_round < 1:
            raise UserInputError("the largest election round must be at least 1")


@dataclass(frozen=True)
class ModelConfig:
    """An ensemble to explore."""

    cfg: ZooCfg
    starts: Mapping[int, ServerStart] = field(default_factory=dict)  # sid -> start (default: fresh, running)
    channel: str = "fifo"
    bounds: Bounds = field(default_factory=Bounds)
    variant: Variant = field(default_factory=Variant)
    track_votes: bool = True  # keep the history variable that NoVoteCircle needs
    label: str = ""

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise UserInputError(f"unknown channel {self.channel!r}; valid: {', '.join(CHANNELS)}")
        unknown = sorted(set(self.starts) - set(self.cfg.servers))
        if unknown:
            raise UserInputError(f"start state given for servers {unknown} that are not in the config")

    @property
    def qv(self) -> QuorumVerifier:
        return self.cfg.quorum_verifier()

    @property
    def sids(self) -> tuple[int, ...]:
        return tuple(sorted(self.cfg.servers))

    def start_of(self, sid: int) -> ServerStart:
        return self.starts.get(sid, ServerStart())

    def describe(self) -> str:
        """One line naming the ensemble and the bounds (for tables and ITF metadata)."""
        voters = len(self.cfg.voters)
        observers = len(self.cfg.observers)
        b = self.bounds
        text = self.label or f"{voters} voters" + (f" + {observers} observers" if observers else "")
        extra = f"{self.channel}, crashes={b.crashes}, epochs={b.epochs}, txns={b.txns}"
        if b.timeouts is not None:
            extra += f", timeouts={b.timeouts}"
        changes = self.variant.changes()
        if changes:
            extra += ", variant=" + ",".join(f"{k}={v}" for k, v in changes.items())
        return f"{text} ({extra})"


def default_config(servers: int = 3, observers: int = 0) -> ZooCfg:
    """A loopback zoo.cfg with sids 1..servers (+ observers)."""
    if servers < 1:
        raise UserInputError("--servers must be at least 1")
    if observers < 0:
        raise UserInputError("--observers must be 0 or more")
    if servers + observers > 7:
        raise UserInputError("the model handles at most 7 servers (voters + observers)")
    return majority_config(servers, observers)
