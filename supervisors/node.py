"""A registry slot: everything the runtime knows about one name across all its incarnations.

Refs point at a ``Node``, never at an incarnation, which is why they survive restarts. Counters
live here too, so metrics keep counting across restarts.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, Any

import trio

if TYPE_CHECKING:
    from supervisors.cell import ActorCell
    from supervisors.supervisor import Supervisor

# Upper bounds (seconds) of the handling-time histogram buckets; the last bucket is +Inf.
HANDLE_BUCKETS: tuple[float, ...] = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
)  # fmt: skip

IDLE = "idle"  # known name, never started
STARTING = "starting"
RUNNING = "running"
BACKOFF = "backoff"  # waiting to be restarted
STOPPING = "stopping"
STOPPED = "stopped"
FAILED = "failed"  # crashed; a restart may follow


class ActorStats:
    """Counters for one actor name, kept across incarnations (the source of its metrics)."""

    __slots__ = (
        "calls_died",
        "calls_ok",
        "calls_timeout",
        "dropped",
        "handle_counts",
        "handle_sum",
        "handled",
        "late_replies",
    )

    def __init__(self) -> None:
        self.handled = 0
        self.handle_sum = 0.0
        self.handle_counts = [0] * (len(HANDLE_BUCKETS) + 1)
        self.calls_ok = 0
        self.calls_timeout = 0
        self.calls_died = 0
        self.late_replies = 0
        self.dropped = 0  # casts left in the mailbox of an incarnation that ended

    def observe(self, seconds: float) -> None:
        self.handled += 1
        self.handle_sum += seconds
        self.handle_counts[bisect.bisect_left(HANDLE_BUCKETS, seconds)] += 1


class Node:
    """One name of the tree: kind, current incarnation, state, restart and failure history."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.kind: str | None = None  # "actor" | "supervisor", known once first started
        self.parent: str | None = None
        self.cell: ActorCell | None = None  # current incarnation of an actor
        self.supervisor: Supervisor | None = None  # current incarnation of a supervisor
        self.accepts: tuple[type, ...] | None = None  # last known, to refuse early
        self.state = IDLE
        self.incarnation = 0
        self.restarts = 0
        self.failures = 0
        self.started_at: float | None = None
        self.last_failure: dict[str, Any] | None = None
        self.stats = ActorStats()
        self.watchers: list[ActorCell] = []
        self._changed = trio.Event()

    def set_state(self, state: str) -> None:
        self.state = state
        # Wake everyone in wait_for; a fresh Event for the next change.
        self._changed.set()
        self._changed = trio.Event()

    async def changed(self) -> None:
        await self._changed.wait()
