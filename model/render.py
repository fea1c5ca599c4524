"""``zkfle trace render``: a counterexample as an SVG sequence diagram, a standalone HTML page, or mermaid.

Rules:

- One lane per server (``<g class="lane">``), one arrow per delivered notification (``<g class="message">``,
  labelled with the vote and the round), one box per change of state or proposal (``<g class="change">``);
  the last step (where the property fails) is drawn in red (``class="violation"``).
- The HTML page is standalone: inline SVG and CSS, no script, nothing fetched from the network.
- Mermaid output is a ``sequenceDiagram`` for pasting into design documents.
"""

from __future__ import annotations

import html
from typing import Any

from zkfle.model import fle
from zkfle.model.config import zxid_text
from zkfle.model.fle import FleModel
from zkfle.model.narrative import narrate

Action = tuple[Any, ...]
Path_ = list[tuple[Action | None, Any]]

LANE_W, ROW_H, TOP, LEFT = 200, 48, 60, 40


def _vote(leader: int, zxid: int, pe: int) -> str:
    return f"({leader}, {zxid_text(zxid)}, e{pe})" if leader >= 0 else "(none)"


def _msg_label(msg: tuple[Any, ...]) -> str:
    return f"{fle.STATE_NAMES[msg[0]]} {_vote(msg[1], msg[2], msg[4])} r{msg[3]}"


def _change(m: FleModel, before: Any, after: Any) -> str:
    s, t = before, after
    parts = []
    if s[fle.ALIVE] != t[fle.ALIVE]:
        parts.append("up" if t[fle.ALIVE] == fle.UP else "down")
    if s[fle.ST] != t[fle.ST]:
        parts.append(fle.STATE_NAMES[t[fle.ST]] + (f" {t[fle.CV][0]}" if t[fle.ST] != 0 else ""))
    if (s[fle.PL], s[fle.PZ], s[fle.PE]) != (t[fle.PL], t[fle.PZ], t[fle.PE]) and t[fle.ST] == 0:
        parts.append("votes " + _vote(t[fle.PL], t[fle.PZ], t[fle.PE]))
    if s[fle.RND] != t[fle.RND]:
        parts.append(f"round {t[fle.RND]}")
    return ", ".join(parts)


def events(m: FleModel, path: Path_) -> list[dict[str, Any]]:
    """Per step: the message delivered (sender, receiver, label) and each server's visible change."""
    out = []
    for n in range(1, len(path)):
        action, state = path[n]
        before = path[n - 1][1]
        assert action is not None
        ev: dict[str, Any] = {"step": n, "action": action, "message": None, "changes": {}}
        if action[0] == "Deliver":
            i, j = m.idx[action[1]], m.idx[action[2]]
            ev["message"] = (action[1], action[2], _msg_label(before[1][i * m.n + j][fle.INFL][0]))
        for k, sid in enumerate(m.sids):
            text = _change(m, before[0][k], state[0][k])
            if text:
                ev["changes"][sid] = text
        if not ev["changes"] and ev["message"] is None:
            ev["changes"][action[1] if isinstance(action[1], int) else m.sids[0]] = str(action[0])
        out.append(ev)
    return out


def svg(m: FleModel, path: Path_, title: str = "") -> str:
    """The sequence diagram as an SVG document."""
    evs = events(m, path)
    x = {sid: LEFT + k * LANE_W + LANE_W // 2 for k, sid in enumerate(m.sids)}
    width = LEFT * 2 + LANE_W * len(m.sids)
    height = TOP + ROW_H * (len(evs) + 1) + 20
    last = len(evs)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto">'
        '<path d="M0,0 L8,4 L0,8 z" fill="#333"/></marker>'
        '<marker id="arrow-red" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto">'
        '<path d="M0,0 L8,4 L0,8 z" fill="#c00"/></marker></defs>',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{LEFT}" y="18" font-size="13" font-weight="bold">{html.escape(title)}</text>',
    ]
    for sid in m.sids:
        parts.append(
            f'<g class="lane" data-sid="{sid}"><rect x="{x[sid] - 45}" y="26" width="90" height="22" rx="4" '
            f'fill="#dde8f5" stroke="#4a6fa5"/>'
            f'<text x="{x[sid]}" y="41" text-anchor="middle">server {sid}</text>'
            f'<line x1="{x[sid]}" y1="48" x2="{x[sid]}" y2="{height - 10}" stroke="#4a6fa5" '
            'stroke-dasharray="4 3"/></g>'
        )
    for ev in evs:
        y = TOP + ROW_H * ev["step"]
        bad = ev["step"] == last
        colour = "#c00" if bad else "#333"
        cls = ' violation' if bad else ''
        parts.append(f'<text x="6" y="{y + 4}" fill="#888">{ev["step"]}</text>')
        if ev["message"] is not None:
            src, dst, label = ev["message"]
            x1, x2 = x[src], x[dst]
            marker = "arrow-red" if bad else "arrow"
            if x1 == x2:
                shape = (f'<path d="M{x1},{y - 24} C{x1 + 40},{y - 24} {x1 + 40},{y} {x1 + 2},{y}" '
                         'fill="none" '
                         f'stroke="{colour}" marker-end="url(#{marker})"/>')
                lx = x1 + 44
            else:
                shape = (f'<line x1="{x1}" y1="{y - 24}" x2="{x2 + (-3 if x2 > x1 else 3)}" y2="{y}" '
                         f'stroke="{colour}" stroke-width="1.4" marker-end="url(#{marker})"/>')
                lx = (x1 + x2) // 2 if abs(x2 - x1) <= LANE_W else x1 + (x2 - x1) // 4  # clear of lanes
            parts.append(
                f'<g class="message{cls}" data-from="{src}" data-to="{dst}">{shape}'
                f'<text x="{lx}" y="{y - 27}" text-anchor="middle" fill="{colour}">'
                f'{html.escape(label)}</text></g>'
            )
        for sid, text in ev["changes"].items():
            w = 7 * len(text) + 10
            parts.append(
                f'<g class="change{cls}" data-sid="{sid}">'
                f'<rect x="{x[sid] - w // 2}" y="{y + 2}" width="{w}" '
                f'height="15" rx="3" fill="{"#fdd" if bad else "#fff7d6"}" stroke="{colour}"/>'
                f'<text x="{x[sid]}" y="{y + 13}" text-anchor="middle" fill="{colour}">'
                f'{html.escape(text)}</text></g>'
            )
    parts.append("</svg>")
    return "\n".join(parts)


_CSS = """body{font-family:sans-serif;margin:24px;color:#222}h1{font-size:20px}
.verdict{color:#c00;font-weight:bold}pre{background:#f6f6f6;padding:10px;font-size:12px;white-space:pre-wrap}"""


def page(m: FleModel, path: Path_, *, title: str, prop: str, loop: int | None = None) -> str:
    """A standalone HTML page: the verdict, the diagram and the narrative."""
    story = narrate(m, path, prop, loop)
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>\n"
        f"<h1>{html.escape(title)}</h1>\n<p class=\"verdict\">{html.escape(story[-1] if prop else '')}</p>\n"
        f"<p>{html.escape(m.name)}; {len(path) - 1} steps.</p>\n"
        f"{svg(m, path, title)}\n<pre>{html.escape(chr(10).join(story))}</pre>\n</body></html>\n"
    )


def mermaid(m: FleModel, path: Path_, prop: str = "") -> str:
    """A mermaid ``sequenceDiagram`` of the trace."""
    lines = ["sequenceDiagram"]
    for sid in m.sids:
        lines.append(f"    participant S{sid} as server {sid}")
    evs = events(m, path)
    for ev in evs:
        if ev["message"] is not None:
            src, dst, label = ev["message"]
            lines.append(f"    S{src}->>S{dst}: {ev['step']}. {label}")
        for sid, text in ev["changes"].items():
            lines.append(f"    Note over S{sid}: {text}")
    if prop and evs:
        lines.append(f"    Note over S{m.sids[0]},S{m.sids[-1]}: step {len(evs)} violates {prop}")
    return "\n".join(lines) + "\n"
