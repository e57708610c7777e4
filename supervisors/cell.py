"""One incarnation of an actor: its bounded mailbox, its message loop and its task group.

The loop drains the mailbox with ``receive_nowait`` and only awaits when it is empty: each
awaited channel operation is a scheduler pass, so draining keeps throughput near a raw channel.
When the incarnation ends, whatever is left in the mailbox is settled: pending calls fail at
once (nobody hangs on a dead actor) and casts are counted as dropped.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import trio

from supervisors.actor import Actor, ActorContext, Down
from supervisors.calls import Call
from supervisors.errors import ActorDied, ActorError, ActorUnavailable, MessageRefused
from supervisors.node import FAILED, RUNNING, Node

if TYPE_CHECKING:
    from supervisors.runtime import Runtime


def describe(exc: BaseException) -> tuple[str, str]:
    """The innermost meaningful exception of a (possibly nested) group: (type name, message)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return type(exc).__name__, str(exc)


def is_cancellation(exc: BaseException) -> bool:
    """True for Cancelled, alone or as the only kind inside (nested) exception groups."""
    if isinstance(exc, BaseExceptionGroup):
        return all(is_cancellation(e) for e in exc.exceptions)
    return isinstance(exc, trio.Cancelled)


def check_declaration(actor: Actor, name: str) -> tuple[int, tuple[type, ...]]:
    """Validate ``mailbox_size`` and ``accepts``; a bad declaration is a clear error at start."""
    cls = type(actor).__name__
    size = getattr(actor, "mailbox_size", None)
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise ValueError(
            f"actor {name!r} ({cls}): mailbox_size must be an int > 0 (mailboxes are bounded), "
            f"got {size!r}"
        )
    accepts = getattr(actor, "accepts", None)
    if (
        not isinstance(accepts, tuple)
        or not accepts
        or not all(isinstance(t, type) for t in accepts)
    ):
        raise ValueError(
            f"actor {name!r} ({cls}): accepts must be a non-empty tuple of types, got {accepts!r}"
        )
    return size, accepts


class ActorCell:
    """The running incarnation behind a ``Node``; refs reach it through ``node.cell``."""

    def __init__(self, node: Node, actor: Actor, runtime: Runtime, self_ref: object) -> None:
        self.name = node.name
        self.node = node
        self.actor = actor
        self.incarnation = node.incarnation
        self.capacity, self.accepts = check_declaration(actor, node.name)
        self._send, self._recv = trio.open_memory_channel[object](self.capacity)
        self.accepting = True
        self.peak = 0
        self._sent = 0
        self._taken = 0
        self._current: Call | None = None
        self._nursery: trio.Nursery | None = None
        self._stop_requested = False
        self.exit_reason: str | None = None  # "normal" | "shutdown" once ended gracefully
        self._runtime = runtime
        self.ctx = ActorContext(self, runtime, self_ref)  # type: ignore[arg-type]

    # -- sending side (called by ActorRef in the sender's task) --------------------------------

    def refuse(self, msg: object) -> MessageRefused:
        accepted = ", ".join(t.__name__ for t in self.accepts)
        return MessageRefused(
            f"actor {self.name!r} does not accept {type(msg).__qualname__} (accepts: {accepted})"
        )

    def put_nowait(self, item: object) -> None:
        try:
            self._send.send_nowait(item)
        except trio.WouldBlock:
            self.peak = self.capacity
            raise
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            raise self.gone() from None
        self._sent += 1
        depth = self._sent - self._taken
        if depth > self.peak:
            self.peak = depth

    async def put(self, item: object) -> None:
        """Wait for mailbox space (the caller bounds the wait with its own deadline)."""
        self.peak = self.capacity
        try:
            await self._send.send(item)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            raise self.gone() from None
        self._sent += 1

    def gone(self) -> ActorError:
        reason = self.exit_reason
        if reason is None or reason == "killed" or reason.startswith("error"):
            return ActorDied(f"actor {self.name!r} (incarnation {self.incarnation}) died")
        return ActorUnavailable(f"actor {self.name!r} stopped ({self.exit_reason})")

    def deliver_system(self, msg: object) -> None:
        """Deliver a runtime notice (``Down``) without blocking the notifier."""
        if not self.accepting:
            return
        try:
            self._send.send_nowait(msg)
            self._sent += 1
        except trio.WouldBlock:
            # A full mailbox must not lose a Down nor stall the notifier: wait in a system task.
            self._runtime._spawn_system(self._deliver_later, msg)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            pass

    async def _deliver_later(self, msg: object) -> None:
        try:
            await self._send.send(msg)
            self._sent += 1
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            pass

    def statistics(self) -> dict[str, int]:
        stats = self._send.statistics()
        return {
            "depth": stats.current_buffer_used,
            "capacity": self.capacity,
            "peak": self.peak,
            "blocked_senders": stats.tasks_waiting_send,
        }

    # -- the incarnation's life ------------------------------------------------------------

    def start_soon(self, fn: Callable[..., Awaitable[object]], *args: object) -> None:
        if self._nursery is None:
            raise RuntimeError(f"actor {self.name!r}: start_soon called after the actor ended")
        self._nursery.start_soon(fn, *args)

    def request_stop(self, normal: bool = False) -> None:
        """Stop after the current message; refuse new ones from now on."""
        if self._stop_requested:
            return
        self._stop_requested = True
        self.exit_reason = "normal" if normal else "shutdown"
        self.accepting = False
        # Closing our only send handle wakes an idle loop with EndOfChannel.
        self._send.close()
        # The loop will not take another message: settle the queued ones now, not at the end.
        self._settle_queued()

    async def run(self, on_up: Callable[[], None]) -> None:
        """started(), then messages until stopped; stopping() only on a graceful stop."""
        error: BaseException | None = None
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                await self.actor.started(self.ctx)
                if not self._stop_requested:
                    self.node.set_state(RUNNING)
                on_up()
                await self._serve()
                nursery.cancel_scope.cancel()  # background tasks live and die with the loop
            self._nursery = None
            await self.actor.stopping()
        except BaseException as exc:
            error = exc
            raise
        finally:
            self._nursery = None
            self._settle_leftovers(error)

    async def _serve(self) -> None:
        recv = self._recv
        handle = self.actor.handle
        stats = self.node.stats
        perf = time.perf_counter
        while not self._stop_requested:
            try:
                item = recv.receive_nowait()
            except trio.WouldBlock:
                try:
                    item = await recv.receive()
                except trio.EndOfChannel:
                    return
            except trio.EndOfChannel:
                return
            self._taken += 1
            t0 = perf()
            if type(item) is Call:
                self._current = item
                try:
                    result = await handle(item.msg)
                except BaseException as exc:
                    self._dying()
                    item.fail(ActorDied(f"actor {self.name!r} crashed handling this call: {exc!r}"))
                    raise
                self._current = None
                if not item.reply(result):
                    stats.late_replies += 1
            else:
                try:
                    await handle(item)
                except BaseException:
                    self._dying()
                    raise
            stats.observe(perf() - t0)

    def _dying(self) -> None:
        """From the moment it crashes, refuse messages and stop looking alive to ``wait_for``."""
        self.accepting = False
        if not self._stop_requested:
            self.node.set_state(FAILED)

    def _settle_leftovers(self, error: BaseException | None) -> None:
        self.accepting = False
        if error is not None and is_cancellation(error):
            self.exit_reason = "killed"
        elif error is not None:
            kind, message = describe(error)
            self.exit_reason = f"error: {kind}: {message}"
        elif self.exit_reason is None:
            self.exit_reason = "normal"
        self._send.close()
        if self._current is not None:
            self._current.fail(self.gone())
            self._current = None
        self._settle_queued()
        self._recv.close()

    def _settle_queued(self) -> None:
        """Fail queued calls (nobody waits on a dead mailbox) and count dropped casts."""
        stats = self.node.stats
        while True:
            try:
                item = self._recv.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                return
            if type(item) is Call:
                item.fail(self.gone())
            elif type(item) is not Down:
                stats.dropped += 1

    def __repr__(self) -> str:
        return f"<ActorCell {self.name!r} #{self.incarnation}>"
