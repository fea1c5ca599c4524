"""``zkfle prove``: the Z3 proofs from the command line.

Subcommands: ``order`` (the vote order), ``quorums`` (quorum intersection of a zoo.cfg, and of an old/new
pair with ``--next``), ``induction`` (inductive invariants of the FLE model for N servers) and ``all``
(everything on the default configs, as a table).

Exit codes: 0 proven (for ``all``: every verdict as expected, negative twins refuted); 12 refuted, or for
``induction`` not inductive (the witness or counterexample to induction is printed; with ``--json`` it is
data); 1 the solver gave up; 2 bad input (one line).
Every query is also written as SMT-LIB 2 under ``--out`` (default ``./zkfle-out/smt``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zkfle.proofs import catalogue
from zkfle.proofs.query import CTI, DEFAULT_OUT, PROVEN, REFUTED, Outcome, exit_code
from zkfle.proofs.quorum_system import QUORUM_MUTANTS, prove_intersection, prove_reconfig
from zkfle.proofs.vote_order import MUTANTS, prove_order
from zkfle.zoocfg import load_zoo_cfg


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
        help=f"where the SMT-LIB 2 queries are written (default ./{DEFAULT_OUT})",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    prove = subparsers.add_parser("prove", help="Z3 proofs: vote order, quorum intersection, induction")
    sub = prove.add_subparsers(dest="prove_command", metavar="WHAT", parser_class=type(prove))
    prove.set_defaults(handler=lambda _args: _usage(prove))

    order = sub.add_parser("order", help="totalOrderPredicate is a strict total order (all Java longs)")
    order.add_argument("--mutant", choices=sorted(MUTANTS), help="check a historical buggy predicate instead")
    _common(order)
    order.set_defaults(handler=_order)

    quorums = sub.add_parser(
        "quorums", help="any two quorums of a zoo.cfg intersect (and old/new with --next)"
    )
    quorums.add_argument("--config", required=True, type=Path, metavar="ZOO_CFG", help="the zoo.cfg to read")
    quorums.add_argument("--next", type=Path, metavar="ZOO_CFG", help="the config a reconfiguration moves to")
    quorums.add_argument("--mutant", choices=QUORUM_MUTANTS, help="check a broken quorum verifier instead")
    _common(quorums)
    quorums.set_defaults(handler=_quorums)

    induction = sub.add_parser("induction", help="FLE model invariants are inductive for N servers")
    induction.add_argument("--servers", type=int, default=3, metavar="N", help="number of voters (default 3)")
    induction.add_argument("--invariant", metavar="NAME", help="prove only this invariant")
    induction.add_argument(
        "--variant", choices=("as-is", "no-epoch-check", "both"), default="as-is",
        help="the model as it is (default; Join has ZooKeeper's Learner epoch check), the negative twin "
        "without that check, or both",
    )
    _common(induction)
    induction.set_defaults(handler=_induction)

    everything = sub.add_parser("all", help="every proof on the default configs, as a table")
    everything.add_argument(
        "--induction-servers", type=int, default=3, choices=(0, 3), metavar="N",
        help="voters for the induction proofs: 3 (default), or 0 to skip them (they take the most time)",
    )
    _common(everything)
    everything.set_defaults(handler=_all)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _order(args: argparse.Namespace) -> int:
    return _report(f"prove order{' --mutant ' + args.mutant if args.mutant else ''}",
                   prove_order(args.mutant, out_dir=args.out), args.json)


def _quorums(args: argparse.Namespace) -> int:
    old = load_zoo_cfg(args.config)
    outcomes = [prove_intersection(old, mutant=args.mutant, out_dir=args.out)]
    if args.next is not None:
        new = load_zoo_cfg(args.next)
        outcomes.append(prove_intersection(new, mutant=args.mutant, out_dir=args.out))
        outcomes.append(prove_reconfig(old, new, mutant=args.mutant, out_dir=args.out))
    return _report("prove quorums", outcomes, args.json)


def _induction_module() -> Any:
    from zkfle.proofs import induction

    return induction


def _induction(args: argparse.Namespace) -> int:
    induction = _induction_module()
    variants = {"as-is": (induction.AS_IS,), "no-epoch-check": (induction.NO_EPOCH_CHECK,)}.get(
        args.variant, (induction.AS_IS, induction.NO_EPOCH_CHECK)
    )
    outcomes = induction.prove_induction(args.servers, args.invariant, out_dir=args.out, variants=variants)
    return _report(f"prove induction --servers {args.servers}", outcomes, args.json)


def run_all(out_dir: Path | None, induction_servers: int = 3) -> list[Outcome]:
    """Every proof of ``prove all``, with the expected verdict of each (negative twins: refuted)."""
    outcomes = list(prove_order(None, out_dir=out_dir))
    for mutant, prop in (("ZK-1419", "asymmetric"), ("ZK-498", "weight-0 candidate never wins")):
        for o in prove_order(mutant, out_dir=out_dir):
            if o.prop.endswith(prop):
                o.expected = REFUTED
                outcomes.append(o)
    for name, expected in catalogue.INTERSECTION:
        o = prove_intersection(catalogue.config(name), name=name, out_dir=out_dir)
        o.expected = expected
        outcomes.append(o)
    for name, mutant in catalogue.MUTATED:
        o = prove_intersection(catalogue.config(name), name=name, mutant=mutant, out_dir=out_dir)
        o.expected = REFUTED
        outcomes.append(o)
    for old, new, expected in catalogue.RECONFIG:
        o = prove_reconfig(
            catalogue.config(old), catalogue.config(new), old_name=old, new_name=new, out_dir=out_dir
        )
        o.expected = expected
        outcomes.append(o)
    if induction_servers:
        outcomes += _induction_module().default_outcomes(out_dir, induction_servers)
    return outcomes


def _all(args: argparse.Namespace) -> int:
    outcomes = run_all(args.out, args.induction_servers)
    code = exit_code(outcomes)
    if args.json:
        print(json.dumps(_json("prove all", outcomes, code), indent=2))
        return code
    _table(outcomes)
    print(_summary(outcomes, code))
    return code


def _json(command: str, outcomes: Sequence[Outcome], code: int) -> dict[str, Any]:
    return {"command": f"zkfle {command}", "exit_code": code, "results": [o.to_json() for o in outcomes]}


def _summary(outcomes: Sequence[Outcome], code: int) -> str:
    proven = sum(o.verdict == PROVEN for o in outcomes)
    refuted = sum(o.verdict == REFUTED for o in outcomes)
    twins = sum(o.verdict == REFUTED and o.expected == REFUTED for o in outcomes)
    ctis = sum(o.verdict == CTI for o in outcomes)
    total = sum(o.seconds for o in outcomes)
    text = f"{proven} proven, {refuted} refuted ({twins} of them negative twins, as expected)"
    if ctis:
        text += f", {ctis} not inductive (counterexample to induction printed)"
    text += f", {total:.2f} s of solving"
    return text + ("" if code == 0 else f"; exit {code}")


def _report(command: str, outcomes: Sequence[Outcome], as_json: bool) -> int:
    code = exit_code(outcomes)
    if as_json:
        print(json.dumps(_json(command, outcomes, code), indent=2))
        return code
    for o in outcomes:
        print(f"{o.verdict.upper():8} {o.prop}  [{o.config}]  {o.seconds:.3f} s")
        for line in o.witness_lines:
            print(f"         {line}")
        if o.note:
            print(f"         {o.note}")
    written = [o.smt2 for o in outcomes if o.smt2]
    if written:
        print(f"SMT-LIB 2 queries written under {Path(written[0]).parent}")
    print(_summary(outcomes, code))
    return code


def _table(outcomes: Sequence[Outcome]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="zkfle prove all")
    for column in ("property", "config", "verdict", "expected", "seconds"):
        table.add_column(column, justify="right" if column == "seconds" else "left")
    styles: dict[bool, str] = {True: "green", False: "bold red"}
    for o in outcomes:
        table.add_row(
            o.prop, o.config, f"[{styles[o.as_expected]}]{o.verdict}[/]", o.expected, f"{o.seconds:.3f}"
        )
    Console(width=180).print(table)
    for o in outcomes:
        if not o.as_expected:
            print(f"unexpected: {o.prop} [{o.config}] is {o.verdict}")
            for line in o.witness_lines:
                print(f"    {line}")

