"""Stable 64-bit fingerprints of states (TLC's fingerprints, made reproducible across processes).

Rules:

- A state is built only from tuples, ints, strs, bools and None (see ``spec.py``). Its fingerprint is
  ``xxh3_64(marshal.dumps(state, 2))``: a 64-bit unsigned int, identical in every process, on every run,
  whatever ``PYTHONHASHSEED`` is.
- Python's ``hash()`` is not usable: ``hash(-1) == hash(-2)`` and ``hash(str)`` changes per process,
  so two workers (or two runs) would disagree.
- Marshal format version 2 is chosen on purpose: from version 3 on, marshal writes back-references for
  objects whose reference count is above one and flags interned strings, so the *same value* built
  with or without shared sub-objects would serialise to different bytes. Version 2 writes every
  value in full, so equal states give equal bytes.
- Sets, frozensets and dicts are refused by construction (marshal would accept them, but their order
  follows ``hash()``, which is per-process for strs): a model must encode them as sorted tuples.
"""

from __future__ import annotations

import marshal
from typing import Any

import xxhash

MARSHAL_VERSION = 2
FINGERPRINT_BITS = 64

_xxh3 = xxhash.xxh3_64_intdigest
_dumps = marshal.dumps


def fingerprint(state: Any) -> int:
    """The stable 64-bit fingerprint of ``state`` (an unsigned int below 2**64)."""
    return _xxh3(_dumps(state, MARSHAL_VERSION))


def check_fingerprintable(state: Any) -> None:
    """Raise ``TypeError`` naming the part of ``state`` that has no stable fingerprint (model's fault)."""
    if state is None or isinstance(state, bool | int | str):
        return
    if isinstance(state, tuple):
        for item in state:
            check_fingerprintable(item)
        return
    raise TypeError(
        f"model state contains a {type(state).__name__} ({state!r:.60}); states must be built from "
        "tuples, ints, strs, bools and None so their fingerprints are stable"
    )
