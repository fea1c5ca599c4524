"""``zkfle node``, ``zkfle cluster`` and ``zkfle bench-election``: the implementation's command line.

Rules: each subcommand sets ``handler``; a handler returns the exit code. Bad input (a malformed zoo.cfg or
myid, a bad flag value, a bad script) raises ``UserInputError``, which the root CLI prints as one line and
exit 2.
"""

from __future__ import annotations

import argparse
import asyncio

from zkfle.errors import UserInputError


def register(subparsers: argparse._SubParsersAction) -> None:
    node = subparsers.add_parser("node", help="run one FLE node from a zoo.cfg (ZooKeeper's election wire)")
    node.add_argument("--config", required=True, help="the zoo.cfg file (ZooKeeper's format)")
    node.add_argument("--log-format", choices=("text", "json"), default="text", help="log line format")
    node.set_defaults(handler=_node)

    cluster = subparsers.add_parser("cluster", help="run a local ensemble of zkfle nodes and watch it")
    cluster.add_argument("--servers", type=int, required=True, help="number of voting servers")
    cluster.add_argument("--observers", type=int, default=0, help="number of observers")
    cluster.add_argument("--script", help="a file of commands (wait-leader, kill N, restart N, ...)")
    cluster.add_argument("--workdir", help="nodes' configs, dataDirs and logs (default: a temp dir)")
    cluster.add_argument("--tick-time", type=int, default=200, help="tickTime in ms (default 200)")
    cluster.add_argument("--init-limit", type=int, default=10, help="initLimit in ticks (default 10)")
    cluster.add_argument("--sync-limit", type=int, default=5, help="syncLimit in ticks (default 5)")
    cluster.set_defaults(handler=_cluster)

    bench = subparsers.add_parser("bench-election",
                                  help="election latency on loopback: zkfle vs real ZooKeeper 3.8.0")
    bench.add_argument("--runs", type=int, default=10, help="runs per scenario (median reported)")
    bench.add_argument("--output", default="docs/bench-election.md", help="markdown table to write")
    bench.add_argument("--tick-time", type=int, default=200, help="tickTime in ms for both (default 200)")
    bench.add_argument("--init-limit", type=int, default=10, help="initLimit in ticks for both")
    bench.add_argument("--sync-limit", type=int, default=5, help="syncLimit in ticks for both")
    bench.add_argument("--sizes", default="3,5", help="ensemble sizes, comma separated")
    bench.add_argument("--no-zookeeper", action="store_true", help="measure zkfle only")
    bench.set_defaults(handler=_bench)


def _node(args: argparse.Namespace) -> int:
    from zkfle.impl.node import NodeLog, serve
    from zkfle.zoocfg import load_zoo_cfg, read_myid

    cfg = load_zoo_cfg(args.config)
    if not cfg.data_dir:
        raise UserInputError(f"{args.config}: dataDir is not set (it must hold the myid file)")
    myid = read_myid(cfg.data_dir)
    if myid not in cfg.servers:
        where = f"{cfg.data_dir}/myid"
        raise UserInputError(f"{where}: server id {myid} has no server.{myid} line in {args.config}")
    asyncio.run(serve(cfg, myid, NodeLog(myid, args.log_format)))
    return 0


def _cluster(args: argparse.Namespace) -> int:
    from zkfle.impl.cluster import run_cluster

    return run_cluster(args)


def _bench(args: argparse.Namespace) -> int:
    from zkfle.impl.bench_election import run_bench

    return run_bench(args)
