"""zkfle.impl: a reference implementation of ZooKeeper 3.8.0's Fast Leader Election.

Rules:
  * The protocol core is sans I/O (h11 style): :class:`zkfle.impl.election.FastLeaderElection` is fed events
    (:mod:`zkfle.impl.events`: a notification from a sid, a poll or finalize timeout, an epoch established,
    the leader lost) and returns actions (send a notification, change state, arm or cancel a timer, connect
    to all, decided).  It owns no socket, clock, thread or logger, and it never reads ``zkfle.model``.
  * It follows ZooKeeper 3.8.0 exactly, quirks included (reference: zookeeper-3.8-fle.md §1 and §5): rounds
    separate from peerEpochs, the newer-round comparison against the *initial* vote, ``Vote.equals`` with its
    version XOR rule, the weight-0 rule of ``totalOrderPredicate``, the finalize wait that discards and
    restarts, the out-of-election exit that may set the clock down, replies from WorkerReceiver, the
    notification-timeout backoff, observers and non-voters.
  * Quorums are counted only by :mod:`zkfle.quorum`; configs are read only by :mod:`zkfle.zoocfg`.

Theory of operation (the core):
  ``vote``      totalOrderPredicate and Vote.equals, on Java ``long`` semantics.
  ``recvset``   the vote tracker (getVoteTracker / hasAllQuorums) and checkLeader.
  ``receiver``  WorkerReceiver's rules: replies to non-voters and to LOOKING servers, what reaches the queue.
  ``election``  lookForLeader as an event-driven loop over recvqueue: each ``handle`` runs the receiver rules,
                queues the notification and pumps the loop until it would block again, returning the timer
                that poll would wait on.  Ordering choices of the event model are listed in its docstring.
  ``harness``   an in-process Ensemble of cores on a seeded, virtual-time network (FIFO per channel, loss,
                duplication, crashes) for tests, the conformance ``core`` target and benchmarks.
  The node (I/O side) turns ``Send`` into frames on QuorumCnxManager-style connections (myid's own sends
  loop back as ``Received(myid, n)`` in order) and timers into asyncio timers.
"""
