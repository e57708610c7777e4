"""A registry slot: everything the runtime knows about one name across all its incarnations.

Refs point at a ``Node``, never at an incarnation, which is why they survive restarts. Counters
live here too, so metrics keep counting across restarts, and so do the monitors (``watch``):
when an incarnation ends, the node tells its watchers with a ``Down``.

A node points at the running incarnation of its name: an actor's ``ActorCell`` or a
``Supervisor``. Those modules import this one, so the node knows them only by the shapes
below (``Incarnation``, ``Supervising``), which they satisfy.
"""

from __future__ import annotations

import bisect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import attrs
import trio

from supervisors.errors import MessageRefused
from supervisors.mailbox import Mailbox
from supervisors.policy import Strategy

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


@attrs.frozen
class Down:
    """Sent to a monitoring actor when the monitored node's incarnation ends.

    ``reason`` is ``"normal"`` (it stopped itself), ``"shutdown"`` (its supervisor stopped it),
    ``"killed"`` (it overran its shutdown timeout), ``"not running"`` (it was not running when
    the monitor was set up) or ``"error: <Type>: <message>"`` (it crashed).
    Down is always delivered, whatever the receiver's ``accepts`` says.
    """

    name: str
    reason: str
    incarnation: int


class Incarnation(Protocol):
    """An actor's running incarnation (``ActorCell``) as refs, monitors, metrics and its
    ``ActorContext`` see it."""

    name: str
    incarnation: int
    accepting: bool
    accepts: tuple[type, ...]
    capacity: int
    mailbox: Mailbox

    def refuse(self, msg: object) -> MessageRefused: ...

    async def put(self, item: object) -> None: ...

    def deliver_system(self, msg: object) -> None: ...

    def statistics(self) -> dict[str, int]: ...

    def start_soon(self, fn: Callable[..., Awaitable[object]], *args: object) -> None: ...

    def request_stop(self, normal: bool = False) -> None: ...


class Named(Protocol):
    @property
    def name(self) -> str: ...


class Supervising(Protocol):
    """A supervisor's incarnation as the snapshot reads it (``Supervisor``)."""

    @property
    def name(self) -> str: ...

    @property
    def strategy(self) -> Strategy: ...

    @property
    def children(self) -> Sequence[Named]: ...


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
        self.cell: Incarnation | None = None  # current incarnation of an actor
        self.supervisor: Supervising | None = None  # current incarnation of a supervisor
        self.accepts: tuple[type, ...] | None = None  # last known, to refuse early
        self.state = IDLE
        self.incarnation = 0
        self.restarts = 0
        self.failures = 0
        self.started_at: float | None = None
        self.last_failure: dict[str, Any] | None = None
        self.stats = ActorStats()
        self.watchers: list[Incarnation] = []
        self._changed = trio.Event()

    def set_state(self, state: str) -> None:
        self.state = state
        # Wake everyone in wait_for; a fresh Event for the next change.
        self._changed.set()
        self._changed = trio.Event()

    async def changed(self) -> None:
        await self._changed.wait()

    def watch(self, watcher: Incarnation) -> None:
        """``watcher`` gets a ``Down`` whenever an incarnation of this name ends (at once if
        none is running now)."""
        if watcher not in self.watchers:
            self.watchers.append(watcher)
        if self.state not in (RUNNING, STARTING):
            watcher.deliver_system(Down(self.name, "not running", self.incarnation))

    def notify_down(self, reason: str) -> None:
        """The current incarnation ended: tell the watchers still alive; forget the others."""
        if not self.watchers:
            return
        down = Down(self.name, reason, self.incarnation)
        alive = []
        for watcher in self.watchers:
            if watcher.accepting:
                alive.append(watcher)
                watcher.deliver_system(down)
        self.watchers = alive
