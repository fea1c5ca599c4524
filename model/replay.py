"""Traces back into the model: read an ITF counterexample, rebuild its model, re-execute its actions.

Rules:

- The model is rebuilt from the trace's ``#meta.command`` (the ``zkfle check``/``simulate`` command line that
  wrote it), through the model CLI's own ``build_model``, so the replayed states are exactly the model's.
- Every step is re-executed from the initial state: a step whose action is not enabled is the trace's fault
  (``TraceError``, naming the file and the step).
- Nothing is taken from the trace's state values: they are for humans; the model's states are the truth.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zkfle.errors import TraceError, UserInputError
from zkfle.model.fle import FleModel

Action = tuple[Any, ...]
Path_ = list[tuple[Action | None, Any]]


@dataclass
class Replayed:
    """A trace re-executed in its model."""

    model: FleModel
    path: Path_
    property: str
    kind: str
    loop: int | None
    command: str
    meta: dict[str, Any]


def model_from_command(command: str) -> FleModel:
    """The model a ``zkfle check ...`` / ``zkfle simulate ...`` command line describes."""
    from zkfle.cli import build_parser
    from zkfle.model.cli import build_model

    words = shlex.split(command)
    if words and Path(words[0]).name in ("zkfle", "__main__.py"):
        words = words[1:]
    if not words or words[0] not in ("check", "simulate"):
        raise TraceError(f"the trace's command {command!r} is not a 'zkfle check' or 'zkfle simulate'")
    args = build_parser().parse_args(words)
    return build_model(args)


def _int(value: Any) -> int:
    if isinstance(value, dict) and "#bigint" in value:
        return int(value["#bigint"])
    if isinstance(value, int):
        return value
    raise ValueError(f"not an integer: {value!r}")


def action_of(entry: dict[str, Any]) -> Action:
    """The action tuple recorded in one ITF state's ``#meta`` (``params.args``, or ``p1``, ``p2``...)."""
    meta = entry.get("#meta", {})
    name = meta.get("action") or entry.get("mbt::actionTaken")
    params = meta.get("params", {})
    if "args" in params:
        args = [_int(a) if not isinstance(a, str) else a for a in params["args"]]
    else:
        args = [_int(params[k]) for k in _param_order(params)]
    return (str(name), *args)


# The model's parameter names in action order (model/itf_view.action_to_itf; "from"/"to" in older traces).
_NAMED_PARAMS = (("src", "dst"), ("from", "to"), ("leader", "quorumMask"), ("server",))


def _param_order(params: dict[str, Any]) -> list[str]:
    """Parameter names in the action tuple's order: by the model's names, else p1, p2, ... by number."""
    for names in _NAMED_PARAMS:
        if set(params) == set(names):
            return list(names)
    return sorted(params, key=lambda k: int(k[1:]) if k[1:].isdigit() else 0)


def read(path: str | Path) -> tuple[dict[str, Any], list[Action]]:
    """The raw trace and its actions (after the initial state)."""
    from zkfle.itf import read_itf

    read_itf(path)  # validates the file (TraceError on a malformed one)
    try:
        raw = json.loads(Path(path).read_text())
        actions = [action_of(e) for e in raw["states"][1:]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TraceError(f"{path}: cannot read its actions: {exc}") from None
    return raw, actions


def execute(model: FleModel, actions: list[Action], where: str = "trace") -> Path_:
    """Re-execute ``actions`` from the model's (single) initial state; every step must be enabled."""
    state = model.init_states()[0]
    path: Path_ = [(None, state)]
    for n, action in enumerate(actions, start=1):
        for candidate, nxt in model.successors(state):
            if candidate == action:
                state = nxt
                break
        else:
            raise TraceError(f"{where}: step {n} {action} is not enabled in the model")
        path.append((action, state))
    return path


def load(path: str | Path, command: str | None = None) -> Replayed:
    """Read an ITF counterexample and re-execute it in the model its command line describes."""
    raw, actions = read(path)
    meta = raw.get("#meta", {})
    command = command or meta.get("command") or ""
    if not command:
        raise UserInputError(f"{path}: the trace has no #meta.command; give the model with --command")
    model = model_from_command(command)
    steps = execute(model, actions, str(path))
    loop = raw.get("loop")
    return Replayed(model, steps, str(meta.get("violated", "")), str(meta.get("kind", "")),
                    int(loop) if loop is not None else None, command, meta)
