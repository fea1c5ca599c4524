"""Fingerprints are stable 64-bit values: the same in every process, distinct where hash() is not."""

from __future__ import annotations

import json
import marshal
import os
import subprocess
import sys

import pytest

from zkfle.model.explorer import fingerprint
from zkfle.model.explorer.fingerprint import check_fingerprintable

STATES = [
    (),
    (0,),
    (-1,),
    (-2,),
    ("LOOKING", 3, (1, 2, 0x100000000), True, None),
    (("FOLLOWING", "LEADING"), ("x" * 300,), 2**70, -(2**70)),
]

CHILD = """
import json, sys
from zkfle.model.explorer import fingerprint
print(json.dumps([fingerprint(eval(text)) for text in json.loads(sys.argv[1])]))
"""


@pytest.mark.parametrize("seed", ["0", "12345"])
def test_fingerprints_are_identical_in_another_process(seed: str) -> None:
    reprs = [repr(s) for s in STATES]
    env = {**os.environ, "PYTHONHASHSEED": seed}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(reprs)],
        capture_output=True, text=True, check=True, env=env, timeout=60,
    ).stdout
    assert json.loads(out) == [fingerprint(s) for s in STATES]


def test_hash_confuses_minus_one_and_minus_two_but_fingerprints_do_not() -> None:
    assert hash(-1) == hash(-2)  # why Python's hash() is no fingerprint
    assert fingerprint((-1,)) != fingerprint((-2,))
    assert fingerprint(-1) != fingerprint(-2)


def test_fingerprints_are_unsigned_64_bit_and_distinguish_the_sample() -> None:
    fps = [fingerprint(s) for s in STATES]
    assert all(0 <= fp < 2**64 for fp in fps)
    assert len(set(fps)) == len(fps)


def test_shared_subvalues_do_not_change_the_fingerprint() -> None:
    part = tuple([1, 2, 3, "abc"])
    shared = (part, part)
    copied = (tuple([1, 2, 3, "abc"]), tuple([1, 2, 3, "abc"]))
    assert shared == copied
    # marshal's default format writes back-references for shared objects, so its bytes differ ...
    assert marshal.dumps(shared) != marshal.dumps(copied)
    # ... while the fingerprint (marshal format 2) depends on the value only
    assert fingerprint(shared) == fingerprint(copied)


def test_unstable_values_are_refused() -> None:
    check_fingerprintable(STATES[4])
    with pytest.raises(TypeError, match="frozenset"):
        check_fingerprintable((1, frozenset({"a", "b"})))
    with pytest.raises(TypeError, match="dict"):
        check_fingerprintable(({"a": 1},))
