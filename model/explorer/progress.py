"""Progress lines on stderr (with ``rich``) every few seconds while a search runs.

Each line gives: distinct states, states generated, queue (frontier) size, BFS depth, and the rate of
new distinct states per second since the previous line. Nothing is printed unless asked for.
"""

from __future__ import annotations

import time

from rich.console import Console

INTERVAL_SECONDS = 3.0


class Progress:
    def __init__(self, enabled: bool, label: str, interval: float = INTERVAL_SECONDS) -> None:
        self.enabled = enabled
        self.label = label
        self.interval = interval
        self.console = Console(stderr=True) if enabled else None
        self.started = time.monotonic()
        self.last_time = self.started
        self.last_distinct = 0

    def tick(self, distinct: int, generated: int, queue: int, depth: int, *, force: bool = False) -> None:
        if self.console is None:
            return
        now = time.monotonic()
        if not force and now - self.last_time < self.interval:
            return
        rate = (distinct - self.last_distinct) / max(now - self.last_time, 1e-9)
        self.console.print(
            f"[bold]{self.label}[/bold] {now - self.started:7.1f}s  distinct [cyan]{distinct:,}[/cyan]  "
            f"generated {generated:,}  queue {queue:,}  depth {depth}  {rate:,.0f} states/s",
            highlight=False,
        )
        self.last_time = now
        self.last_distinct = distinct
