"""zkfle: Apache ZooKeeper's Fast Leader Election, pinned down.

The repository root is this package. Its parts:

- ``zkfle.model``: a small-step model of FLE as ZooKeeper 3.8.0 implements it, and the explorer;
- ``zkfle.proofs``: Z3 checks (vote order, quorum intersection, inductive invariants);
- ``zkfle.impl``: the reference implementation (sans-I/O core, wire codec, asyncio node);
- ``zkfle.conformance``: model traces replayed against implementations.

Written once and shared by all of them: ``zkfle.zoocfg`` (the one zoo.cfg parser),
``zkfle.quorum`` (the one family of quorum verifiers), ``zkfle.errors``, ``zkfle.itf`` and ``zkfle.cli``.
"""

__version__ = "0.1.0"
