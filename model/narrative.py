"""``zkfle trace show``: a counterexample as a story, one line per step.

Rules:

- Each line says who did what (``FleModel.describe``) and, when a notification changed a proposal, which
  comparison of ``totalOrderPredicate`` won: the peerEpoch, the zxid or the sid (or a newer round).
- The last line gives the violated property and its value in the final state (or on the final step).
- The text is built only from the model's states, re-executed from the trace (``zkfle.model.replay``).
"""

from __future__ import annotations

from typing import Any

from zkfle.model import fle
from zkfle.model.config import zxid_text
from zkfle.model.fle import FleModel

Action = tuple[Any, ...]


def why(m: FleModel, action: Action, before: Any, after: Any) -> str:
    """Which comparison made the receiver of a notification change its proposal ('' if it did not)."""
    if action[0] != "Deliver":
        return ""
    i, j = m.idx[action[1]], m.idx[action[2]]
    s, t = before[0][j], after[0][j]
    old = (s[fle.PL], s[fle.PZ], s[fle.PE])
    new = (t[fle.PL], t[fle.PZ], t[fle.PE])
    if old == new or t[fle.ST] != s[fle.ST]:
        return ""
    if t[fle.RND] != s[fle.RND]:
        return f"newer round {t[fle.RND]} (> {s[fle.RND]}): the vote is compared with the initial vote"
    del i
    return "because " + compared(new, old)


def compared(new: tuple[int, int, int], old: tuple[int, int, int]) -> str:
    """The clause of totalOrderPredicate that decides new over old (votes as (sid, zxid, peerEpoch))."""
    (nl, nz, ne), (ol, oz, oe) = new, old
    if ne < oe and nz == oz and nl > ol:
        return f"same zxid, sid {nl} > {ol}, although peerEpoch {ne} < {oe} (the clause ZK-1419 fixed)"
    if ne != oe:
        return f"peerEpoch {ne} {'>' if ne > oe else '<'} {oe}" + (" (!)" if ne < oe else "")
    if nz != oz:
        return f"same peerEpoch, zxid {zxid_text(nz)} {'>' if nz > oz else '<'} {zxid_text(oz)}" + (
            " (!)" if nz < oz else "")
    return f"same peerEpoch and zxid, sid {nl} {'>' if nl > ol else '<'} {ol}"


def final_value(m: FleModel, prop: str, path: list[tuple[Action | None, Any]]) -> str:
    """The violated property's value at the end of the trace."""
    last = path[-1][1]
    if prop in m.invariants:
        return f"{prop} = {m.invariants[prop](last)} in the last state"
    if prop in m.action_properties and len(path) > 1 and path[-1][0] is not None:
        return f"{prop} = {m.action_properties[prop](path[-2][1], path[-1][0], last)} on the last step"
    if prop in m.liveness:
        return f"{prop}'s goal = {m.liveness[prop].goal(last)} in the last state"
    return f"{prop} (not a property of this model)"


def narrate(
    m: FleModel, path: list[tuple[Action | None, Any]], prop: str = "", loop: int | None = None
) -> list[str]:
    """One line per step, then the verdict."""
    lines: list[str] = []
    prev = path[0][1]
    for n, (action, state) in enumerate(path[1:], start=1):
        assert action is not None
        text = m.describe(action, prev, state)
        reason = why(m, action, prev, state)
        mark = "  <- the loop starts here" if loop is not None and n == loop + 1 else ""
        lines.append(f"{n:3d}. {text}" + (f" [{reason}]" if reason else "") + mark)
        prev = state
    if loop is not None:
        lines.append(f"     ... back to the state after step {loop}, forever (a lasso)")
    if prop:
        lines.append(f"violated: {final_value(m, prop, path)}")
    return lines
