"""The one ITF reader/writer of zkfle: the Informal Trace Format of Apalache (ADR-015), as Quint writes it.

Rules:

- Writing is strict: every integer is ``{"#bigint": "<decimal>"}``; tuples are ``#tup``; sets and
  frozensets are ``#set`` (elements sorted by their JSON text, so a file is reproducible); a dict
  whose keys are all plain strings is a *record* (a JSON object), any other dict is a ``#map``; lists
  are JSON arrays (ITF sequences); ``None`` is Quint's ``None`` variant
  (``{"tag": "None", "value": {"#tup": []}}``). A value a model already encoded (a dict with a single
  ``#bigint``/``#tup``/``#set``/``#map``/``#unserializable`` key) is kept, its inner values encoded.
- Reading is lenient: plain JSON numbers are accepted where ``#bigint`` is expected. A malformed file
  raises ``TraceError`` with one line naming the file and the problem.
- A counterexample's states carry ``#meta`` with the ``action`` that led to the state and its
  ``params``, and the two variables Quint adds for model-based testing: ``mbt::actionTaken`` (the
  action's name, ``"init"`` for the first state) and ``mbt::nondetPicks`` (a record of the action's
  parameters, each wrapped in ``Some``). A lasso keeps ``loop``: as Apalache writes them, the last
  state equals ``states[loop]``.
"""

from __future__ import annotations

import json
import keyword
import os
import tempfile
import time
from collections import namedtuple
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import itf_py

from zkfle.errors import TraceError, UserInputError

FORMAT_DESCRIPTION = "https://apalache-mc.org/docs/adr/015adr-trace.html"
ACTION_TAKEN = "mbt::actionTaken"
NONDET_PICKS = "mbt::nondetPicks"
ENCODED_KEYS = frozenset({"#bigint", "#tup", "#set", "#map", "#unserializable"})
UNIT: dict[str, Any] = {"#tup": []}


# ---------------------------------------------------------------------------------------------- values
def to_itf_value(value: Any) -> Any:
    """Encode a Python value as an ITF expression (strict: integers always as ``#bigint``)."""
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return {"#bigint": str(value)}
    if value is None:
        return {"tag": "None", "value": UNIT}
    if isinstance(value, tuple):
        if hasattr(value, "_asdict"):
            return {str(k): to_itf_value(v) for k, v in value._asdict().items()}
        return {"#tup": [to_itf_value(v) for v in value]}
    if isinstance(value, list):
        return [to_itf_value(v) for v in value]
    if isinstance(value, set | frozenset):
        items = [to_itf_value(v) for v in value]
        return {"#set": sorted(items, key=lambda item: json.dumps(item, sort_keys=True))}
    if isinstance(value, Mapping):
        return _mapping_to_itf(value)
    raise TypeError(f"cannot write a {type(value).__name__} ({value!r:.60}) as an ITF value")


def _mapping_to_itf(value: Mapping[Any, Any]) -> Any:
    keys = list(value)
    if len(keys) == 1 and keys[0] in ENCODED_KEYS:
        key = keys[0]
        inner = value[key]
        if key == "#bigint":
            return {"#bigint": str(int(inner))}
        if key == "#unserializable":
            return {key: str(inner)}
        if key == "#map":
            return {key: [[to_itf_value(k), to_itf_value(v)] for k, v in inner]}
        return {key: [to_itf_value(v) for v in inner]}
    if keys and all(isinstance(k, str) and not k.startswith("#") for k in keys):
        return {k: to_itf_value(v) for k, v in value.items()}
    return {"#map": [[to_itf_value(k), to_itf_value(v)] for k, v in value.items()]}


def from_itf_value(value: Any) -> Any:
    """Decode an ITF expression into itf_py's Python values (lenient: plain JSON integers are accepted).

    ``#bigint`` -> int, ``#tup`` -> tuple, ``#set`` -> frozenset, ``#map`` -> itf_py's ImmutableDict, a
    list -> itf_py's ImmutableList, a record -> a namedtuple ``Rec`` (an ImmutableDict if a field name
    is not an identifier), a variant ``{"tag": T, "value": V}`` -> a namedtuple ``T`` marked as a variant.
    (itf_py's own decoder mistakes a variant holding a ``#bigint`` for a record, hence this one.)
    """
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        raise ValueError(f"{value} is not an integer")
    if isinstance(value, list):
        return itf_py.itf.ImmutableList(from_itf_value(v) for v in value)
    if not isinstance(value, dict):
        raise ValueError(f"unexpected JSON value {value!r:.40}")
    keys = set(value)
    if keys == {"#bigint"}:
        return int(str(value["#bigint"]))
    if keys == {"#tup"}:
        return tuple(from_itf_value(v) for v in _items(value, "#tup"))
    if keys == {"#set"}:
        return frozenset(from_itf_value(v) for v in _items(value, "#set"))
    if keys == {"#map"}:
        pairs = [_pair(p) for p in _items(value, "#map")]
        return itf_py.itf.ImmutableDict({from_itf_value(k): from_itf_value(v) for k, v in pairs})
    if keys == {"#unserializable"}:
        return itf_py.itf.ITFUnserializable(value=str(value["#unserializable"]))
    if keys == {"tag", "value"} and isinstance(value["tag"], str):
        return _variant(value["tag"], value["value"])
    if any(k.startswith("#") for k in keys):
        raise ValueError(f"unknown ITF form with keys {sorted(keys)}")
    return _record({k: from_itf_value(v) for k, v in value.items()})


def _items(value: dict[str, Any], key: str) -> list[Any]:
    items = value[key]
    if not isinstance(items, list):
        raise ValueError(f"{key} must hold a list")
    return items


def _pair(item: Any) -> tuple[Any, Any]:
    if not isinstance(item, list) or len(item) != 2:
        raise ValueError("#map entries must be [key, value] pairs")
    return item[0], item[1]


def _record(fields: dict[str, Any]) -> Any:
    if all(k.isidentifier() and not k.startswith("_") and not keyword.iskeyword(k) for k in fields):
        return namedtuple("Rec", list(fields))(**fields)
    return itf_py.itf.ImmutableDict(fields)


def _variant(tag: str, raw: Any) -> Any:
    """A namedtuple class named after the tag (any string: ``None`` too, which namedtuple refuses)."""
    inner = from_itf_value(raw)
    if isinstance(raw, dict) and hasattr(inner, "_fields") and not hasattr(type(inner), "_itf_variant"):
        fields = dict(inner._asdict())
    else:
        fields = {"value": inner}
    cls = namedtuple("Variant", list(fields))  # type: ignore[misc]
    cls.__name__ = cls.__qualname__ = tag
    return itf_py.itf_variant(cls)(**fields)


# ---------------------------------------------------------------------------------------------- traces
def counterexample_to_itf(model: Any, violation: Any, *, meta: Mapping[str, Any]) -> dict[str, Any]:
    """An ITF trace (a JSON-ready dict) of an explorer ``Violation``.

    ``meta`` supplies at least ``command`` and ``seed``; it may override any ``#meta`` key.
    """
    state_to_itf = getattr(model, "state_to_itf", None)
    states: list[dict[str, Any]] = []
    names: list[str] = []
    for index, (action, state) in enumerate(violation.path):
        values = state_to_itf(state) if state_to_itf is not None else {"state": state}
        if not names:
            names = [str(k) for k in values]
        name, params = _action_parts(model, action)
        encoded_params = {str(k): to_itf_value(v) for k, v in params.items()}  # a record, even if empty
        entry: dict[str, Any] = {
            "#meta": {"index": index, "action": name, "params": encoded_params},
        }
        for key, val in values.items():
            entry[str(key)] = to_itf_value(val)
        entry[ACTION_TAKEN] = name
        entry[NONDET_PICKS] = {k: {"tag": "Some", "value": v} for k, v in encoded_params.items()}
        states.append(entry)
    top_meta: dict[str, Any] = {
        "format": "ITF",
        "format-description": FORMAT_DESCRIPTION,
        "source": getattr(model, "name", "model"),
        "status": "violation",
        "violated": violation.property,
        "kind": violation.kind,
        "command": "",
        "seed": None,
        "timestamp": int(time.time() * 1000),
    }
    top_meta.update(meta)
    trace: dict[str, Any] = {
        "#meta": top_meta,
        "vars": [*names, ACTION_TAKEN, NONDET_PICKS],
        "states": states,
    }
    if violation.loop is not None:
        trace["loop"] = violation.loop
    return trace


def _action_parts(model: Any, action: Any) -> tuple[str, dict[str, Any]]:
    if action is None:
        return "init", {}
    action_to_itf = getattr(model, "action_to_itf", None)
    if action_to_itf is not None:
        params = dict(action_to_itf(action))
    else:
        params = {f"p{i}": v for i, v in enumerate(action[1:], start=1)}
    return str(action[0]), params


def write_itf(path: str | os.PathLike[str], trace_dict: Mapping[str, Any]) -> None:
    """Write an ITF trace atomically (a temporary file renamed into place).

    A place that cannot be written (no such folder, no permission) is a ``UserInputError`` naming it.
    """
    target = Path(path)
    text = json.dumps(trace_dict, indent=1) + "\n"
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise UserInputError(f"{path}: cannot write the trace: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise UserInputError(f"{path}: cannot write the trace: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_itf(path: str | os.PathLike[str]) -> itf_py.Trace:
    """Read an ITF trace; a malformed file raises ``TraceError`` naming the file and the problem."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise TraceError(f"{path}: cannot read the trace: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TraceError(f"{path}: not JSON: {exc}") from None
    return parse_itf(raw, str(path))


def parse_itf(raw: Any, where: str = "trace") -> itf_py.Trace:
    """Check and decode an ITF trace already parsed from JSON."""
    problem = _shape_problem(raw)
    if problem is not None:
        raise TraceError(f"{where}: not an ITF trace: {problem}")
    states = []
    for index, raw_state in enumerate(raw["states"]):
        try:
            values = {k: from_itf_value(v) for k, v in raw_state.items() if k != "#meta"}
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise TraceError(f"{where}: state {index}: bad ITF value: {exc}") from None
        states.append(itf_py.State(meta=dict(raw_state.get("#meta", {})), values=values))
    return itf_py.Trace(
        meta=dict(raw.get("#meta", {})),
        params=list(raw.get("params", [])),
        vars=list(raw["vars"]),
        states=states,
        loop=raw.get("loop"),
    )


def _shape_problem(raw: Any) -> str | None:
    if not isinstance(raw, dict):
        return f"the top level is a {type(raw).__name__}, not an object"
    if not isinstance(raw.get("vars"), list) or not all(isinstance(v, str) for v in raw["vars"]):
        return "'vars' must be a list of names"
    states = raw.get("states")
    if not isinstance(states, list):
        return "'states' must be a list"
    for index, state in enumerate(states):
        if not isinstance(state, dict):
            return f"state {index} is not an object"
        if "#meta" in state and not isinstance(state["#meta"], dict):
            return f"state {index}: '#meta' is not an object"
    if "#meta" in raw and not isinstance(raw["#meta"], dict):
        return "'#meta' is not an object"
    loop = raw.get("loop")
    if loop is not None and (
        not isinstance(loop, int) or isinstance(loop, bool) or not 0 <= loop < max(len(states), 1)
    ):
        return f"'loop' must be an index into the {len(states)} states, got {loop!r}"
    return None


def trace_steps(trace: itf_py.Trace) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(action name, parameters, state values without the mbt:: variables), one per state."""
    steps = []
    for state in trace.states:
        meta = state.meta or {}
        name = meta.get("action", state.values.get(ACTION_TAKEN, ""))
        raw_params = meta.get("params")
        if raw_params is not None:
            params = _as_fields(from_itf_value(raw_params)) if raw_params else {}
        else:
            picks = state.values.get(NONDET_PICKS)
            params = {k: getattr(v, "value", v) for k, v in _as_fields(picks).items()} if picks else {}
        values = {k: v for k, v in state.values.items() if not k.startswith("mbt::")}
        steps.append((str(name), params, values))
    return steps


def _as_fields(decoded: Any) -> dict[str, Any]:
    """The fields of a decoded record (namedtuple or ImmutableDict); a bare value becomes ``value``."""
    if hasattr(decoded, "_asdict"):
        return dict(decoded._asdict())
    if isinstance(decoded, Mapping):
        return {str(k): v for k, v in decoded.items()}
    return {"value": decoded}
