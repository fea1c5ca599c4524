"""Subcommands for design reviews: ``zkfle mutants`` and ``zkfle trace show|render|minimize``.

Rules:

- ``zkfle mutants`` lists the mutant registry; ``--check NAME`` runs one mutant's command and the same command
  on 3.8.0's model (exit 0 when the mutant is caught and 3.8.0 passes, 1 otherwise); ``--bench`` prints a
  markdown table (seconds, states, steps per mutant); ``--write-docs DIR`` writes docs/bugs.
- ``zkfle trace ...`` reads an ITF counterexample written by ``zkfle check``/``simulate``, re-executes it in
  the model its ``#meta.command`` describes (``zkfle.model.replay``) and shows, renders or minimizes it.
- Bad input (a missing or malformed file, an unknown mutant) raises ``UserInputError``/``TraceError``: one
  line, exit 2.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from zkfle.errors import UserInputError


def register(sub: argparse._SubParsersAction) -> None:
    mut = sub.add_parser("mutants", help="historical FLE faults: list, check, benchmark, document")
    mut.add_argument("--json", action="store_true", help="print the list as JSON")
    mut.add_argument("--check", metavar="NAME", help="catch one mutant and pass 3.8.0 on the same command")
    mut.add_argument("--bench", action="store_true", help="time every mutant (markdown table on stdout)")
    mut.add_argument("--no-correct", action="store_true", help="with --bench: skip the 3.8.0 runs")
    mut.add_argument("--write-docs", metavar="DIR", help="run every mutant and write one page per bug")
    mut.add_argument("--only", action="append", metavar="NAME", help="restrict --bench/--write-docs")
    mut.set_defaults(handler=run_mutants)

    within = sub.add_parser("decide-within", help="bounded liveness: every live voter decides within K steps "
                            "after the last fault (DecideWithin<K>)")
    within.add_argument("k", type=int, metavar="K", help="steps allowed after the last fault")
    from zkfle.model.cli import _config_flags

    _config_flags(within)
    within.add_argument("--max-states", type=int, help="stop after this many (state, counter) pairs")
    within.add_argument("--out", default="zkfle-out", help="where the counterexample goes")
    within.set_defaults(handler=run_decide_within)

    trace = sub.add_parser("trace", help="show, render or minimize an ITF counterexample")
    tsub = trace.add_subparsers(dest="trace_command", metavar="ACTION", parser_class=type(trace))
    show = tsub.add_parser("show", help="the trace as a narrative, one line per step")
    show.add_argument("file")
    show.add_argument("--command", help="the zkfle check command that describes the model (default: #meta)")
    show.set_defaults(handler=run_show)
    render = tsub.add_parser("render", help="an SVG sequence diagram in a standalone HTML page, or mermaid")
    render.add_argument("file")
    render.add_argument("-o", "--out", required=True, help="the output file")
    render.add_argument("--format", choices=("html", "svg", "mermaid"), default="html")
    render.add_argument("--command", help="the zkfle check command that describes the model (default: #meta)")
    render.set_defaults(handler=run_render)
    mini = tsub.add_parser("minimize", help="delta debugging: a 1-minimal run that still fails")
    mini.add_argument("file")
    mini.add_argument("-o", "--out", help="where the minimized ITF trace goes (default: FILE.min.itf.json)")
    mini.add_argument("--command", help="the zkfle check command that describes the model (default: #meta)")
    mini.set_defaults(handler=run_minimize)
    trace.set_defaults(handler=lambda args: _usage(trace))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


# ---------------------------------------------------------------------------------------------- mutants
def run_mutants(args: argparse.Namespace) -> int:
    from zkfle.model import bugs
    from zkfle.model.mutants import MUTANTS, check_argv, mutant

    names = args.only
    for name in names or []:
        mutant(name)  # an unknown name is the user's mistake
    if args.check:
        mutant(args.check)
        r, c = bugs.run(args.check), bugs.run(args.check, correct=True)
        caught = r.result.violation is not None
        print(f"{args.check}: {r.command}")
        print(f"  mutant: {'violates ' + r.result.violation.property if caught else 'NO violation'}"
              f" ({r.length or '-'} steps, {r.result.distinct_states} states, {r.result.seconds:.2f} s)")
        print(f"  3.8.0:  exit {c.result.exit_code} ({c.result.distinct_states} states, "
              f"{c.result.seconds:.2f} s)")
        return 0 if caught and c.result.exit_code == 0 else 1
    if args.bench:
        print(bugs.bench_table(bugs.bench_rows(names, correct=not args.no_correct)), end="")
        return 0
    if args.write_docs:
        for page in bugs.write_docs(args.write_docs, names):
            print(page)
        return 0
    if args.json:
        print(json.dumps({n: {"description": m.description, "scenario": m.scenario, "jira": m.jira,
                              "affected": m.affected, "expect": m.expect,
                              "command": "zkfle " + " ".join(check_argv(n)) if m.jira else None}
                          for n, m in MUTANTS.items()}, indent=1, sort_keys=True))
        return 0
    for name, m in MUTANTS.items():
        print(f"{name:18s} {m.description}")
        if m.jira:
            print(f"{'':18s} {m.jira}, affected {m.affected}, fixed in {m.fixed_in}; violates {m.expect}")
            print(f"{'':18s} zkfle {' '.join(check_argv(name))}")
    return 0


# ---------------------------------------------------------------------------------------------- trace
def _load(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from zkfle.model.replay import load

    if not Path(args.file).is_file():
        raise UserInputError(f"{args.file}: no such trace file")
    return load(args.file, args.command)


def run_show(args: argparse.Namespace) -> int:
    from zkfle.model.narrative import narrate

    r = _load(args)
    print(f"{r.model.name}: {len(r.path) - 1} steps" + (f", {r.kind} violation of {r.property}" if r.property
                                                        else ""))
    print(f"command: {r.command}")
    for line in narrate(r.model, r.path, r.property, r.loop):
        print(line)
    return 0


def run_render(args: argparse.Namespace) -> int:
    from zkfle.model.render import mermaid, page, svg

    r = _load(args)
    title = f"{r.property or 'trace'}: {Path(args.file).name}"
    if args.format == "mermaid":
        text = mermaid(r.model, r.path, r.property)
    elif args.format == "svg":
        text = svg(r.model, r.path, title)
    else:
        text = page(r.model, r.path, title=title, prop=r.property, loop=r.loop)
    try:
        Path(args.out).write_text(text)
    except OSError as exc:
        raise UserInputError(f"-o {args.out}: cannot write it: {exc}") from None
    print(args.out)
    return 0


def run_minimize(args: argparse.Namespace) -> int:
    from zkfle.itf import counterexample_to_itf, write_itf
    from zkfle.model.explorer import Violation
    from zkfle.model.minimize import minimize
    from zkfle.model.replay import execute

    r = _load(args)
    actions = [a for a, _ in r.path[1:] if a is not None]
    kept = minimize(r.model, actions, r.property)
    path = execute(r.model, kept)
    kind = "invariant" if r.property in r.model.invariants else "action"
    out = args.out or _min_name(args.file)
    meta = {"command": r.command, "seed": r.meta.get("seed"), "minimized-from": str(args.file)}
    write_itf(out, counterexample_to_itf(r.model, Violation(kind, r.property, path), meta=meta))
    print(f"{len(actions)} steps -> {len(kept)} steps; re-checked: every step enabled, {r.property} violated "
          f"at the last one")
    print(out)
    return 0


def _min_name(file: str) -> str:
    """FILE.itf.json -> FILE.min.itf.json (any other name: FILE.min.itf.json next to it)."""
    base = file[: -len(".itf.json")] if file.endswith(".itf.json") else str(Path(file).with_suffix(""))
    return base + ".min.itf.json"


# ---------------------------------------------------------------------------------------------- bounded
def run_decide_within(args: argparse.Namespace) -> int:
    """``zkfle decide-within K [config flags]``: exit 0 holds, 13 violated (a run that has not decided)."""
    import shlex
    import sys

    from zkfle.itf import counterexample_to_itf, write_itf
    from zkfle.model.bounded import decide_within
    from zkfle.model.cli import build_model
    from zkfle.model.narrative import narrate

    args.invariant = None
    model = build_model(args)
    result = decide_within(model, args.k, max_states=args.max_states)
    print(f"model:  {model.name}")
    print(f"states: {result.distinct_states} (state, steps-since-fault) pairs, "
          f"{'complete' if result.complete else 'stopped'}")
    v = result.violation
    if v is None:
        print(f"DecideWithin{args.k}: holds")
        return 0
    out = Path(args.out) / f"{v.property}.itf.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    words = list(getattr(args, "argv", None) or sys.argv[1:])
    check = ["check", *words[1:]] if words[:1] == ["decide-within"] else ["check"]
    command = shlex.join(["zkfle", *[w for w in check if w != str(args.k)]])
    write_itf(out, counterexample_to_itf(model, v, meta={"command": command, "seed": None}))
    print(f"{v.property}: violated, {len(v)} steps without a decision after the last fault:")
    for line in narrate(model, v.path):
        print(line)
    print(f"counterexample written to {out}")
    return 13
