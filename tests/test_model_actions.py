"""Every action branch of the FLE model on hand-built states (ZooKeeper 3.8.0, reference §1 and §5)."""

from __future__ import annotations

import pytest

from zkfle.model import fle
from zkfle.model.config import Bounds, ModelConfig, default_config, zxid_of
from zkfle.model.fle import FleModel
from zkfle.model.testing import (
    empty_channels,
    enabled,
    in_flight,
    message,
    step,
    with_channel,
    with_server,
)
from zkfle.model.variant import Variant
from zkfle.model.vote import FOLLOWING, LEADING, LOOKING, OBSERVING, is_total_order, make_predicate

L = LOOKING


def model(voters: int = 3, observers: int = 0, channel: str = "fifo", variant: Variant | None = None,
          **bounds: int) -> FleModel:
    b = Bounds(**{"max_in_flight": 3, **bounds})  # type: ignore[arg-type]
    return FleModel(ModelConfig(default_config(voters, observers), channel=channel, bounds=b,
                                variant=variant or Variant(), track_votes=False))


def quiet_start(m: FleModel) -> tuple:
    return empty_channels(m, m.init_states()[0])


def field(m: FleModel, state: tuple, sid: int, index: int) -> object:
    return m.server(state, sid)[index]


def proposal(m: FleModel, state: tuple, sid: int) -> tuple[int, int, int]:
    s = m.server(state, sid)
    return (s[fle.PL], s[fle.PZ], s[fle.PE])


# ---- start
def test_initial_votes_are_broadcast_to_every_voter_including_self() -> None:
    m = model()
    s0 = m.init_states()[0]
    for src in (1, 2, 3):
        for dst in (1, 2, 3):
            assert in_flight(m, s0, src, dst) == (message(L, src, 0, 1, 0),)
        assert field(m, s0, src, fle.RS) == ()  # the self vote is not in recvset yet


def test_self_vote_reaches_recvset_only_through_the_loopback_message() -> None:
    m = model()
    s1 = step(m, m.init_states()[0], ("Deliver", 1, 1))
    assert [e[:6] for e in field(m, s1, 1, fle.RS)] == [(1, 1, 0, 1, 0, L)]


# ---- rounds
def newer_round_state(m: FleModel) -> tuple:
    s = quiet_start(m)
    s = with_server(m, s, 1, rnd=1, proposal=(3, 0, 0), rs=((3, 3, 0, 1, 0, L, 0, 0),))
    return with_channel(m, s, 2, 1, message(L, 2, 0, 2, 0))


def test_newer_round_adopts_round_clears_recvset_and_compares_with_the_initial_vote() -> None:
    m = model()
    t = step(m, newer_round_state(m), ("Deliver", 2, 1))
    assert field(m, t, 1, fle.RND) == 2
    assert proposal(m, t, 1) == (2, 0, 0)  # 2 beats the initial vote (1), the old proposal 3 is gone
    assert [e[0] for e in field(m, t, 1, fle.RS)] == [2]
    for dst in (1, 2, 3):
        assert in_flight(m, t, 1, dst) == (message(L, 2, 0, 2, 0),)


def test_newer_round_variants_keep_or_reset_the_proposal() -> None:
    keep = model(variant=Variant(round_jump="keep"))
    t = step(keep, newer_round_state(keep), ("Deliver", 2, 1))
    assert proposal(keep, t, 1) == (3, 0, 0)
    zk275 = model(variant=Variant(round_jump="self"))
    t = step(zk275, newer_round_state(zk275), ("Deliver", 2, 1))
    assert proposal(zk275, t, 1) == (1, 0, 0)


def test_newer_round_keeps_the_initial_vote_when_it_is_better() -> None:
    m = model()
    s = with_server(m, quiet_start(m), 1, zx=zxid_of(0, 5), proposal=(1, zxid_of(0, 5), 0))
    s = with_channel(m, s, 3, 1, message(L, 3, 0, 4, 0))
    t = step(m, s, ("Deliver", 3, 1))
    assert field(m, t, 1, fle.RND) == 4 and proposal(m, t, 1) == (1, 5, 0)


def test_older_round_is_dropped_and_answered_with_the_live_proposal() -> None:
    m = model()
    s = with_server(m, quiet_start(m), 1, rnd=3, proposal=(3, 0, 0))
    s = with_channel(m, s, 2, 1, message(L, 2, 0, 1, 0))
    t = step(m, s, ("Deliver", 2, 1))
    assert field(m, t, 1, fle.RS) == () and proposal(m, t, 1) == (3, 0, 0)
    assert in_flight(m, t, 1, 2) == (message(L, 3, 0, 3, 0),)
    assert in_flight(m, t, 1, 3) == ()


def test_same_round_better_vote_is_adopted_and_rebroadcast() -> None:
    m = model()
    s = with_channel(m, quiet_start(m), 2, 1, message(L, 2, 0, 1, 0))
    t = step(m, s, ("Deliver", 2, 1))
    assert proposal(m, t, 1) == (2, 0, 0)
    assert all(in_flight(m, t, 1, d) == (message(L, 2, 0, 1, 0),) for d in (1, 2, 3))


def test_same_round_worse_vote_is_recorded_without_sending() -> None:
    m = model()
    s = with_channel(m, quiet_start(m), 1, 3, message(L, 1, 0, 1, 0))
    t = step(m, s, ("Deliver", 1, 3))
    assert proposal(m, t, 3) == (3, 0, 0)
    assert [e[:2] for e in field(m, t, 3, fle.RS)] == [(1, 1)]
    assert all(in_flight(m, t, 3, d) == () for d in (1, 2, 3))


def test_notifications_with_a_non_voter_leader_or_observing_state_are_ignored() -> None:
    m = model(3, 1)
    s = with_channel(m, quiet_start(m), 2, 1, message(L, 4, 9, 1, 9), message(OBSERVING, 2, 0, 1, 0))
    t = step(m, step(m, s, ("Deliver", 2, 1)), ("Deliver", 2, 1))
    assert field(m, t, 1, fle.RS) == () and proposal(m, t, 1) == (1, 0, 0)


# ---- quorum and finalize wait
def in_finalize_wait(m: FleModel) -> tuple:
    """Server 2 proposes 2 and has votes for 2 from 1 and itself: it is waiting finalizeWait."""
    s = with_server(m, quiet_start(m), 2, rs=((1, 2, 0, 1, 0, L, 0, 0),))
    s = with_channel(m, s, 2, 2, message(L, 2, 0, 1, 0))
    return step(m, s, ("Deliver", 2, 2))


def test_a_quorum_of_equal_votes_starts_the_finalize_wait() -> None:
    m = model()
    t = in_finalize_wait(m)
    assert field(m, t, 2, fle.FW) is True and field(m, t, 2, fle.ST) == L
    assert ("FinalizeExpire", 2) in enabled(m, t)
    decided = step(m, t, ("FinalizeExpire", 2))
    assert field(m, decided, 2, fle.ST) == LEADING and field(m, decided, 2, fle.CV) == (2, 0, 1, 0)


def test_votes_for_the_same_leader_from_another_round_do_not_add_up() -> None:
    m = model()
    s = with_server(m, quiet_start(m), 2, rs=((1, 2, 0, 7, 0, L, 0, 0),))  # a stale round-7 vote for 2
    s = with_channel(m, s, 2, 2, message(L, 2, 0, 1, 0))
    t = step(m, s, ("Deliver", 2, 2))
    assert field(m, t, 2, fle.FW) is False


def test_without_finalize_wait_the_quorum_decides_at_once() -> None:
    m = model(variant=Variant(finalize_wait=False))
    t = in_finalize_wait(m)
    assert field(m, t, 2, fle.ST) == LEADING


def test_finalize_wait_discards_a_vote_that_is_not_better() -> None:
    m = model()
    s = with_channel(m, in_finalize_wait(m), 1, 2, message(L, 1, 0, 1, 0))
    t = step(m, s, ("Deliver", 1, 2))
    assert field(m, t, 2, fle.FW) is True
    assert field(m, t, 2, fle.RS) == field(m, s, 2, fle.RS)
    assert field(m, t, 2, fle.PEND) is None


def test_finalize_wait_requeues_a_better_vote_which_is_handled_next() -> None:
    m = model()
    s = with_channel(m, in_finalize_wait(m), 3, 2, message(L, 3, 0, 1, 0))
    s = with_channel(m, s, 1, 2, message(L, 2, 0, 1, 0))
    t = step(m, s, ("Deliver", 3, 2))
    assert field(m, t, 2, fle.FW) is False and field(m, t, 2, fle.PEND) is not None
    acts = enabled(m, t)
    assert ("ProcessRequeued", 2) in acts and ("Deliver", 1, 2) not in acts
    u = step(m, t, ("ProcessRequeued", 2))
    assert proposal(m, u, 2) == (3, 0, 0) and field(m, u, 2, fle.PEND) is None


# ---- FOLLOWING / LEADING
def test_same_round_following_votes_match_on_leader_id_and_need_the_leaders_word() -> None:
    m = model()
    s = with_server(m, quiet_start(m), 1, rs=((2, 3, 0, 1, 0, FOLLOWING, 0, 0),))
    s = with_channel(m, s, 3, 1, message(LEADING, 3, 0, 1, 0))
    t = step(m, s, ("Deliver", 3, 1))
    assert field(m, t, 1, fle.ST) == FOLLOWING and field(m, t, 1, fle.CV)[0] == 3


def test_zk3537_same_round_path_asks_outofelection_for_the_leader() -> None:
    # The state of the test above: 3.8.0 follows 3 at once; before 3.6.0 (ZK-3537) checkLeader reads
    # outofelection, which has no LEADING entry from 3 yet, and the vote enters recvset as a LOOKING one.
    def run(variant: Variant) -> tuple[int, tuple]:
        m = model(variant=variant)
        s = with_server(m, quiet_start(m), 1, rs=((2, 3, 0, 1, 0, FOLLOWING, 0, 0),))
        s = with_channel(m, s, 3, 1, message(LEADING, 3, 0, 1, 0))
        t = step(m, s, ("Deliver", 3, 1))
        return int(field(m, t, 1, fle.ST)), field(m, t, 1, fle.RS)  # type: ignore[return-value]

    st, _ = run(Variant())
    assert st == FOLLOWING
    st, rs = run(Variant(same_round_check_recvset=False))
    assert st == L and (3, 3, 0, 1, 0, L, 0, 0) in rs


def test_zk3537_same_round_path_decides_once_outofelection_has_the_leaders_word() -> None:
    m = model(variant=Variant(same_round_check_recvset=False))
    s = with_server(m, quiet_start(m), 1, rs=((3, 3, 0, 1, 0, L, 0, 0),),
                    ooe=((3, 3, 0, 1, 0, LEADING, 0, 0),))
    s = with_channel(m, s, 2, 1, message(FOLLOWING, 3, 0, 1, 0))
    t = step(m, s, ("Deliver", 2, 1))
    assert field(m, t, 1, fle.ST) == FOLLOWING and field(m, t, 1, fle.CV)[0] == 3


def test_check_leader_rejects_a_leader_seen_only_as_looking_and_zk159_accepts_it() -> None:
    def run(variant: Variant) -> int:
        m = model(variant=variant)
        s = with_server(m, quiet_start(m), 1, rs=((3, 3, 0, 1, 0, L, 0, 0),))
        s = with_channel(m, s, 2, 1, message(FOLLOWING, 3, 0, 1, 0))
        return int(field(m, step(m, s, ("Deliver", 2, 1)), 1, fle.ST))  # type: ignore[call-overload]

    assert run(Variant()) == L
    assert run(Variant(check_leader=False)) == FOLLOWING


def test_out_of_election_quorum_follows_and_the_round_may_go_down() -> None:
    m = model()
    s = with_server(m, quiet_start(m), 1, rnd=5, proposal=(1, 0, 0))
    s = with_channel(m, s, 2, 1, message(FOLLOWING, 3, 0, 2, 1))
    s = with_channel(m, s, 3, 1, message(LEADING, 3, 0, 2, 1))
    t = step(m, step(m, s, ("Deliver", 2, 1)), ("Deliver", 3, 1))
    assert field(m, t, 1, fle.ST) == FOLLOWING and field(m, t, 1, fle.RND) == 2


def test_out_of_election_needs_equal_peer_epochs() -> None:
    m = model()
    s = with_server(m, quiet_start(m), 1, rnd=5)
    s = with_channel(m, s, 2, 1, message(FOLLOWING, 3, 0, 2, 0))
    s = with_channel(m, s, 3, 1, message(LEADING, 3, 0, 2, 1))
    t = step(m, step(m, s, ("Deliver", 2, 1)), ("Deliver", 3, 1))
    assert field(m, t, 1, fle.ST) == L


def test_a_server_becomes_leader_through_following_votes_only_in_its_own_round() -> None:
    def run(rnd: int, variant: Variant) -> int:
        m = model(variant=variant)
        s = with_server(m, quiet_start(m), 3, rnd=rnd)
        s = with_channel(m, s, 1, 3, message(FOLLOWING, 3, 0, 1, 0))
        s = with_channel(m, s, 2, 3, message(FOLLOWING, 3, 0, 1, 0))
        t = step(m, step(m, s, ("Deliver", 1, 3)), ("Deliver", 2, 3))
        return int(field(m, t, 3, fle.ST))  # type: ignore[call-overload]

    assert run(1, Variant()) == LEADING
    assert run(2, Variant()) == L  # ZK-1514's check: the round must match
    assert run(2, Variant(check_leader_round_for_self=False)) == LEADING
    assert run(1, Variant(check_leader_self_needs_leading=True)) == L  # ZK-480


# ---- WorkerReceiver replies
def test_a_decided_server_answers_looking_with_its_current_vote_and_drops_the_rest() -> None:
    m = model()
    s = with_server(m, quiet_start(m), 2, st=FOLLOWING, cv=(3, 0, 1, 1), rnd=4)
    s = with_channel(m, s, 1, 2, message(L, 1, 0, 9, 0), message(FOLLOWING, 3, 0, 1, 1))
    t = step(m, s, ("Deliver", 1, 2))
    assert in_flight(m, t, 2, 1) == (message(FOLLOWING, 3, 0, 1, 1),)  # round of the vote, not logicalclock
    u = step(m, t, ("Deliver", 1, 2))
    assert in_flight(m, u, 2, 1) == in_flight(m, t, 2, 1)
    assert m.server(u, 2)[: fle.CEP] == m.server(t, 2)[: fle.CEP]
    stale = model(variant=Variant(update_election_vote=False))
    s2 = with_server(stale, quiet_start(stale), 2, st=FOLLOWING, cv=(3, 0, 1, 1), rnd=4)
    s2 = with_channel(stale, s2, 1, 2, message(L, 1, 0, 9, 0))
    assert in_flight(stale, step(stale, s2, ("Deliver", 1, 2)), 2, 1) == (message(FOLLOWING, 3, 0, 4, 1),)


def test_a_non_voter_is_answered_with_current_vote_and_never_counted() -> None:
    m = model(3, 1)
    s = with_server(m, quiet_start(m), 1, rnd=2, cv=(1, 0, -1, 0))
    s = with_channel(m, s, 4, 1, message(L, fle.MIN_VALUE, fle.MIN_VALUE, 1, fle.MIN_VALUE))
    t = step(m, s, ("Deliver", 4, 1))
    assert in_flight(m, t, 1, 4) == (message(L, 1, 0, 2, 0),)
    assert field(m, t, 1, fle.RS) == ()


def test_observers_propose_nothing_and_notify_voters_only() -> None:
    m = model(3, 1)
    s0 = m.init_states()[0]
    assert proposal(m, s0, 4) == (fle.MIN_VALUE,) * 3
    assert in_flight(m, s0, 4, 4) == () and in_flight(m, s0, 1, 4) == ()
    assert in_flight(m, s0, 4, 1) != ()


# ---- predicate
def test_total_order_predicate_and_its_weight_zero_rule() -> None:
    votes = [(sid, z, e) for sid in (1, 2, 3) for z in (0, 5) for e in (0, 1)]
    top = make_predicate(Variant(), {1: 1, 2: 1, 3: 1})
    assert is_total_order(top, votes)
    assert top(1, 0, 1, 3, 5, 0)  # peerEpoch outranks zxid and sid
    assert not top(2, 0, 0, 2, 0, 0)  # strict
    weighted = make_predicate(Variant(), {1: 1, 2: 1, 3: 0})
    assert not weighted(3, 9, 9, 1, 0, 0)
    assert make_predicate(Variant(weight_zero_guard=False), {1: 1, 2: 1, 3: 0})(3, 9, 9, 1, 0, 0)


def test_zk1419_predicate_is_not_a_total_order() -> None:
    votes = [(sid, z, e) for sid in (1, 2, 3) for z in (0, 5) for e in (0, 1)]
    buggy = make_predicate(Variant(predicate="ZK-1419"), {1: 1, 2: 1, 3: 1})
    assert not is_total_order(buggy, votes)
    assert buggy(2, 5, 0, 1, 5, 1) and buggy(1, 5, 1, 2, 5, 0)


# ---- timers
def test_timeout_rebroadcasts_only_when_the_network_is_quiet() -> None:
    m = model()
    assert not any(a[0] == "Timeout" for a in enabled(m, m.init_states()[0]))
    q = quiet_start(m)
    t = step(m, q, ("Timeout", 2))
    assert all(in_flight(m, t, 2, d) == (message(L, 2, 0, 1, 0),) for d in (1, 2, 3))


def test_bounded_timeouts_run_out() -> None:
    m = model(timeouts=1)
    t = step(m, quiet_start(m), ("Timeout", 1))
    t = empty_channels(m, t)
    assert not any(a[0] == "Timeout" for a in enabled(m, t))


# ---- Zab abstraction
def elected(m: FleModel) -> tuple:
    """2 LEADING in round 1, 1 FOLLOWING 2, 3 still LOOKING; the network is quiet."""
    s = quiet_start(m)
    s = with_server(m, s, 2, st=LEADING, cv=(2, 0, 1, 0))
    return with_server(m, s, 1, st=FOLLOWING, cv=(2, 0, 1, 0))


def test_establish_takes_max_accepted_epoch_plus_one_and_updates_the_election_vote() -> None:
    m = model(txns=1)
    s = with_server(m, elected(m), 1, aep=1, cep=1)
    t = step(m, s, ("Establish", 2))
    for sid in (1, 2):
        srv = m.server(t, sid)
        assert (srv[fle.AEP], srv[fle.CEP], srv[fle.ZAB]) == (2, 2, 2)
        assert srv[fle.CV] == (2, 0, 1, 2)
    commits = [a for a in enabled(m, t) if a[0] == "Commit"]
    assert commits
    u = step(m, t, commits[0])
    assert field(m, u, 2, fle.ZX) == zxid_of(2, 1) and field(m, u, 1, fle.ZX) == zxid_of(2, 1)
    assert not any(a[0] == "Commit" for a in enabled(m, u))  # one transaction only


def test_no_establishment_without_a_quorum_or_beyond_the_epoch_bound() -> None:
    m = model()
    s = with_server(m, elected(m), 1, st=LOOKING)
    assert ("Establish", 2) not in enabled(m, s)
    capped = model(epochs=1)
    s2 = with_server(capped, elected(capped), 1, aep=1, cep=1)
    assert ("Establish", 2) not in enabled(capped, s2)


def test_a_late_follower_joins_the_established_leader_and_syncs() -> None:
    m = model()
    s = step(m, elected(m), ("Establish", 2))
    s = with_server(m, s, 2, zx=zxid_of(1, 4))
    s = with_server(m, s, 3, st=FOLLOWING, cv=(2, 0, 1, 0))
    t = step(m, s, ("Join", 3))
    srv = m.server(t, 3)
    assert (srv[fle.CEP], srv[fle.ZX], srv[fle.ZAB], srv[fle.CV][3]) == (1, zxid_of(1, 4), 1, 1)


def test_a_leader_without_quorum_and_a_follower_without_leader_return_to_looking() -> None:
    m = model()
    s = with_server(m, elected(m), 1, st=LOOKING)
    t = step(m, s, ("LeaderQuit", 2))
    srv = m.server(t, 2)
    assert srv[fle.ST] == L and srv[fle.RND] == 2 and proposal(m, t, 2) == (2, 0, 0)
    assert in_flight(m, t, 2, 3) == (message(L, 2, 0, 2, 0),)
    s2 = with_server(m, elected(m), 2, st=LOOKING)
    assert ("FollowerQuit", 1) in enabled(m, s2)
    assert ("FollowerQuit", 1) not in enabled(m, elected(m))


# ---- environment
def test_crash_loses_volatile_state_and_channels_and_restart_begins_round_one() -> None:
    m = model(crashes=1)
    s = with_server(m, m.init_states()[0], 1, rnd=4, cep=1, aep=1, zx=zxid_of(1, 3), proposal=(3, 0, 0))
    t = step(m, s, ("Crash", 1))
    srv = m.server(t, 1)
    assert srv[fle.ALIVE] == fle.DOWN_STARTABLE and srv[fle.RND] == 0
    assert (srv[fle.CEP], srv[fle.AEP], srv[fle.ZX]) == (1, 1, zxid_of(1, 3))
    assert all(in_flight(m, t, 1, d) == () and in_flight(m, t, d, 1) == () for d in (1, 2, 3))
    assert not any(a[0] == "Crash" for a in enabled(m, t))  # the bound is used up
    u = step(m, t, ("Restart", 1))
    assert field(m, u, 1, fle.RND) == 1 and proposal(m, u, 1) == (1, zxid_of(1, 3), 1)
    assert in_flight(m, u, 1, 1) == (message(L, 1, zxid_of(1, 3), 1, 1),)


# ---- zk channel
def test_zk_channel_keeps_only_the_newest_pending_message() -> None:
    m = model(channel="zk", max_in_flight=2)
    s = quiet_start(m)
    busy = (message(L, 1, 0, 1, 0), message(L, 1, 0, 1, 0))
    s = with_channel(m, s, 1, 2, *busy)  # the wire to 2 is full
    s = with_channel(m, s, 2, 1, message(L, 2, 0, 1, 0))
    s = with_channel(m, s, 3, 1, message(L, 3, 0, 1, 0))
    t = step(m, step(m, s, ("Deliver", 2, 1)), ("Deliver", 3, 1))  # 1 adopts 2, then 3: two broadcasts
    slot = t[1][m.idx[1] * m.n + m.idx[2]][fle.SLOT]
    assert slot == message(L, 3, 0, 1, 0)  # the vote for 2 was overwritten before it left
    assert in_flight(m, t, 1, 3) == (message(L, 2, 0, 1, 0), message(L, 3, 0, 1, 0))  # a free wire gets both
    u = step(m, t, ("Deliver", 1, 2))
    assert in_flight(m, u, 1, 2) == (busy[1], message(L, 3, 0, 1, 0))


def test_zk_reconnection_resends_the_last_message() -> None:
    m = model(channel="zk", crashes=1)
    s = step(m, m.init_states()[0], ("Crash", 2))
    s = step(m, s, ("Restart", 2))
    assert ("Transmit", 2, 1) in enabled(m, s)
    t = step(m, s, ("Transmit", 2, 1))
    assert in_flight(m, t, 1, 2) == (message(L, 1, 0, 1, 0),)  # 1's last vote to 2, re-sent
    assert in_flight(m, t, 2, 1) == (message(L, 2, 0, 1, 0),)


@pytest.mark.parametrize("channel", ["fifo", "zk"])
def test_every_successor_is_a_pure_function_of_the_state(channel: str) -> None:
    m = model(channel=channel, crashes=1)
    s = m.init_states()[0]
    for _ in range(6):
        first = list(m.successors(s))
        assert first == list(m.successors(s))
        s = first[len(first) // 2][1]


def test_zk_timeout_only_reconnects_when_every_send_queue_is_full() -> None:
    m = model(voters=3, channel="zk", crashes=2)
    s = step(m, step(m, quiet_start(m), ("Crash", 2)), ("Crash", 3))
    s = empty_channels(m, s)
    assert ("Timeout", 1) in enabled(m, s)  # haveDelivered: the queues to 2 and 3 are empty
    t = step(m, s, ("Timeout", 1))  # the votes wait in the slots of the dead peers
    t = step(m, t, ("Deliver", 1, 1))
    assert ("Timeout", 1) not in enabled(m, t)  # every queue holds a message: connectAll only


# ---- D1: setCurrentVote after lookForLeader returns (docs/divergences.md)
def _decided_by_finalize(variant: Variant) -> tuple[FleModel, tuple]:
    """Server 1 (round 1, proposing 2 with a quorum of equal votes) ends its finalize wait: it follows 2,
    which already leads for itself and waits for a quorum of followers to establish its epoch."""
    m = model(variant=variant)
    s = with_server(m, quiet_start(m), 1, proposal=(2, 0, 0), fw=True,
                    rs=((1, 2, 0, 1, 0, L, 0, 0), (2, 2, 0, 1, 0, L, 0, 0)))
    s = with_server(m, s, 2, st=LEADING, proposal=(2, 0, 0), cv=(2, 0, 1, 0))
    return m, step(m, s, ("FinalizeExpire", 1))


def test_late_current_vote_replies_with_the_previous_vote_until_set_current_vote() -> None:
    m, t = _decided_by_finalize(Variant(atomic_decision=False))
    assert field(m, t, 1, fle.ST) == FOLLOWING and field(m, t, 1, fle.CV)[0] == 2
    assert field(m, t, 1, fle.OLDCV) == (1, 0, -1, 0)  # QuorumPeer's initial currentVote, electionEpoch -1
    # Leader 2 cannot establish with server 1 before server 1 has set its vote and gone to followLeader
    assert ("SetCurrentVote", 1) in enabled(m, t) and ("Establish", 2) not in enabled(m, t)
    asked = with_channel(m, t, 3, 1, message(L, 3, 0, 1, 0))
    reply = in_flight(m, step(m, asked, ("Deliver", 3, 1)), 1, 3)[-1]
    assert reply[:5] == (FOLLOWING, 1, 0, -1, 0)  # the D1 reply: FOLLOWING, with the previous vote
    later = step(m, asked, ("SetCurrentVote", 1))
    assert field(m, later, 1, fle.OLDCV) is None and ("Establish", 2) in enabled(m, later)
    reply = in_flight(m, step(m, later, ("Deliver", 3, 1)), 1, 3)[-1]
    assert reply[:5] == (FOLLOWING, 2, 0, 1, 0)


def test_atomic_decision_twin_replies_with_the_end_vote_at_once() -> None:
    m, t = _decided_by_finalize(Variant())
    assert field(m, t, 1, fle.OLDCV) is None
    assert not any(a[0] == "SetCurrentVote" for a in enabled(m, t)) and ("Establish", 2) in enabled(m, t)
    asked = with_channel(m, t, 3, 1, message(L, 3, 0, 1, 0))
    reply = in_flight(m, step(m, asked, ("Deliver", 3, 1)), 1, 3)[-1]
    assert reply[:5] == (FOLLOWING, 2, 0, 1, 0)
