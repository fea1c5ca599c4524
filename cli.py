"""The ``zkfle`` command line: one dispatcher, each part registers its own subcommands.

Every part owns a ``cli.py`` with ``register(subparsers)``; this module only wires them together and
turns zkfle's errors into one clear line and an exit code:

- ``UserInputError`` (bad flag, bad zoo.cfg, bad trace): ``zkfle: error: ...``, exit 2;
- ``TargetUnavailable``: exit 3; any other ``ZkfleError``: exit 1;
- subcommands return their own exit codes (0 holds, 11 deadlock, 12 safety, 13 liveness; as TLC).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from zkfle.errors import ZkfleError

# Each part's cli module; a part that is not there yet is simply skipped.
_PARTS = ("zkfle.model.cli", "zkfle.proofs.cli", "zkfle.impl.cli", "zkfle.conformance.cli")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"zkfle: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="zkfle", description="ZooKeeper's Fast Leader Election, pinned down.")
    parser.add_argument("--version", action="version", version="zkfle 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in _PARTS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        register: Callable[[argparse._SubParsersAction], None] = module.register
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(argv if argv is not None else sys.argv[1:])  # what a trace's #meta.command records
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        code = handler(args)
    except ZkfleError as exc:
        print(f"zkfle: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("zkfle: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (``zkfle ... | head``): not an error of ours; silence the final flush
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
