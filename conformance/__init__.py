"""Conformance: the FLE model's traces replayed against implementations (``zkfle traces``, ``zkfle conform``).

Rules:

- One trace format: ITF (``zkfle.itf``), each state carrying the action, its parameters, the servers'
  observables and the notifications sent in that step (``tracegen``); readers are lenient (``trace``).
- Targets: ``core`` and ``cmd:`` (every server replayed through an engine, in process or behind a
  JSON-lines adapter: ``core``, ``adapter``); ``node`` and ``zookeeper`` (one live server, the others played
  over the election wire: ``live``, with ``zkserver`` starting real ZooKeeper 3.8.0).
- A result is a pass or the first divergence, with expected versus observed, the trace prefix and a command
  that reproduces it (``report``). Exit 0 conforms, 12 diverges, 2 bad input, 3 target unavailable.

Theory of operation: ``scenarios`` names the ensembles and mutants, ``tracegen`` walks the model (limited to
what a live SUT can be driven through) and picks covering sets, ``suite`` assembles what ``zkfle conform``
runs (including the distinguishing traces of a mutant), ``cli`` registers the commands. docs/conformance.md
has the details, docs/divergences.md what was found.
"""
