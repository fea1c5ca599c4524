"""The model's subcommands: ``zkfle check``, ``zkfle check-model``, ``zkfle simulate``, ``zkfle scenarios``.

Rules:

- Exit codes as TLC: 0 every checked property holds, 11 deadlock, 12 safety violation, 13 liveness
  violation; bad input raises ``UserInputError`` (the root prints one line and exits 2).
- One config builder (``build_model``) serves every subcommand: ``--scenario``, or ``--servers``/
  ``--observers``, or ``--config zoo.cfg``; then the channel, the bounds, ``--mutant`` and ``--invariant``.
- ``zkfle check --mutant NAME`` runs the mutant's registered command (``mutants.check_argv``: scenario,
  channel, bounds, invariant) unless the user names another ensemble; a flag the user gives wins over the
  registered one. With another ``--scenario``/``--servers``/``--observers``/``--config`` nothing registered
  is applied: the mutant runs in the user's setup as given.
- A counterexample is written as ITF (``<out>/<property>.itf.json``, with the command line and seed in
  ``#meta``) and printed as a short list of readable steps (``FleModel.describe``).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from zkfle.errors import InternalError, UserInputError
from zkfle.model import properties
from zkfle.model.config import Bounds, ModelConfig, default_config
from zkfle.model.fle import FleModel
from zkfle.model.mutants import MUTANTS, check_argv, mutant
from zkfle.model.profiles import DEFAULT_PROFILE, add_profile_argument, variant_for
from zkfle.model.scenarios import SCENARIOS, scenario, with_bounds
from zkfle.model.variant import Variant
from zkfle.zoocfg import load_zoo_cfg

DEFAULT_OUT = "zkfle-out"
DEFAULT_MAX_IN_FLIGHT = 2


def register(sub: argparse._SubParsersAction) -> None:
    from zkfle.model.cli_traces import register as register_traces  # zkfle mutants, zkfle trace

    register_traces(sub)
    check = sub.add_parser("check", help="exhaustively check the FLE model (TLC-style exit codes)")
    _config_flags(check)
    check.add_argument("--invariant", action="append", metavar="NAME",
                       help="check only these properties (repeatable); see docs/properties.md")
    check.add_argument("--workers", default="1", help="worker processes, or 'auto'")
    check.add_argument("--max-states", type=int, help="stop after this many distinct states")
    check.add_argument("--max-depth", type=int, help="stop at this BFS depth")
    check.add_argument("--max-seconds", type=float, help="stop after this many seconds")
    check.add_argument("--por", action="store_true",
                       help="partial-order reduction, fifo channel (safety only; docs/reductions.md)")
    check.add_argument("--symmetry", action="store_true",
                       help="symmetry reduction: interchangeable observers (safety only)")
    check.add_argument("--scc", choices=("tarjan", "networkx"), default="tarjan",
                       help="liveness: strongly connected components by the explorer's compact Tarjan "
                            "(default) or by networkx (an independent check; ~1 KB more per state)")
    check.add_argument("--out", default=DEFAULT_OUT, help="where counterexamples go (default ./zkfle-out)")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.add_argument("--seed", type=int, default=0, help="recorded in the ITF metadata")
    check.set_defaults(handler=run_check)

    suite = sub.add_parser("check-model", help="run the default suite of bounded model-checking configs")
    suite.add_argument("--quick", action="store_true", help="the small subset (under a minute)")
    suite.add_argument("--workers", default="1", help="worker processes per row, or 'auto'")
    suite.add_argument("--json", action="store_true", help="print the rows as JSON")
    suite.set_defaults(handler=run_check_model)

    sim = sub.add_parser("simulate", help="random walks over the FLE model (for configs too big to exhaust)")
    _config_flags(sim)
    sim.add_argument("--invariant", action="append", metavar="NAME", help="check only these properties")
    sim.add_argument("--steps", type=int, default=200, help="steps per walk")
    sim.add_argument("--walks", type=int, default=100, help="number of walks")
    sim.add_argument("--seed", type=int, default=None, help="random seed (printed for reproduction)")
    sim.add_argument("--out", default=DEFAULT_OUT, help="where counterexamples go")
    sim.add_argument("--json", action="store_true", help="print one JSON object")
    sim.set_defaults(handler=run_simulate)

    scen = sub.add_parser("scenarios", help="list the named scenarios and mutants")
    scen.add_argument("--json", action="store_true")
    scen.set_defaults(handler=run_scenarios)


def _config_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--servers", type=int, help="voters (default 3)")
    p.add_argument("--observers", type=int, help="observers (default 0)")
    p.add_argument("--config", help="a zoo.cfg to take the ensemble and quorum system from")
    p.add_argument("--scenario", help="a named scenario (see 'zkfle scenarios')")
    p.add_argument("--channel", choices=("fifo", "zk"), help="channel semantics (default fifo)")
    p.add_argument("--crashes", type=int, help="crashes allowed (default 0)")
    p.add_argument("--epochs", type=int, help="largest epoch a leader may establish (default 2)")
    p.add_argument("--txns", type=int, help="committed transactions (default 0)")
    p.add_argument("--timeouts", type=int, help="notification timeouts (default: unbounded, quiet-guarded)")
    p.add_argument("--max-in-flight", type=int, help="messages per channel (default 2)")
    p.add_argument("--mutant", help="run a historical fault instead of 3.8.0 (see 'zkfle scenarios')")
    add_profile_argument(p, default=None)  # issue 7: a release line's FLE (docs/versions.md §4)
    p.add_argument("--late-current-vote", action="store_true",
                   help="setCurrentVote as its own step after lookForLeader returns, as in 3.8.0 (D1; "
                        "by default the decision sets currentVote at once)")


# ---------------------------------------------------------------------------------------------- building
def _selected(args: argparse.Namespace, extra: set[str]) -> frozenset[str] | None:
    names = getattr(args, "invariant", None)
    if not names:
        return None
    valid = [*properties.ALL, *sorted(extra)]
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise UserInputError(f"unknown property {unknown[0]!r}; valid: {', '.join(valid)}")
    return frozenset(names)


def build_model(args: argparse.Namespace) -> FleModel:
    """The model the flags describe (for ``zkfle check``, once the mutant's registered flags are in)."""
    if getattr(args, "command", None) == "check":  # also when a trace's #meta.command is replayed
        _apply_registered_check(args)
    variant = _variant(args)
    for name in ("servers", "observers", "crashes", "epochs", "txns", "timeouts", "max_in_flight"):
        value = getattr(args, name, None)
        if value is not None and value < 0:
            raise UserInputError(f"--{name.replace('_', '-')} must be 0 or more, got {value}")
    if args.scenario:
        if args.servers is not None or args.observers is not None or args.config:
            raise UserInputError("--scenario fixes the ensemble: drop --servers/--observers/--config")
        sc = scenario(args.scenario)
        bounds = with_bounds(sc, crashes=args.crashes, epochs=args.epochs, txns=args.txns,
                             timeouts=args.timeouts, max_in_flight=args.max_in_flight)
        extra = {"ExpectedOutcome"} if (sc.outcome or sc.never_leads) else set()
        if sc.decision is not None:
            extra.add("ExpectedDecision")
        selected = _selected(args, extra)
        return sc.build(channel=args.channel or "fifo", bounds=bounds, variant=variant,
                        selected=_with_default(selected), track_votes=_tracking(selected))
    if args.config:
        if args.servers is not None or args.observers is not None:
            raise UserInputError("--config gives the ensemble: drop --servers/--observers")
        cfg = load_zoo_cfg(args.config)
        if len(cfg.servers) > 7:
            count = len(cfg.servers)
            raise UserInputError(f"{args.config}: the model handles at most 7 servers, not {count}")
    else:
        cfg = default_config(3 if args.servers is None else args.servers, args.observers or 0)
    bounds = Bounds(
        crashes=args.crashes or 0,
        epochs=2 if args.epochs is None else args.epochs,
        txns=args.txns or 0,
        timeouts=args.timeouts,
        max_in_flight=DEFAULT_MAX_IN_FLIGHT if args.max_in_flight is None else args.max_in_flight,
    )
    selected = _selected(args, set())
    mc = ModelConfig(cfg=cfg, channel=args.channel or "fifo", bounds=bounds, variant=variant,
                     track_votes=_tracking(selected))
    return FleModel(mc, selected=_with_default(selected))


def _variant(args: argparse.Namespace) -> Variant:
    """The model variant: a mutant's, a behaviour profile's (``--profile``), or 3.8.0's."""
    profile = getattr(args, "profile", None)
    if args.mutant and profile not in (None, DEFAULT_PROFILE):
        raise UserInputError(f"--mutant {args.mutant} and --profile {profile} both choose the model; "
                             "give one")
    variant = mutant(args.mutant).variant if args.mutant else (variant_for(profile) if profile else Variant())
    if getattr(args, "late_current_vote", False):
        variant = replace(variant, atomic_decision=False)  # docs/divergences.md D1
    return variant


def _with_default(selected: frozenset[str] | None) -> frozenset[str]:
    if selected is not None:
        return selected
    return frozenset(properties.DEFAULT) | {"ExpectedOutcome", "ExpectedDecision"}


def _tracking(selected: frozenset[str] | None) -> bool:
    return selected is None or bool(selected & properties.NEEDS_TRACKING)


def _workers(text: str) -> int:
    if text == "auto":
        return max(1, os.cpu_count() or 1)
    try:
        value = int(text)
    except ValueError:
        raise UserInputError(f"--workers must be a number or 'auto', got {text!r}") from None
    if value < 1:
        raise UserInputError("--workers must be at least 1")
    return value


# ---------------------------------------------------------------------------------------------- check
def run_check(args: argparse.Namespace) -> int:
    from zkfle.model.explorer import ExploreOptions, explore

    model = build_model(args)
    for name in ("max_states", "max_depth", "max_seconds"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise UserInputError(f"--{name.replace('_', '-')} must be positive, got {value}")
    opts = ExploreOptions(
        max_states=args.max_states, max_depth=args.max_depth, max_seconds=args.max_seconds,
        workers=_workers(args.workers), por=args.por, symmetry=args.symmetry,
        check_liveness=bool(model.liveness) and not args.por and not args.symmetry, progress=False,
        scc=args.scc,
    )
    result = explore(model, opts)
    return _report(model, result, args, seed=args.seed)


def _apply_registered_check(args: argparse.Namespace) -> None:
    """Fill the flags the user left out from ``--mutant``'s registered ``zkfle check`` command."""
    if not args.mutant:
        return
    m = mutant(args.mutant)
    own_ensemble = args.servers is not None or args.observers is not None or args.config
    if own_ensemble or (args.scenario is not None and args.scenario != m.scenario):
        return  # the user's own setup: the registered bounds belong to the registered scenario
    registered = argparse.ArgumentParser(add_help=False)
    _config_flags(registered)
    registered.add_argument("--invariant", action="append")
    try:
        defaults = registered.parse_args(check_argv(args.mutant)[1:])
    except SystemExit:
        raise InternalError(f"mutant {args.mutant}: its registered command does not parse") from None
    for name, value in vars(defaults).items():
        if value is not None and getattr(args, name, None) is None:
            setattr(args, name, value)


def _report(model: FleModel, result: Any, args: argparse.Namespace, *, seed: int | None) -> int:
    itf_path = _write_counterexample(model, result, args, seed) if result.violation else None
    if args.json:
        obj = result.to_json()
        obj["config"] = model.name
        obj["counterexample"] = itf_path
        print(json.dumps(obj, sort_keys=True))
        return int(result.exit_code)
    print(f"model:      {model.name}")
    print(f"states:     {result.distinct_states} distinct, {result.states_generated} generated, "
          f"diameter {result.diameter}, {result.seconds:.1f} s, "
          f"{_completeness(result, simulated=getattr(args, 'steps', None) is not None)}")
    if seed is not None and getattr(args, "steps", None) is not None:
        print(f"seed:       {seed} (rerun with --seed {seed})")
    for name, verdict in result.verdicts.items():
        print(f"  {name:28s} {verdict}")
    for note in getattr(result, "notes", []):
        print(f"note: {note}")
    if result.violation:
        v = result.violation
        print(f"\n{v.kind} violation of {v.property} in {len(v.path) - 1} steps:")
        prev = None
        for n, (action, state) in enumerate(v.path):
            if action is not None:
                mark = " (loop starts here)" if v.loop is not None and n == v.loop else ""
                print(f"  {n:3d}. {model.describe(action, prev, state)}{mark}")
            prev = state
        if v.loop is not None:
            print(f"  ... and back to step {v.loop} forever")
        if getattr(args, "por", False) or getattr(args, "symmetry", False):
            print("note: shortest in the reduced graph; without --por/--symmetry it is the shortest overall")
        print(f"\ncounterexample written to {itf_path}")
    return int(result.exit_code)


def _completeness(result: Any, *, simulated: bool) -> str:
    if simulated:
        return "random walks (not exhaustive)"
    if result.complete:
        return "complete"
    if result.violation is not None:
        return "stopped at the first violation"
    return "INCOMPLETE (a limit stopped the search)"


def command_line(args: argparse.Namespace) -> str:
    """The command the user ran, from the argv the root ``main`` parsed (``args.argv``)."""
    return "zkfle " + shlex.join(getattr(args, "argv", None) or sys.argv[1:])


def _write_counterexample(model: FleModel, result: Any, args: argparse.Namespace, seed: int | None) -> str:
    from zkfle.itf import counterexample_to_itf, write_itf

    v = result.violation
    out = args.out
    meta = {"command": command_line(args), "seed": seed, "model": model.name}
    trace = counterexample_to_itf(model, v, meta=meta)
    path = Path(out) / f"{v.property}.itf.json"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserInputError(f"--out {out}: cannot create it: {exc}") from None
    write_itf(path, trace)
    return str(path)


# ---------------------------------------------------------------------------------------------- simulate
def run_simulate(args: argparse.Namespace) -> int:
    import random

    from zkfle.model.explorer import simulate

    if args.steps < 1 or args.walks < 1:
        raise UserInputError("--steps and --walks must be at least 1")
    model = build_model(args)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    result = simulate(model, steps=args.steps, walks=args.walks, seed=seed)
    if not args.json:
        print(f"simulate: {args.walks} walks of up to {args.steps} steps, seed {seed}")
    return _report(model, result, args, seed=seed)


# ---------------------------------------------------------------------------------------------- check-model
def run_check_model(args: argparse.Namespace) -> int:
    from zkfle.model.suite import print_table, run_suite

    rows = run_suite(quick=args.quick, workers=_workers(args.workers))
    if args.json:
        print(json.dumps(rows, sort_keys=True))
    else:
        print_table(rows)
    worst = 0
    for row in rows:
        code = row["exit_code"]
        if code and (worst == 0 or code < worst):
            worst = code
    if any(not row["complete"] for row in rows) and worst == 0:
        print("check-model: a row did not finish within its limits", file=sys.stderr)
        return 1
    return worst


# ---------------------------------------------------------------------------------------------- scenarios
def run_scenarios(args: argparse.Namespace) -> int:
    if args.json:
        listing = {
            "scenarios": {n: {"description": s.description, "expected": s.expected}
                          for n, s in SCENARIOS.items()},
            "mutants": {n: {"description": m.description, "scenario": m.scenario}
                        for n, m in MUTANTS.items()},
            "properties": list(properties.ALL),
        }
        print(json.dumps(listing, sort_keys=True))
        return 0
    print("Scenarios (zkfle check --scenario NAME):")
    for name, sc in SCENARIOS.items():
        print(f"  {name:18s} {sc.description}")
        print(f"  {'':18s} expected: {sc.expected}")
    print("\nMutants (zkfle check --mutant NAME [--scenario S]):")
    for name, m in MUTANTS.items():
        print(f"  {name:18s} {m.description} (try --scenario {m.scenario})")
    print("\nProperties (zkfle check --invariant NAME): " + ", ".join(properties.ALL))
    print("  not guaranteed by FLE (expect a counterexample): "
          + ", ".join(sorted(properties.NOT_GUARANTEED)))
    return 0
