"""The FastLeaderElection core: ``lookForLeader`` and its helpers, sans I/O.

Rules (ZooKeeper 3.8.0, FastLeaderElection.java L912-1211; see docs/impl-core.md for the branch table):
  * Each ``lookForLeader`` (``StartElection``, or ``Lost``) adds exactly 1 to ``logicalclock``, proposes the
    initial vote (myid, lastLoggedZxid, currentEpoch) -- ``Long.MIN_VALUE`` three times for an observer -- and
    sends it to every voter of the config, myid included (the loop-back is how my own vote reaches recvset).
  * A LOOKING notification of a newer round moves the clock up, clears recvset and re-proposes the better of
    it and my *initial* vote; of an older round it is dropped; of my round it is adopted if better.  It is
    then recorded in recvset, and if a quorum of recvset entries ``equals`` my proposal the finalize wait
    begins.
  * Finalize wait: each notification that arrives is discarded unless it is better than my proposal, and the
    200 ms wait restarts; a better one is put back at the tail of the queue and the election goes on.  200 ms
    of silence decides (``FinalizeTimeout``).
  * FOLLOWING/LEADING notifications decide at once through ``receivedFollowingNotification``: a quorum in
    recvset (same round) or in outofelection (any round, and then the clock is *set* to that round, possibly
    down), plus ``checkLeader``.  OBSERVING notifications and votes for non-voter leaders are ignored, and so
    is everything while my lastLoggedZxid is -1 or from a sender whose zxid is -1.
  * ``notTimeout`` starts at 200 ms and doubles up to 60 s on each poll timeout; it is never reset within one
    ``lookForLeader``.  On a timeout the proposal is re-broadcast if ``have_delivered``, else ``ConnectAll``.
  * While not LOOKING: see :mod:`zkfle.impl.receiver`.  ``Established(epoch)`` updates ``currentVote``'s
    peerEpoch; ``Lost`` sets LOOKING and runs a new ``lookForLeader``.

Theory of operation:
  ZooKeeper's ``lookForLeader`` is a loop blocked in ``recvqueue.poll(timeout)``.  Here that loop is driven by
  events: ``handle`` first applies WorkerReceiver's rules, appends the notification to ``recvqueue``, and then
  *pumps* the loop until the queue is empty, at which point the loop would block again -- so it returns an
  ``ArmTimer`` for the poll it is now blocked in ("poll" for ``notTimeout``, or "finalize" for 200 ms).  A
  fired timer comes back as ``PollTimeout``/``FinalizeTimeout``.  Timers the core no longer waits on are
  cancelled; a stale timeout (its timer not armed) is ignored.  The queue is normally empty between events;
  it holds notifications only before ``StartElection`` (queued while LOOKING, as ZooKeeper's receiver does
  before ``lookForLeader`` runs) and transiently for the finalize re-queue.

Ordering choices of the event model (ZooKeeper runs these concurrently):
  1. The receiver's reply to a message is emitted before ``lookForLeader`` handles that message.
  2. A notification that arrives is handled completely (including its sends) before the next one.
  3. Notifications received before ``StartElection`` are handled, in arrival order, right after the initial
     ``sendNotifications`` -- as if ``lookForLeader`` had found them queued.
  4. ``Decided`` is atomic: state, ``currentVote`` and the cleared queue change together (ZooKeeper sets
     ``currentVote`` a moment after ``setPeerState``; a reply sent in between would carry the older vote).
  5. ``Send`` batches go to voters in ascending sid order (Java's ``HashSet<Long>`` order for small sids).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from types import MappingProxyType

from zkfle.errors import InternalError
from zkfle.impl.events import (
    FOLLOWING,
    LEADING,
    LOOKING,
    OBSERVER,
    OBSERVING,
    PARTICIPANT,
    Action,
    ArmTimer,
    CancelTimer,
    ChangeState,
    ConnectAll,
    Decided,
    Established,
    Event,
    FinalizeTimeout,
    Lost,
    Notification,
    PollTimeout,
    Received,
    Send,
    StartElection,
    Vote,
)
from zkfle.impl.receiver import ReceiverView, worker_receive
from zkfle.impl.recvset import check_leader, has_all_quorums
from zkfle.impl.vote import LONG_MIN, check_int, check_long, total_order_predicate
from zkfle.quorum import QuorumVerifier

FINALIZE_WAIT_MS = 200  # FastLeaderElection.finalizeWait
MIN_NOTIFICATION_INTERVAL_MS = FINALIZE_WAIT_MS  # minNotificationInterval
MAX_NOTIFICATION_INTERVAL_MS = 60_000  # maxNotificationInterval
POLL, FINALIZE = "poll", "finalize"  # timer names

Proposal = tuple[int, int, int]  # (leader, zxid, peer_epoch)


class FastLeaderElection:
    """One server's election: feed it events with :meth:`handle`, carry out the actions it returns."""

    def __init__(
        self,
        myid: int,
        qv: QuorumVerifier,
        *,
        last_zxid: int,
        current_epoch: int,
        learner_type: str,
        config_text: bytes = b"",
    ) -> None:
        if learner_type not in (PARTICIPANT, OBSERVER):
            raise InternalError(f"learner_type {learner_type!r} is neither {PARTICIPANT!r} nor {OBSERVER!r}")
        self._myid = check_long(myid, "myid")
        self._qv = qv
        self._learner_type = learner_type
        self._config = config_text
        self._last_zxid = check_long(last_zxid, "last_zxid")
        self._current_epoch = check_long(current_epoch, "current_epoch")
        self._state = LOOKING  # QuorumPeer starts LOOKING
        self._logicalclock = 0
        self._proposal: Proposal = (-1, -1, 0)  # FastLeaderElection.starter: proposedLeader/Zxid = -1
        # QuorumPeer.startLeaderElection: currentVote = new Vote(myid, getLastLoggedZxid(), getCurrentEpoch())
        self._current_vote = Vote(myid, last_zxid, -1, current_epoch)
        self._recvqueue: deque[tuple[int, Notification]] = deque()
        self._recvset: dict[int, Vote] = {}
        self._outofelection: dict[int, Vote] = {}
        self._not_timeout = MIN_NOTIFICATION_INTERVAL_MS
        self._running = False  # inside lookForLeader
        self._finalizing = False  # inside the finalizeWait drain
        self._armed: set[str] = set()

    # ------------------------------------------------------------------ read-only view
    @property
    def myid(self) -> int:
        return self._myid

    @property
    def qv(self) -> QuorumVerifier:
        return self._qv

    @property
    def learner_type(self) -> str:
        return self._learner_type

    @property
    def state(self) -> int:
        return self._state

    @property
    def logicalclock(self) -> int:
        return self._logicalclock

    @property
    def proposal(self) -> Proposal:
        return self._proposal

    @property
    def current_vote(self) -> Vote | None:
        return self._current_vote

    @property
    def recvset(self) -> Mapping[int, Vote]:
        """The current (or, after a decision, the last) lookForLeader's recvset."""
        return MappingProxyType(self._recvset)

    @property
    def outofelection(self) -> Mapping[int, Vote]:
        return MappingProxyType(self._outofelection)

    @property
    def finalizing(self) -> bool:
        return self._finalizing

    @property
    def not_timeout_ms(self) -> int:
        return self._not_timeout

    @property
    def running(self) -> bool:
        """Is lookForLeader running (LOOKING and started)?"""
        return self._running

    @property
    def armed_timers(self) -> frozenset[str]:
        return frozenset(self._armed)

    def set_persistent(self, last_zxid: int, current_epoch: int) -> None:
        """The data tree's last zxid and the currentEpoch file changed (read afresh at each use, like ZK)."""
        self._last_zxid = check_long(last_zxid, "last_zxid")
        self._current_epoch = check_long(current_epoch, "current_epoch")

    # ------------------------------------------------------------------ events
    def handle(self, event: Event) -> list[Action]:
        """Apply one event; return the actions, in the order ZooKeeper would perform them."""
        match event:
            case Received(sid, n):
                return self._on_received(sid, n)
            case PollTimeout(have_delivered):
                return self._on_poll_timeout(have_delivered)
            case FinalizeTimeout():
                return self._on_finalize_timeout()
            case StartElection():
                if self._running or self._state != LOOKING:
                    raise InternalError(f"server {self._myid}: StartElection while not waiting to elect")
                return self._look_for_leader()
            case Established(epoch):
                return self._update_election_vote(epoch)
            case Lost():
                return self._on_lost()
        raise InternalError(f"server {self._myid}: unknown event {event!r}")

    def _on_received(self, sid: int, n: Notification) -> list[Action]:
        check_long(sid, "sid")
        for what in ("leader", "zxid", "election_epoch", "peer_epoch"):
            check_long(getattr(n, what), f"notification {what}")
        check_int(n.state, "notification state")
        check_int(n.version, "notification version")
        receipt = worker_receive(self._receiver_view(), sid, n)
        actions: list[Action] = list(receipt.replies)
        if receipt.enqueue:
            self._recvqueue.append((sid, n))  # recvqueue.offer(n)
            if self._running:
                actions += self._pump()
        return actions

    def _on_poll_timeout(self, have_delivered: bool) -> list[Action]:
        if not self._running or self._finalizing or POLL not in self._armed:
            return []  # stale: the core is no longer blocked in that poll
        self._armed.discard(POLL)
        # lookForLeader L969-997: n == null
        actions: list[Action] = self._send_notifications() if have_delivered else [ConnectAll()]
        self._not_timeout = min(self._not_timeout * 2, MAX_NOTIFICATION_INTERVAL_MS)
        return actions + self._pump()

    def _on_finalize_timeout(self) -> list[Action]:
        if not self._finalizing or FINALIZE not in self._armed:
            return []  # stale
        self._armed.discard(FINALIZE)
        # lookForLeader L1060-1065: 200 ms passed with nothing better
        leader, zxid, epoch = self._proposal
        return self._decide(leader, Vote(leader, zxid, self._logicalclock, epoch))

    # QuorumPeer.updateElectionVote
    def _update_election_vote(self, epoch: int) -> list[Action]:
        cur = self._current_vote
        epoch = check_long(epoch, "epoch")
        self._current_vote = Vote(cur.leader, cur.zxid, cur.election_epoch, epoch, cur.state)
        return []

    # QuorumPeer.run: updateServerState() -> LOOKING, then lookForLeader() again
    def _on_lost(self) -> list[Action]:
        if self._state == LOOKING:
            return []  # already electing (or about to): nothing to lose
        self._state = LOOKING
        return [ChangeState(LOOKING, self._current_vote), *self._look_for_leader()]

    # ------------------------------------------------------------------ lookForLeader
    # FastLeaderElection.lookForLeader, L912-958
    def _look_for_leader(self) -> list[Action]:
        self._running = True
        self._finalizing = False
        self._recvset = {}
        self._outofelection = {}
        self._not_timeout = MIN_NOTIFICATION_INTERVAL_MS
        self._logicalclock += 1
        self._proposal = self._initial_vote()
        return self._send_notifications() + self._pump()

    def _pump(self) -> list[Action]:
        """Run lookForLeader's loop over the queued notifications until it would block in a poll."""
        actions: list[Action] = []
        while self._running:
            if self._finalizing:
                if not self._recvqueue:  # recvqueue.poll(finalizeWait): (re)start the 200 ms wait
                    actions.append(self._arm(FINALIZE, FINALIZE_WAIT_MS))
                    return actions
                sid, n = self._recvqueue.popleft()
                if self._better(n.leader, n.zxid, n.peer_epoch, *self._proposal):  # L1050-1053
                    self._recvqueue.append((sid, n))  # recvqueue.put(n): at the tail
                    self._finalizing = False
                    actions += self._cancel(FINALIZE)
                # else: discarded, and the wait restarts
                continue
            if not self._recvqueue:  # recvqueue.poll(notTimeout)
                actions.append(self._arm(POLL, self._not_timeout))
                return actions
            sid, n = self._recvqueue.popleft()
            actions += self._process(sid, n)
        return actions

    # FastLeaderElection.lookForLeader, L998-1117: one notification taken from recvqueue
    def _process(self, sid: int, n: Notification) -> list[Action]:
        if not (self._valid_voter(sid) and self._valid_voter(n.leader)):  # L998, L1122-1129
            return []
        if n.state == LOOKING:
            return self._looking(sid, n)
        if n.state in (FOLLOWING, LEADING):
            # receivedLeadingNotification without an oracle is receivedFollowingNotification
            return self._received_following_notification(sid, n)
        return []  # OBSERVING: "Notification from observer", ignored (L1068-1070)

    # lookForLeader, case LOOKING (L1004-1067)
    def _looking(self, sid: int, n: Notification) -> list[Action]:
        if self._init_last_logged_zxid() == -1 or n.zxid == -1:
            return []
        actions: list[Action] = []
        if n.election_epoch > self._logicalclock:  # (a) newer round
            self._logicalclock = n.election_epoch
            self._recvset.clear()
            init = self._initial_vote()
            if self._better(n.leader, n.zxid, n.peer_epoch, *init):
                self._proposal = (n.leader, n.zxid, n.peer_epoch)
            else:
                self._proposal = init
            actions += self._send_notifications()
        elif n.election_epoch < self._logicalclock:  # (b) older round: dropped
            return actions
        elif self._better(n.leader, n.zxid, n.peer_epoch, *self._proposal):  # (c) same round, better
            self._proposal = (n.leader, n.zxid, n.peer_epoch)
            actions += self._send_notifications()
        self._recvset[sid] = Vote(n.leader, n.zxid, n.election_epoch, n.peer_epoch)  # L1042
        leader, zxid, epoch = self._proposal
        if self._has_all_quorums(self._recvset, Vote(leader, zxid, self._logicalclock, epoch)):  # L1044-1046
            self._finalizing = True
            actions += self._cancel(POLL)
        return actions

    # FastLeaderElection.receivedFollowingNotification (L1145-1182)
    def _received_following_notification(self, sid: int, n: Notification) -> list[Action]:
        candidate = Vote(n.leader, n.zxid, n.election_epoch, n.peer_epoch, n.state, n.version)
        end_vote = Vote(n.leader, n.zxid, n.election_epoch, n.peer_epoch)
        if n.election_epoch == self._logicalclock:  # same round
            self._recvset[sid] = Vote(n.leader, n.zxid, n.election_epoch, n.peer_epoch, n.state)  # version 0
            if self._has_all_quorums(self._recvset, candidate) and self._check_leader(
                self._recvset, n.leader, n.election_epoch
            ):
                return self._decide(n.leader, end_vote)
        self._outofelection[sid] = candidate  # any round, with the sender's version
        if self._has_all_quorums(self._outofelection, candidate) and self._check_leader(
            self._outofelection, n.leader, n.election_epoch
        ):
            self._logicalclock = n.election_epoch  # may go DOWN
            return self._decide(n.leader, end_vote)
        return []

    # setPeerState(proposedLeader, voteSet) + leaveInstance(endVote) + QuorumPeer.setCurrentVote
    def _decide(self, leader: int, end_vote: Vote) -> list[Action]:
        state = self._learning_state() if leader != self._myid else LEADING
        actions: list[Action] = []
        for name in sorted(self._armed):
            actions += self._cancel(name)
        self._running = False
        self._finalizing = False
        self._recvqueue.clear()  # leaveInstance
        self._state = state
        self._current_vote = end_vote
        return [*actions, ChangeState(state, end_vote), Decided(end_vote, state)]

    # ------------------------------------------------------------------ helpers
    # FastLeaderElection.sendNotifications
    def _send_notifications(self) -> list[Action]:
        leader, zxid, epoch = self._proposal
        n = Notification(LOOKING, leader, zxid, self._logicalclock, epoch, config=self._config)
        return [Send(sid, n) for sid in sorted(self._voters())]

    def _better(
        self, new_id: int, new_zxid: int, new_epoch: int, cur_id: int, cur_zxid: int, cur_epoch: int
    ) -> bool:
        return total_order_predicate(self._qv, new_id, new_zxid, new_epoch, cur_id, cur_zxid, cur_epoch)

    def _has_all_quorums(self, votes: Mapping[int, Vote], candidate: Vote) -> bool:
        return has_all_quorums((self._qv,), votes, candidate)

    def _check_leader(self, votes: Mapping[int, Vote], leader: int, election_epoch: int) -> bool:
        return check_leader(votes, leader, election_epoch, myid=self._myid, logicalclock=self._logicalclock)

    def _voters(self) -> frozenset[int]:
        """getCurrentAndNextConfigVoters(): a static config has one."""
        return self._qv.voting_members

    def _valid_voter(self, sid: int) -> bool:
        return sid in self._voters()

    # getInitId / getInitLastLoggedZxid / getPeerEpoch
    def _initial_vote(self) -> Proposal:
        init_id = self._myid if self._myid in self._qv.voting_members else LONG_MIN
        return (init_id, self._init_last_logged_zxid(), self._peer_epoch())

    def _init_last_logged_zxid(self) -> int:
        return self._last_zxid if self._learner_type == PARTICIPANT else LONG_MIN

    def _peer_epoch(self) -> int:
        return self._current_epoch if self._learner_type == PARTICIPANT else LONG_MIN

    # FastLeaderElection.learningState
    def _learning_state(self) -> int:
        return FOLLOWING if self._learner_type == PARTICIPANT else OBSERVING

    def _receiver_view(self) -> ReceiverView:
        leader, zxid, epoch = self._proposal
        return ReceiverView(
            myid=self._myid,
            state=self._state,
            voters=self._voters(),
            logicalclock=self._logicalclock,
            current_vote=self._current_vote,
            proposal=Vote(leader, zxid, -1, epoch),
            config=self._config,
        )

    def _arm(self, name: str, ms: int) -> ArmTimer:
        self._armed.add(name)
        return ArmTimer(name, ms)

    def _cancel(self, name: str) -> list[Action]:
        if name not in self._armed:
            return []
        self._armed.discard(name)
        return [CancelTimer(name)]
