"""Z3 proofs about ZooKeeper 3.8.0's Fast Leader Election.

Rules:

- every theorem is checked by asking Z3 for a counterexample: the query asserts the *negation* of the
  property, so ``unsat`` means proven and ``sat`` means refuted, with the model as the witness;
- every query is also written as SMT-LIB 2 (``--out``, default ``./zkfle-out/smt``) so anyone can re-check
  it with another solver;
- quorum systems are never re-derived: they are built from the shared ``zkfle.zoocfg`` parser and
  ``zkfle.quorum`` verifiers, and the tests pin the symbolic encodings to ``contains_quorum``.

Modules: ``query`` (one solver query, its verdict and SMT-LIB file), ``vote_order``
(``totalOrderPredicate`` over Java ``long``s), ``quorum_system`` (symbolic quorum verifiers, quorum
intersection and reconfiguration), ``induction`` (inductive invariants of the FLE model),
``catalogue`` (the default configs of ``zkfle prove all``) and ``cli`` (``zkfle prove``).
"""
