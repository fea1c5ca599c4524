"""Join refuses a leader whose epoch is below the learner's acceptedEpoch, as ZooKeeper 3.8.0's learner does.

ZooKeeper: ``Learner.registerWithLeader`` reads the leader's LEADERINFO; when its epoch is below the
learner's ``acceptedEpoch`` it throws ``IOException("Leaders epoch, X is less than accepted epoch, Y")``,
``followLeader`` returns and the server goes back to LOOKING. In the model: no ``Join`` to such a leader, and
the follower gives up (``FollowerQuit``) as one whose leader is lost.

Setup: servers 1 and 2 (acceptedEpoch 1) elect 2, which establishes epoch 2; server 3 starts afterwards with
currentEpoch 1 but acceptedEpoch 3 (it accepted epoch 3 from a leader that failed before NEWLEADER) and
follows 2. The twin: the same run with server 3's acceptedEpoch 2 (equal to the leader's epoch) joins.
"""

from __future__ import annotations

from zkfle.model import fle
from zkfle.model.config import Bounds, ModelConfig, ServerStart, default_config, zxid_of
from zkfle.model.fle import FleModel
from zkfle.model.vote import FOLLOWING


def _model(accepted_epoch_of_3: int) -> FleModel:
    zx = zxid_of(1, 5)
    starts = {1: ServerStart(1, 1, zx), 2: ServerStart(1, 1, zx),
              3: ServerStart(1, accepted_epoch_of_3, zx, running=False, after_decision=True)}
    bounds = Bounds(epochs=2, max_in_flight=1)
    return FleModel(ModelConfig(cfg=default_config(3), starts=starts, bounds=bounds))


def _server_3_behind_leader(m: FleModel) -> tuple[int, set[str]]:
    """BFS: the states where 3 follows an established leader whose epoch is below 3's acceptedEpoch, and
    the actions 3 takes in them; plus whether 3 ever joins at all."""
    seen = set(m.init_states())
    frontier = list(seen)
    refused_states, actions_of_3 = 0, set()
    while frontier:
        nxt = []
        for s in frontier:
            s3 = s[0][m.idx[3]]
            leader = m.idx.get(s3[fle.CV][0])
            behind = (s3[fle.ST] == FOLLOWING and s3[fle.ZAB] == 0 and leader is not None
                      and 0 < s[0][leader][fle.ZAB] < s3[fle.AEP])
            for action, t in m.successors(s):
                if behind and action[1] == 3:
                    actions_of_3.add(action[0])
                if action[0] == "Join" and action[1] == 3:
                    actions_of_3.add("Join (anywhere)")
                if t not in seen:
                    seen.add(t)
                    nxt.append(t)
            refused_states += behind
        frontier = nxt
    return refused_states, actions_of_3


def test_learner_refuses_a_leader_below_its_accepted_epoch_and_gives_up() -> None:
    refused, actions = _server_3_behind_leader(_model(3))
    assert refused > 0  # the situation is reached: 3 follows 2, which leads epoch 2 < 3
    assert "Join" not in actions and "Join (anywhere)" not in actions
    assert "FollowerQuit" in actions  # back to LOOKING, as followLeader returning does


def test_twin_a_learner_at_the_leaders_epoch_joins() -> None:
    refused, actions = _server_3_behind_leader(_model(2))
    assert refused == 0
    assert "Join (anywhere)" in actions
