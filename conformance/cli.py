"""``zkfle traces ...`` and ``zkfle conform ...``: generate model traces, replay them against a target.

Rules: each handler returns the exit code: 0 every trace conforms, 12 a divergence; a bad flag or a bad trace
raises ``UserInputError``/``TraceError`` (exit 2), a target that cannot start ``TargetUnavailable`` (exit 3).

Release selection (issue 7): ``--zookeeper-home DIR`` or ``--zookeeper-classpath CP`` names a ZooKeeper
release (default: Debian's 3.8.0 in /usr/share/java), ``--zookeeper-version X.Y.Z`` gives its version when
the jar does not state one; contradicting the jar's manifest or ``Info.class`` is exit 2
(``versions.check_given_version``). ``--identify`` runs the behaviour probes (``versions.identify``) against
that release and prints the table (``--json``: the JSON) with exit 0. Without ``--identify`` the release is
the SUT of the live ``zookeeper`` target (``live.LiveTarget(release=...)``), spoken to in its wire profile;
release flags with another target are exit 2.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

from zkfle.errors import UserInputError

TARGETS_HELP = "core | node | zookeeper | cmd:'COMMAND' (a JSON-lines adapter, docs/conformance.md)"


def register(subparsers: argparse._SubParsersAction) -> None:
    traces = subparsers.add_parser("traces", help="generate conformance traces (ITF) from the model")
    tsub = traces.add_subparsers(dest="traces_command", metavar="SUBCOMMAND")
    gen = tsub.add_parser("generate", help="random walks or a covering set of one scenario, as ITF files")
    gen.add_argument("--scenario", required=True, help="a scenario (zkfle traces list)")
    how = gen.add_mutually_exclusive_group(required=True)
    how.add_argument("--count", type=int, help="this many random walks")
    how.add_argument("--cover", action="store_true", help="a small set taking every branch the model reaches")
    gen.add_argument("--seed", type=int, default=1, help="random seed (default 1): same seed, same traces")
    gen.add_argument("--mutant", help="generate from a mutant model (zkfle traces list)")
    gen.add_argument("--sut", type=int, help="the server a live target runs (default: the scenario's)")
    gen.add_argument("--pool", type=int, default=200, help="walks drawn for --cover (default 200)")
    gen.add_argument("--out", required=True, help="directory for the *.itf.json files")
    _profile_flags(gen)
    gen.set_defaults(handler=_generate)
    lst = tsub.add_parser("list", help="the scenarios and mutants")
    lst.set_defaults(handler=_list)
    traces.set_defaults(handler=_traces_help(traces))

    conform = subparsers.add_parser("conform", help="replay model traces against core, node, zookeeper, cmd:")
    conform.add_argument("--target", help=TARGETS_HELP)
    src = conform.add_mutually_exclusive_group(required=True)
    src.add_argument("--traces", help="a directory of ITF traces (or one file)")
    src.add_argument("--scenario", help="generate the traces of this scenario now (with --count or --cover)")
    src.add_argument("--mutant", help="generate distinguishing traces of this mutant model (expect exit 12)")
    src.add_argument("--suite", choices=("default",), help="the default suite (make conform): every target")
    src.add_argument("--identify", action="store_true",
                     help="with --target zookeeper: probe which known FLE behaviours the release shows")
    where = conform.add_mutually_exclusive_group()
    where.add_argument("--zookeeper-home", metavar="DIR",
                       help="the ZooKeeper release unpacked in DIR (default: Debian's /usr/share/java)")
    where.add_argument("--zookeeper-classpath", metavar="CP", help="the ZooKeeper release on this class path")
    conform.add_argument("--zookeeper-version", metavar="X.Y.Z",
                         help="the release's version, if its jar does not state it (must not contradict it)")
    conform.add_argument("--count", type=int, help="with --scenario: random walks; with --mutant: traces")
    _profile_flags(conform)
    conform.add_argument("--cover", action="store_true", help="with --scenario: a covering set")
    conform.add_argument("--seed", type=int, default=1, help="random seed for generated traces (default 1)")
    conform.add_argument("--lanes", type=int, default=2, help="live SUT processes in parallel (default 2)")
    conform.add_argument("--no-confirm", action="store_true",
                         help="live targets: do not confirm a divergence by a re-run")
    conform.add_argument("--settle-ms", type=int, default=30,
                         help="live targets: pause after each SUT state change (default 30; see D1)")
    conform.add_argument("--json", metavar="FILE", nargs="?", const="-",
                         help="write the results as JSON (to FILE; '-' or no FILE: stdout)")
    conform.add_argument("--junit", metavar="FILE", help="write the results as JUnit XML")
    conform.add_argument("--verbose", "-v", action="store_true", help="list passing traces too")
    conform.add_argument("--keep", metavar="DIR", help="keep generated traces in DIR")
    conform.set_defaults(handler=_conform)


def _profile_flags(parser: argparse.ArgumentParser) -> None:
    from zkfle.model.profiles import add_profile_argument

    add_profile_argument(parser, default=None)
    parser.add_argument("--distinguish-from", metavar="PROFILE",
                        help="with --count: keep only walks whose SUT would act differently under this "
                             "profile's model (docs/versions.md)")


def _model_choice(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """(variant, against) for generated traces: the ``--profile`` model (None: 3.8.0's) and the
    ``--distinguish-from`` one (None: keep every walk). Checked before anything is generated."""
    from zkfle.model.profiles import variant_for

    variant = variant_for(args.profile) if args.profile else None
    against = variant_for(args.distinguish_from) if args.distinguish_from else None
    if args.mutant and (args.profile or args.distinguish_from):
        flag = "--profile" if args.profile else "--distinguish-from"
        raise UserInputError(f"--mutant and {flag} both choose the model; give one")
    if against is not None and not args.count:
        raise UserInputError("--distinguish-from needs --count N (a covering set keeps every walk)")
    return variant, against


def _distinguishing(args: argparse.Namespace, scen, out: Path, variant, against,  # type: ignore[no-untyped-def]
                    command: str) -> list[Path]:
    from zkfle.conformance.suite import distinguishing_traces
    from zkfle.model.profiles import DEFAULT_PROFILE, profile
    from zkfle.model.variant import Variant

    mine = profile(args.profile).name if args.profile else DEFAULT_PROFILE
    other = profile(args.distinguish_from).name
    meta: dict[str, object] = {"command": command, "profile": mine, "distinguishes_from": other}
    paths = distinguishing_traces(scen, out, variant=variant or Variant(), against=against,
                                  label=f"{mine}-not-{other}", count=args.count, seed=args.seed,
                                  pool=getattr(args, "pool", None) or 400, meta=meta)
    if not paths:
        raise UserInputError(f"no walk of {scen.name} (seed {args.seed}) has the SUT act "
                             f"differently under {other} than under {mine}; try another --scenario or --seed")
    return paths


def _traces_help(parser: argparse.ArgumentParser):  # type: ignore[no-untyped-def]
    def show(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2
    return show


def _list(args: argparse.Namespace) -> int:
    from zkfle.conformance.scenarios import SCENARIOS, mutant, mutant_names

    print("scenarios:")
    for s in SCENARIOS.values():
        print(f"  {s.name:<16} SUT {s.sut}: {s.description}")
    print("mutants (zkfle conform --target zookeeper --mutant NAME exits 12):")
    for name in mutant_names():
        _, scen, text = mutant(name)
        print(f"  {name:<18} in {scen.name}: {text}")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from zkfle.conformance.scenarios import mutant, scenario
    from zkfle.conformance.tracegen import BRANCHES, generate

    if args.count is not None and args.count < 1:
        raise UserInputError("--count must be at least 1")
    scen = scenario(args.scenario)
    variant, against = _model_choice(args)
    if args.mutant:
        variant, _, _ = mutant(args.mutant)
    if args.sut is not None:
        scen = scen.with_sut(args.sut)
    command = (f"zkfle traces generate --scenario {args.scenario} "
               + ("--cover" if args.cover else f"--count {args.count}") + f" --seed {args.seed}"
               + "".join(f" {flag} {value}" for flag, value in (("--profile", args.profile),
                         ("--distinguish-from", args.distinguish_from)) if value))
    if against is not None:
        paths = _distinguishing(args, scen, Path(args.out), variant, against, command)
        print(f"wrote {len(paths)} traces of {scen.name} (SUT {scen.sut}) to {args.out}, each with a step "
              f"where the SUT acts differently under {args.distinguish_from}")
        return 0
    g = generate(scen, Path(args.out), count=args.count, cover_mode=args.cover, seed=args.seed,
                 variant=variant, mutant=args.mutant, pool=args.pool, command=command)
    print(f"wrote {len(g.paths)} traces of {scen.name} (SUT {scen.sut}) to {args.out}")
    catalogue = [*BRANCHES, *(f"SUT {b}" for b in BRANCHES)]
    missing = [b for b in catalogue if b not in g.reached]
    print(f"branch coverage: {len(g.reached)} of {len(catalogue)} labels taken (from {g.pool} walks)")
    print("  taken: " + ", ".join(sorted(g.reached)))
    if missing:
        print("  not reached in this scenario: " + ", ".join(missing))
    return 0


def _conform(args: argparse.Namespace) -> int:
    from zkfle.conformance import report

    logging.getLogger("zkfle.impl.transport").setLevel(logging.CRITICAL)
    if args.identify:
        return _identify(args)
    release = _live_release(args)
    scratch = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="zkfle-traces-"))
    kept = bool(args.keep)
    try:
        if args.suite:
            run = _suite(args, scratch, release)
        else:
            if not args.target:
                raise UserInputError("--target is required (" + TARGETS_HELP + ")")
            run = _run_target(args.target, _traces(args, scratch), args, release)
        # generated traces that diverged stay on disk: the reproduce commands point at them
        kept = kept or (run.exit_code != 0 and not args.traces)
    finally:
        if not kept:
            shutil.rmtree(scratch, ignore_errors=True)
    if not args.keep and kept and not args.traces:
        print(f"generated traces kept in {scratch} (the reproduce commands use them)", file=sys.stderr)
    if args.json == "-":
        print(report.write_json(run, None))
    else:
        report.print_report(run, verbose=args.verbose)
        if args.json:
            report.write_json(run, args.json)
    if args.junit:
        report.write_junit(run, args.junit)
    return run.exit_code


def _release_flags(args: argparse.Namespace) -> list[str]:
    return [flag for flag, value in (("--zookeeper-home", args.zookeeper_home),
                                     ("--zookeeper-classpath", args.zookeeper_classpath),
                                     ("--zookeeper-version", args.zookeeper_version)) if value]


def _select_release(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The release the flags name: a home, a class path, or Debian's /usr/share/java (exit 3 if absent)."""
    from zkfle.conformance.versions import check_given_version, find_release, release_from_classpath
    from zkfle.conformance.zkserver import JAVA_LIB, check_installed

    if args.zookeeper_home:
        release = find_release(args.zookeeper_home, args.zookeeper_version)
    elif args.zookeeper_classpath:
        release = release_from_classpath(args.zookeeper_classpath, args.zookeeper_version)
    else:
        check_installed()  # Java and Debian's jars, or TargetUnavailable with the install hint
        release = find_release(JAVA_LIB, args.zookeeper_version)
    check_given_version(release)
    return release


def _identify(args: argparse.Namespace) -> int:
    import json

    from zkfle.conformance.versions import identify
    from zkfle.errors import TargetUnavailable

    if args.target not in (None, "zookeeper"):
        raise UserInputError(f"--identify probes a ZooKeeper release: use --target zookeeper, "
                             f"not {args.target}")
    release = _select_release(args)
    workdir = Path(tempfile.mkdtemp(prefix="zkfle-identify-"))
    try:
        found = identify(release, workdir)
    except (TimeoutError, OSError) as exc:
        raise TargetUnavailable(f"ZooKeeper {release.version} ({release.jar}) did not answer the probes: "
                                + str(exc).splitlines()[0]) from None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.json in (None, "-"):
        print(json.dumps(found.to_json(), indent=2) if args.json else found.table())
    else:
        Path(args.json).write_text(json.dumps(found.to_json(), indent=2) + "\n", encoding="utf-8")
        print(found.table())
    return 0


def _live_release(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """Release flags without --identify: the release the live ``zookeeper`` target runs as its SUT (None:
    Debian's 3.8.0, the default)."""
    flags = _release_flags(args)
    if not flags:
        return None
    if args.target != "zookeeper":
        raise UserInputError(f"{flags[0]} selects a ZooKeeper release: it needs --target zookeeper")
    return _select_release(args)


def _announce_sut(release, args: argparse.Namespace) -> None:  # type: ignore[no-untyped-def]
    """One line naming the SUT release, its wire profile, the behaviour profile its version maps to and the
    one the traces were judged by (stdout; stderr when stdout carries the JSON)."""
    from zkfle.model.profiles import DEFAULT_PROFILE, profile, profile_for_release

    mapped = profile_for_release(release.version.triple).name
    if args.traces:
        model = "the traces' own (their #meta; made with --profile P, they are P's)"
    elif args.mutant:
        model = f"the mutant {args.mutant}'s (its traces are expected to diverge)"
    else:
        judged = profile(args.profile).name if args.profile else DEFAULT_PROFILE
        hint = "" if args.profile or mapped == judged else f" (--profile {mapped} judges it by that)"
        model = judged + hint
    print(f"SUT: ZooKeeper {release.version} ({release.jar}), wire profile {release.wire_profile.name}; "
          f"its version maps to the behaviour profile {mapped}; model: {model}",
          file=sys.stderr if args.json == "-" else sys.stdout)


def _traces(args: argparse.Namespace, scratch: Path) -> list[Path]:
    from zkfle.conformance.scenarios import scenario
    from zkfle.conformance.suite import mutant_traces
    from zkfle.conformance.tracegen import generate

    if args.traces or args.suite:
        flag = "--profile" if args.profile else ("--distinguish-from" if args.distinguish_from else None)
        if flag:
            what = "--traces replays traces already made (their #meta names their model)" if args.traces \
                else "--suite runs the 3.8.0 model's default suite"
            raise UserInputError(f"{flag} chooses the model traces are generated from; {what}")
    if args.traces:
        root = Path(args.traces)
        if root.is_file():
            return [root]
        if not root.is_dir():
            raise UserInputError(f"--traces {root}: no such file or directory")
        files = sorted(root.glob("*.json"))
        if not files:
            raise UserInputError(f"--traces {root}: no *.json trace files")
        return files
    variant, against = _model_choice(args)
    if args.mutant:
        mt = mutant_traces(args.mutant, scratch / "mutant", count=args.count or 2, seed=args.seed)
        print(f"mutant {mt.name} ({mt.description}): {len(mt.paths)} distinguishing traces of "
              f"{mt.scenario.name}")
        return mt.paths
    if not args.cover and not args.count:
        raise UserInputError("--scenario needs --count N or --cover")
    scen = scenario(args.scenario)
    if against is not None:
        command = f"zkfle conform --scenario {scen.name} --count {args.count} --seed {args.seed}" + "".join(
            f" {flag} {value}" for flag, value in (("--profile", args.profile),
                                                    ("--distinguish-from", args.distinguish_from)) if value)
        return _distinguishing(args, scen, scratch / scen.name, variant, against, command)
    return generate(scen, scratch / scen.name, count=args.count, cover_mode=args.cover, seed=args.seed,
                    variant=variant).paths


def _run_target(target: str, paths: list[Path], args: argparse.Namespace,  # type: ignore[no-untyped-def]
                release=None):
    from zkfle.conformance.core import CoreMachines, replay
    from zkfle.conformance.live import LiveTarget
    from zkfle.conformance.report import Run
    from zkfle.conformance.trace import load_trace

    started = time.perf_counter()  # traces per minute include reading the ITF files
    traces = [load_trace(p) for p in paths]  # a bad trace is exit 2 before anything runs
    run = Run()
    if target == "core" or target.startswith("cmd:"):
        from zkfle.conformance.adapter import AdapterMachines

        machines = CoreMachines() if target == "core" else AdapterMachines(target[4:])
        try:
            for t in traces:
                again = f"zkfle conform --target {_quote(target)} --traces {t.path}"
                run.results.append(replay(t, machines, target=target, reproduce=again))
        finally:
            machines.close()
    elif target in ("node", "zookeeper"):
        if args.settle_ms < 0:
            raise UserInputError("--settle-ms must be 0 or more")
        if release is not None and target == "zookeeper":
            _announce_sut(release, args)
        live = LiveTarget(target, lanes=args.lanes, confirm=not args.no_confirm, settle_ms=args.settle_ms,
                          release=release if target == "zookeeper" else None)
        again = f"zkfle conform --target {target}{_release_text(args)} --traces {{path}}"
        run.results += live.run(traces, again)
    else:
        raise UserInputError(f"unknown target {target!r}; valid: {TARGETS_HELP}")
    run.wall[target] = time.perf_counter() - started
    return run


def _release_text(args: argparse.Namespace) -> str:
    """The release flags as given, for the reproduce commands."""
    import shlex

    return "".join(f" {flag} {shlex.quote(str(value))}" for flag, value in (
        ("--zookeeper-home", args.zookeeper_home), ("--zookeeper-classpath", args.zookeeper_classpath),
        ("--zookeeper-version", args.zookeeper_version)) if value)


def _quote(target: str) -> str:
    if target.startswith("cmd:"):
        return "\"" + target.replace("\"", "\\\"") + "\""
    return target


def _suite(args: argparse.Namespace, scratch: Path, release=None):  # type: ignore[no-untyped-def]
    from zkfle.conformance.report import merge
    from zkfle.conformance.suite import CORE_SCENARIOS, LIVE_SCENARIOS, covering_traces, random_traces

    core_paths = covering_traces(CORE_SCENARIOS, scratch / "cover", seeds=range(1, 4))
    core_paths += random_traces(CORE_SCENARIOS, scratch / "random", count=25, seed=args.seed)
    live_paths = covering_traces(LIVE_SCENARIOS, scratch / "live", seeds=range(1, 3))
    live_paths += covering_traces(("fresh-5",), scratch / "live5", seeds=range(1, 2))  # 4 played servers
    targets = [args.target] if args.target else ["core", "node", "zookeeper"]
    runs = []
    for target in targets:
        paths = core_paths if target == "core" or target.startswith("cmd:") else live_paths
        runs.append(_run_target(target, paths, args, release))
    return merge(runs)
