"""A Trio instrument that records which tasks ran in which scheduler batch.

A batch ends at each I/O check: timers and sockets are only looked at in between, so what
runs in one batch delays every timer and socket of the loop. The pacing tests count how
many subscribers (or websocket handlers) a publish wakes per batch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import trio


class BatchLog(trio.abc.Instrument):
    """Which tasks ran in which scheduler batch."""

    def __init__(self) -> None:
        self.batch = 0
        self.steps: list[tuple[int, trio.lowlevel.Task]] = []

    def before_io_wait(self, timeout: float) -> None:
        self.batch += 1

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self.steps.append((self.batch, task))

    def steps_per_batch(self, tasks: Iterable[trio.lowlevel.Task]) -> Counter[int]:
        """How many steps of ``tasks`` each batch held."""
        wanted = set(tasks)
        return Counter(batch for batch, task in self.steps if task in wanted)

    def tasks_per_batch(self, name: str) -> Counter[int]:
        """How many distinct tasks named ``name`` ran in each batch."""
        seen = {(batch, task) for batch, task in self.steps if task.name == name}
        return Counter(batch for batch, _ in seen)
