"""``zkfle bench-election``: election latency on loopback, zkfle nodes and real ZooKeeper 3.8.0 side by side.

Rules:

- Both implementations run as separate processes on 127.0.0.1 with the same tickTime, initLimit and syncLimit,
  and are observed the same way, from outside, by polling four-letter words every 20 ms (``zkst`` for zkfle,
  ``srvr`` for ZooKeeper).
- "Established" means a node that serves as leader with a quorum of voters serving as its followers (for
  ZooKeeper: ``Mode: leader`` plus enough ``Mode: follower``; ZooKeeper's srvr does not name the leader).
- (a) cold start: all N processes are started at once on fresh dataDirs; the clock runs from the first
  ``Popen`` until the ensemble is established. This includes process start-up (a JVM costs about a second;
  Python a few hundred ms), so each run also records what the servers themselves log: the largest
  ``LEADER ELECTION TOOK - X MS`` of the run (ZooKeeper's ``Leader``/``Follower`` line and zkfle's line of the
  same name, both measured from the start of ``lookForLeader``).
- (b) leader failure: SIGKILL of the established leader; the clock runs from the kill until a different
  leader is established over the survivors.
- Each scenario is repeated ``--runs`` times; the table reports the median and the min-max range, and the
  machine (cores) it ran on. Every process is killed at the end of each run.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from zkfle.conformance.zkserver import ZooKeeperEnsemble, loopback_servers
from zkfle.errors import UserInputError
from zkfle.impl.cluster import LocalEnsemble
from zkfle.quorum import QuorumMaj, has_quorum

POLL_S = 0.02
_TOOK = re.compile(r"(?:LEADING|FOLLOWING) - LEADER ELECTION TOOK - (\d+) MS")


@dataclass
class Samples:
    """Milliseconds measured for one (implementation, size) pair."""

    cold: list[float] = field(default_factory=list)
    cold_logged: list[float] = field(default_factory=list)
    failover: list[float] = field(default_factory=list)


def _wait(predicate: Callable[[], int | None], timeout: float, what: str) -> int:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:g} s")
        time.sleep(POLL_S)


def _largest_took(logs: list[str]) -> float:
    values = [int(m) for text in logs for m in _TOOK.findall(text)]
    return float(max(values)) if values else float("nan")


def _zkfle_run(workdir: Path, size: int, args: argparse.Namespace, out: Samples) -> None:
    with LocalEnsemble(workdir, size, tick_time=args.tick_time, init_limit=args.init_limit,
                       sync_limit=args.sync_limit) as ens:
        started = time.monotonic()
        ens.start()
        leader = _wait(ens.leader, 60, "zkfle cold start")
        out.cold.append((time.monotonic() - started) * 1000)
        out.cold_logged.append(_largest_took([n.log_text() for n in ens.nodes.values()]))
        killed = time.monotonic()
        ens.nodes[leader].kill9()
        _wait(lambda: ens.leader() if ens.leader() not in (None, leader) else None, 60, "zkfle failover")
        out.failover.append((time.monotonic() - killed) * 1000)


def _zookeeper_leader(ens: ZooKeeperEnsemble, qv: QuorumMaj, exclude: int | None = None) -> int | None:
    modes = {sid: zk.mode() for sid, zk in ens.members.items() if zk.running}
    leaders = [sid for sid, mode in modes.items() if mode == "leader" and sid != exclude]
    followers = {sid for sid, mode in modes.items() if mode == "follower"}
    if len(leaders) == 1 and has_quorum(qv, followers | {leaders[0]}):
        return leaders[0]
    return None


def _zookeeper_run(workdir: Path, size: int, args: argparse.Namespace, out: Samples) -> None:
    sids = list(range(1, size + 1))
    ens = ZooKeeperEnsemble(workdir, sids, servers=loopback_servers(sids), tick_time=args.tick_time,
                            init_limit=args.init_limit, sync_limit=args.sync_limit)
    qv = QuorumMaj(voters=frozenset(sids))
    try:
        started = time.monotonic()
        ens.start()
        leader = _wait(lambda: _zookeeper_leader(ens, qv), 120, "ZooKeeper cold start")
        out.cold.append((time.monotonic() - started) * 1000)
        out.cold_logged.append(_largest_took(["\n".join(zk.log_lines()) for zk in ens.members.values()]))
        killed = time.monotonic()
        ens[leader].kill9()
        _wait(lambda: _zookeeper_leader(ens, qv, exclude=leader), 120, "ZooKeeper failover")
        out.failover.append((time.monotonic() - killed) * 1000)
    finally:
        ens.stop()


def _cell(values: list[float]) -> str:
    clean = [v for v in values if v == v]  # drop NaN
    if not clean:
        return "-"
    return f"{statistics.median(clean):.0f} ({min(clean):.0f}-{max(clean):.0f})"


def render(results: dict[tuple[str, int], Samples], args: argparse.Namespace, command: str) -> str:
    lines = [
        "# Election latency on loopback: zkfle vs ZooKeeper 3.8.0",
        "",
        f"Command: `{command}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}  ",
        f"Settings: tickTime={args.tick_time} ms, initLimit={args.init_limit}, syncLimit={args.sync_limit}; "
        f"{args.runs} runs per row; milliseconds, median (min-max).",
        "",
        "| implementation | servers | (a) cold start, wall clock | (a) cold start, largest logged "
        "`LEADER ELECTION TOOK` | (b) kill -9 of the leader until a new leader is established |",
        "|---|---|---|---|---|",
    ]
    for (impl, size), s in sorted(results.items(), key=lambda item: (item[0][1], item[0][0])):
        lines.append(f"| {impl} | {size} | {_cell(s.cold)} | {_cell(s.cold_logged)} | {_cell(s.failover)} |")
    lines += [
        "",
        "The wall-clock cold start includes process start-up (the JVM costs about a second per server,",
        "and all servers start together on 2 cores); the logged column is what each server measures from",
        "the start of its election. Numbers on a shared 2-core machine are noisy: compare medians.",
        "",
    ]
    return "\n".join(lines)


def run_bench(args: argparse.Namespace) -> int:
    if args.runs < 1:
        raise UserInputError(f"--runs must be at least 1, got {args.runs}")
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        raise UserInputError(f"--sizes must be comma-separated numbers, got {args.sizes!r}") from None
    if not sizes or any(s < 3 for s in sizes):
        raise UserInputError(f"--sizes needs ensembles of at least 3 servers (to survive a kill): {sizes}")
    Runner = Callable[[Path, int, argparse.Namespace, Samples], None]
    impls: list[tuple[str, Runner]] = [("zkfle", _zkfle_run)]
    if not args.no_zookeeper:
        impls.append(("ZooKeeper 3.8.0", _zookeeper_run))
    results: dict[tuple[str, int], Samples] = {}
    with tempfile.TemporaryDirectory(prefix="zkfle-bench-") as tmp:
        for size in sizes:
            for name, run in impls:
                samples = results.setdefault((name, size), Samples())
                for i in range(args.runs):
                    run(Path(tmp) / f"{name.split()[0]}-{size}-{i}", size, args, samples)
                    print(f"{name} n={size} run {i + 1}/{args.runs}: cold {samples.cold[-1]:.0f} ms, "
                          f"failover {samples.failover[-1]:.0f} ms", flush=True)
    command = "zkfle bench-election " + " ".join(
        [f"--runs {args.runs}", f"--sizes {args.sizes}", f"--tick-time {args.tick_time}",
         f"--init-limit {args.init_limit}", *(["--no-zookeeper"] if args.no_zookeeper else [])])
    table = render(results, args, command)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(table, encoding="utf-8")
    print(table)
    return 0
