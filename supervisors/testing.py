"""A test kit for supervision trees under pytest-trio.

- ``Probe``: an actor that records every message it receives (so, standing in for a downstream
  actor, it records what an upstream actor sent), optionally replies, crashes on demand or on
  the Nth message, and logs its lifecycle into a shared ``Recording`` that survives restarts.
- ``CrashOnNth``: wraps any actor and raises ``InjectedCrash`` on its Nth message.
- ``running(root)``: run a tree for the duration of an ``async with`` block.
- ``inject_fault(runtime, name)``: crash the running incarnation of any actor, as a bug in it
  would, without touching its code (chaos tests over a real tree).
- ``wait_restarts`` / ``wait_state`` / ``assert_restarts``: wait for and check supervision.

Time: use pytest-trio's ``autojump_clock`` fixture (a ``MockClock(autojump_threshold=0)``), so
backoffs and intensity windows pass in simulated time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import attrs
import trio
import trio.testing

from supervisors.actor import Actor, ActorContext
from supervisors.errors import ActorUnavailable, CallTimeout
from supervisors.node import Down
from supervisors.runtime import Runtime
from supervisors.supervisor import Supervisor


class InjectedCrash(Exception):
    """Raised on purpose by the test kit."""


@attrs.frozen
class Crash:
    """Message that makes a ``Probe`` raise ``InjectedCrash``."""

    reason: str = "injected"


@attrs.frozen
class Stop:
    """Message that makes a ``Probe`` stop itself normally (``ctx.stop()``)."""


@attrs.frozen
class Sleep:
    """Message that makes a ``Probe`` sleep ``seconds`` inside ``handle`` (a slow handler)."""

    seconds: float


@attrs.frozen
class Lifecycle:
    """One lifecycle entry of a ``Recording``."""

    at: float
    name: str
    incarnation: int
    what: str  # "started" | "stopping" | "crash"


class Recording:
    """What a set of probes saw, shared across their incarnations."""

    def __init__(self) -> None:
        self.received: list[tuple[str, int, object]] = []  # (name, incarnation, message)
        self.events: list[Lifecycle] = []
        self._changed = trio.Event()

    def _touch(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def log(self, name: str, incarnation: int, what: str) -> None:
        self.events.append(Lifecycle(trio.current_time(), name, incarnation, what))
        self._touch()

    def got(self, name: str, incarnation: int, msg: object) -> None:
        self.received.append((name, incarnation, msg))
        self._touch()

    def messages(self, name: str | None = None) -> list[object]:
        """Messages received (by ``name`` if given), in arrival order."""
        return [m for n, _, m in self.received if name is None or n == name]

    def lifecycle(self, what: str | None = None) -> list[str]:
        """``"name#incarnation what"`` strings (only ``what`` events if given), in order."""
        return [f"{e.name}#{e.incarnation} {e.what}" for e in self.events if what in (None, e.what)]

    def starts(self) -> list[str]:
        """Names in the order they were started (restarts included)."""
        return [e.name for e in self.events if e.what == "started"]

    def stops(self) -> list[str]:
        """Names in the order their graceful ``stopping()`` ran."""
        return [e.name for e in self.events if e.what == "stopping"]

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 60.0) -> None:
        with trio.move_on_after(timeout):
            while not predicate():
                await self._changed.wait()
            return
        raise AssertionError(f"condition not met within {timeout:g}s of simulated time")


class Probe(Actor):
    """A configurable actor for tests; every option is per instance.

    ``reply`` computes the reply to each message (default None). ``crash_on`` raises
    ``InjectedCrash`` on that (1-based) message of each incarnation. ``monitor`` names are
    monitored from ``started``. ``stop_delay`` makes ``stopping()`` slow (to test shutdown
    timeouts). ``Crash``, ``Stop`` and ``Sleep`` messages are always understood.
    """

    def __init__(
        self,
        recording: Recording,
        *,
        accepts: tuple[type, ...] = (object,),
        mailbox_size: int = 16,
        reply: Callable[[Any], object] | None = None,
        crash_on: int | None = None,
        monitor: tuple[str, ...] = (),
        stop_delay: float = 0.0,
        start_delay: float = 0.0,
        fail_start: bool = False,
    ) -> None:
        self.recording = recording
        # Per-instance declarations (ClassVars on Actor): the runtime reads them from the instance.
        self.accepts = (*accepts, Crash, Stop, Sleep)  # type: ignore[misc]  # see above
        self.mailbox_size = mailbox_size  # type: ignore[misc]  # see above
        self._reply = reply
        self._crash_on = crash_on
        self._monitor = monitor
        self._stop_delay = stop_delay
        self._start_delay = start_delay
        self._fail_start = fail_start
        self._seen = 0
        self.ctx: ActorContext | None = None

    async def started(self, ctx: ActorContext) -> None:
        self.ctx = ctx
        if self._start_delay:
            await trio.sleep(self._start_delay)
        if self._fail_start:
            self.recording.log(ctx.name, ctx.incarnation, "crash")
            raise InjectedCrash(f"{ctx.name} failed to start")
        for name in self._monitor:
            ctx.monitor(name)
        self.recording.log(ctx.name, ctx.incarnation, "started")

    async def handle(self, msg: Any) -> object:
        ctx = self.ctx
        assert ctx is not None
        self._seen += 1
        self.recording.got(ctx.name, ctx.incarnation, msg)
        if isinstance(msg, Crash) or self._seen == self._crash_on:
            self.recording.log(ctx.name, ctx.incarnation, "crash")
            raise InjectedCrash(f"{ctx.name}: {getattr(msg, 'reason', 'crash_on')}")
        if isinstance(msg, Stop):
            ctx.stop()
            return None
        if isinstance(msg, Sleep):
            await trio.sleep(msg.seconds)
        return self._reply(msg) if self._reply is not None else None

    async def stopping(self) -> None:
        assert self.ctx is not None
        self.recording.log(self.ctx.name, self.ctx.incarnation, "stopping")
        if self._stop_delay:
            await trio.sleep(self._stop_delay)


class CrashOnNth(Actor):
    """Wraps ``inner`` and raises ``InjectedCrash`` instead of handling its ``nth`` message."""

    def __init__(self, inner: Actor, nth: int) -> None:
        if nth < 1:
            raise ValueError(f"nth must be >= 1, got {nth!r}")
        self.inner = inner
        self.nth = nth
        # The wrapped actor's declarations, per instance (the runtime reads them from it).
        self.mailbox_size = inner.mailbox_size  # type: ignore[misc]  # ClassVar set per instance
        self.accepts = inner.accepts  # type: ignore[misc]  # ClassVar set per instance
        self._seen = 0

    async def started(self, ctx: ActorContext) -> None:
        await self.inner.started(ctx)

    async def handle(self, msg: Any) -> object:
        self._seen += 1
        if self._seen == self.nth:
            raise InjectedCrash(f"injected crash on message {self.nth}: {msg!r}")
        return await self.inner.handle(msg)

    async def stopping(self) -> None:
        await self.inner.stopping()


def crash_on_nth(factory: Callable[[], Actor], nth: int) -> Callable[[], Actor]:
    """A factory whose every incarnation crashes on its ``nth`` message."""
    return lambda: CrashOnNth(factory(), nth)


@asynccontextmanager
async def running(root: Supervisor, **runtime_options: Any) -> AsyncIterator[Runtime]:
    """Run ``root`` in a Runtime for the block; shut it down gracefully on exit."""
    runtime = Runtime(root, **runtime_options)
    async with trio.open_nursery() as nursery:
        await nursery.start(runtime.run)
        try:
            yield runtime
        finally:
            runtime.shutdown()


def inject_fault(runtime: Runtime, name: str, error: Exception | None = None) -> int:
    """Crash the running incarnation of the actor ``name``; its incarnation number.

    ``error`` (default ``InjectedCrash``) is raised in a new task of the incarnation's own task
    group, the path an unexpected exception in one of its background tasks takes: the
    incarnation fails, its pending calls get ``ActorDied``, and its supervisor decides by its
    strategy and intensity exactly as after a real bug. Works on any actor, whatever it is
    doing; ``ActorUnavailable`` when it is not running.
    """
    node = runtime.node(name)
    cell = node.cell
    if node.kind != "actor" or cell is None or not cell.accepting or node.state != "running":
        raise ActorUnavailable(f"cannot inject a fault: {name!r} is not a running actor")
    fault = error if error is not None else InjectedCrash(f"{name}: fault injected")

    async def fail() -> None:
        raise fault

    cell.start_soon(fail)
    return cell.incarnation


async def wait_state(runtime: Runtime, name: str, state: str, timeout: float = 60.0) -> None:
    """Wait until ``name`` is in ``state`` (``running``, ``stopped``, ``failed``, ...)."""
    node = runtime.node(name)
    with trio.move_on_after(timeout):
        while node.state != state:
            await node.changed()
        return
    raise CallTimeout(f"{name!r} not {state} within {timeout:g}s (state: {node.state})")


async def wait_restarts(runtime: Runtime, name: str, count: int, timeout: float = 60.0) -> None:
    """Wait until ``name`` has been restarted ``count`` times and is running again."""
    node = runtime.node(name)
    with trio.move_on_after(timeout):
        while not (node.restarts >= count and node.state == "running"):
            await node.changed()
        return
    raise CallTimeout(
        f"{name!r}: {node.restarts} restarts (state {node.state}) within {timeout:g}s, "
        f"wanted {count}"
    )


def restarts(runtime: Runtime, name: str) -> int:
    return runtime.node(name).restarts


def assert_restarts(runtime: Runtime, expected: dict[str, int]) -> None:
    """Every named node was restarted exactly as often as expected."""
    actual = {name: restarts(runtime, name) for name in expected}
    assert actual == expected, f"restarts {actual} != expected {expected}"


async def settle(seconds: float = 0.0) -> None:
    """Let every runnable task run (under autojump, also lets timers up to ``seconds`` fire)."""
    await trio.sleep(seconds)
    await trio.testing.wait_all_tasks_blocked()


__all__ = [
    "Crash",
    "CrashOnNth",
    "Down",
    "InjectedCrash",
    "Lifecycle",
    "Probe",
    "Recording",
    "Sleep",
    "Stop",
    "assert_restarts",
    "crash_on_nth",
    "inject_fault",
    "restarts",
    "running",
    "settle",
    "wait_restarts",
    "wait_state",
]
