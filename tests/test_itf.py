"""ITF counterexamples: schema-valid, strict integers, Quint's mbt:: variables, lenient reading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import itf_py
import jsonschema
import pytest
from shared_files import shared_file

from zkfle.errors import TraceError, UserInputError
from zkfle.itf import counterexample_to_itf, from_itf_value, read_itf, to_itf_value, trace_steps, write_itf
from zkfle.model.explorer import explore, toys

SCHEMA = json.loads(shared_file("reference/itf.schema.json").read_text())
META = {"command": "zkfle check-model --config x", "seed": 42}


def trace_of(model: Any) -> dict[str, Any]:
    result = explore(model)
    assert result.violation is not None
    return counterexample_to_itf(model, result.violation, meta=META)


def plain_ints(value: Any) -> list[Any]:
    """Every plain JSON number inside an ITF value (a strict writer leaves none)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [value]
    if isinstance(value, list):
        return [x for item in value for x in plain_ints(item)]
    if isinstance(value, dict):
        return [x for key, item in value.items() if key != "#meta" for x in plain_ints(item)]
    return []


@pytest.mark.parametrize(
    "model",
    [toys.Mutex(), toys.Counters(2, 10, jump_at=2), toys.Philosophers(3), toys.Livelock(3, "livelock")],
    ids=lambda m: m.name,
)
def test_counterexamples_are_schema_valid_and_strict(model: Any) -> None:
    trace = trace_of(model)
    jsonschema.validate(trace, SCHEMA)
    assert plain_ints(trace["states"]) == []
    meta = trace["#meta"]
    assert meta["format"] == "ITF" and meta["status"] == "violation"
    assert meta["command"] == META["command"] and meta["seed"] == 42
    assert meta["violated"] in model.invariants or meta["violated"] in model.action_properties \
        or meta["violated"] in model.liveness or meta["violated"] == "Deadlock"
    assert {"format-description", "source", "timestamp"} <= set(meta)
    assert trace["vars"][-2:] == ["mbt::actionTaken", "mbt::nondetPicks"]
    for state in trace["states"]:
        assert set(trace["vars"]) == set(state) - {"#meta"}
        assert state["#meta"]["action"] == state["mbt::actionTaken"]


def test_a_broken_trace_fails_the_schema() -> None:
    """The negative twin of the schema check: a plain float and a bad bigint are rejected."""
    trace = trace_of(toys.Mutex())
    trace["states"][0]["pc"] = 1.5
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(trace, SCHEMA)
    trace = trace_of(toys.Mutex())
    trace["states"][0]["pc"] = {"#bigint": "twelve"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(trace, SCHEMA)


def test_loop_only_for_lassos() -> None:
    assert trace_of(toys.Livelock(3, "livelock"))["loop"] == 0
    assert "loop" not in trace_of(toys.Mutex())


def test_actions_and_parameters() -> None:
    trace = trace_of(toys.Counters(2, 10, jump_at=1))
    first, second = trace["states"][0], trace["states"][1]
    assert first["mbt::actionTaken"] == "init" and first["mbt::nondetPicks"] == {}
    assert second["#meta"]["action"] == "Inc"
    assert second["#meta"]["params"] == {"counter": {"#bigint": "0"}}
    assert second["mbt::nondetPicks"] == {"counter": {"tag": "Some", "value": {"#bigint": "0"}}}
    mutex = trace_of(toys.Mutex())  # no action_to_itf: parameters named after their place
    assert mutex["states"][1]["#meta"]["params"] == {"p1": {"#bigint": "0"}}


def test_round_trip_through_a_file(tmp_path: Path) -> None:
    model = toys.Mutex()
    result = explore(model)
    assert result.violation is not None
    path = tmp_path / "mutex.itf.json"
    write_itf(path, counterexample_to_itf(model, result.violation, meta=META))
    steps = trace_steps(read_itf(path))
    assert [name for name, _, _ in steps] == ["init"] + [a[0] for a, _ in result.violation.path[1:]]
    assert [p for _, p, _ in steps][1:] == [{"p1": a[1]} for a, _ in result.violation.path[1:]]
    last = steps[-1][2]
    assert last["pc"] == {0: 2, 1: 2}
    assert last["flag"] == {0: True, 1: True}


def test_values_encode_as_itf() -> None:
    assert to_itf_value(5) == {"#bigint": "5"}
    assert to_itf_value(True) is True
    assert to_itf_value((1, "a")) == {"#tup": [{"#bigint": "1"}, "a"]}
    assert to_itf_value(frozenset({2, 1})) == {"#set": [{"#bigint": "1"}, {"#bigint": "2"}]}
    assert to_itf_value({"a": 1}) == {"a": {"#bigint": "1"}}
    assert to_itf_value({1: "x"}) == {"#map": [[{"#bigint": "1"}, "x"]]}
    assert to_itf_value(None) == {"tag": "None", "value": {"#tup": []}}
    pre_encoded = {"#map": [[{"#bigint": "1"}, {"leader": {"#bigint": "3"}}]]}
    assert to_itf_value(pre_encoded) == pre_encoded
    with pytest.raises(TypeError):
        to_itf_value(object())


def test_reading_is_lenient_about_plain_numbers(tmp_path: Path) -> None:
    path = tmp_path / "plain.itf.json"
    path.write_text(json.dumps({"vars": ["x"], "states": [{"x": 3}, {"x": {"#bigint": "4"}}]}))
    trace = read_itf(path)
    assert [s.values["x"] for s in trace.states] == [3, 4]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "top level"),
        ('{"vars": ["x"]}', "'states'"),
        ('{"states": []}', "'vars'"),
        ('{"vars": ["x"], "states": [{"x": {"#bigint": "zz"}}]}', "state 0"),
        ('{"vars": ["x"], "states": [{"x": 1.5}]}', "state 0"),
        ('{"vars": ["x"], "states": [{"x": 1}], "loop": 3}', "'loop'"),
        ('{"vars": ["x"], "states": [7]}', "state 0"),
    ],
)
def test_malformed_files_raise_one_line_trace_errors(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "bad.itf.json"
    path.write_text(text)
    with pytest.raises(TraceError) as caught:
        read_itf(path)
    message = str(caught.value)
    assert str(path) in message and problem in message
    assert "\n" not in message


def test_a_missing_file_is_a_trace_error(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="cannot read"):
        read_itf(tmp_path / "absent.itf.json")


def test_values_that_are_not_python_names_read_back(tmp_path: Path) -> None:
    """Quint's None variant and a record field named like a keyword ("from") survive a round trip."""
    path = tmp_path / "names.itf.json"
    written = {"opt": None, "requeued": [{"from": 3, "round": 1}]}
    write_itf(path, {"vars": list(written), "states": [{k: to_itf_value(v) for k, v in written.items()}]})
    values = read_itf(path).states[0].values
    assert type(values["opt"]).__name__ == "None" and values["opt"].value == ()
    assert dict(values["requeued"][0]) == {"from": 3, "round": 1}
    assert from_itf_value({"tag": "Some", "value": {"#bigint": "7"}}).value == 7
    with pytest.raises(ValueError):  # why zkfle.itf decodes by itself: itf_py's decoder refuses these
        itf_py.value_from_json({"tag": "None", "value": {"#tup": []}})


def test_an_unwritable_place_is_the_users_mistake(tmp_path: Path) -> None:
    trace = trace_of(toys.Mutex())
    with pytest.raises(UserInputError, match="cannot write"):
        write_itf(tmp_path / "no-such-folder" / "t.itf.json", trace)
    write_itf(tmp_path / "t.itf.json", trace)  # the twin: an existing folder is fine
    assert read_itf(tmp_path / "t.itf.json").vars == trace["vars"]
