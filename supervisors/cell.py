"""One incarnation of an actor: its bounded mailbox, its message loop and its task group.

The loop drains the mailbox with ``receive_nowait`` and only awaits when it is empty: each
awaited channel operation is a scheduler pass, so draining keeps throughput near a raw channel.
When the incarnation ends, whatever is left in the mailbox is settled: pending calls fail at
once (nobody hangs on a dead actor) and casts are counted as dropped.
"""

from __future__ import annotations

import contextlib
import time
from bisect import bisect_left
from collections.abc import Awaitable, Callable

import trio

from supervisors.actor import Actor, ActorContext
from supervisors.calls import Call
from supervisors.errors import ActorDied, ActorError, ActorUnavailable, MessageRefused
from supervisors.host import Host
from supervisors.mailbox import Mailbox
from supervisors.node import FAILED, HANDLE_BUCKETS, RUNNING, Down, Node
from supervisors.ref import ActorRef


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


# How many messages a busy actor handles before its counters reach the metrics.
FLUSH_EVERY = 256


class ActorCell:
    """The running incarnation behind a ``Node``; refs reach it through ``node.cell``."""

    def __init__(self, node: Node, actor: Actor, runtime: Host, self_ref: ActorRef) -> None:
        self.name = node.name
        self.node = node
        self.actor = actor
        self.incarnation = node.incarnation
        self.capacity, self.accepts = check_declaration(actor, node.name)
        self.mailbox = Mailbox(self.capacity)
        self.accepting = True  # False from the moment it crashes or is asked to stop
        self._current: Call | None = None
        self._nursery: trio.Nursery | None = None
        self._stop_requested = False
        self.exit_reason: str | None = None  # "normal" | "shutdown" once ended gracefully
        self._host = runtime
        self.ctx = ActorContext(self, runtime, self_ref)

    # -- sending side (called by ActorRef in the sender's task) --------------------------------

    def refuse(self, msg: object) -> MessageRefused:
        accepted = ", ".join(t.__name__ for t in self.accepts)
        return MessageRefused(
            f"actor {self.name!r} does not accept {type(msg).__qualname__} (accepts: {accepted})"
        )

    async def put(self, item: object) -> None:
        """Wait for mailbox space (the caller bounds the wait with its own deadline)."""
        try:
            await self.mailbox.put(item)
        except trio.ClosedResourceError:
            raise self.gone() from None

    def gone(self) -> ActorError:
        """The error for someone whose message this incarnation will never handle."""
        reason = self.exit_reason
        if reason is None or reason == "killed" or reason.startswith("error"):
            return ActorDied(f"actor {self.name!r} (incarnation {self.incarnation}) died")
        return ActorUnavailable(f"actor {self.name!r} stopped ({self.exit_reason})")

    def deliver_system(self, msg: object) -> None:
        """Deliver a runtime notice (``Down``) without blocking the notifier."""
        if not self.accepting:
            return
        try:
            self.mailbox.put_nowait(msg)
        except trio.WouldBlock:
            # A full mailbox must not lose a Down nor stall the notifier: wait in a system task.
            self._host.spawn_system(self._deliver_later, msg)
        except trio.ClosedResourceError:
            pass

    async def _deliver_later(self, msg: object) -> None:
        with contextlib.suppress(trio.ClosedResourceError):
            await self.mailbox.put(msg)

    def statistics(self) -> dict[str, int]:
        mailbox = self.mailbox
        return {
            "depth": len(mailbox),
            "capacity": mailbox.capacity,
            "peak": mailbox.peak,
            "blocked_senders": mailbox.blocked_senders,
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
        # Closing wakes an idle loop with EndOfChannel and fails blocked senders.
        self.mailbox.close()
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
        # The hot loop. Counters live in locals and are flushed into the node's stats whenever
        # the mailbox runs dry, every FLUSH_EVERY messages, and when the loop ends: an attribute
        # update per message costs as much as the mailbox itself. One clock read per message:
        # while draining, the end of one message is the start of the next.
        mailbox = self.mailbox
        get_nowait = mailbox.get_nowait
        handle = self.actor.handle
        stats = self.node.stats
        counts = stats.handle_counts
        first_bound = HANDLE_BUCKETS[0]
        perf = time.perf_counter
        flush_every = FLUSH_EVERY
        call_type = Call
        handled = fast = 0
        busy = 0.0
        started = perf()
        try:
            while True:  # a stop closes the mailbox: getting then raises EndOfChannel
                try:
                    item = get_nowait()
                except trio.WouldBlock:
                    if handled:
                        stats.handled += handled
                        stats.handle_sum += busy
                        counts[0] += fast
                        handled = fast = 0
                        busy = 0.0
                    try:
                        item = await mailbox.get()
                    except trio.EndOfChannel:
                        return
                    started = perf()
                except trio.EndOfChannel:
                    return
                if type(item) is call_type:
                    self._current = item
                    try:
                        result = await handle(item.msg)
                    except BaseException as exc:
                        self._dying()
                        item.fail(
                            ActorDied(f"actor {self.name!r} crashed handling this call: {exc!r}")
                        )
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
                ended = perf()
                elapsed = ended - started
                started = ended
                busy += elapsed
                if elapsed < first_bound:
                    fast += 1
                else:
                    counts[bisect_left(HANDLE_BUCKETS, elapsed)] += 1
                handled += 1
                if handled == flush_every:
                    stats.handled += handled
                    stats.handle_sum += busy
                    counts[0] += fast
                    handled = fast = 0
                    busy = 0.0
                    # A handler that never awaits and keeps its own mailbox full (casting to
                    # itself) must still let other tasks run and cancellation in.
                    await trio.lowlevel.checkpoint()
                    started = perf()
        finally:
            stats.handled += handled
            stats.handle_sum += busy
            counts[0] += fast

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
        self.mailbox.close()
        if self._current is not None:
            self._current.fail(self.gone())
            self._current = None
        self._settle_queued()

    def _settle_queued(self) -> None:
        """Fail queued calls (nobody waits on a dead mailbox) and count dropped casts."""
        stats = self.node.stats
        while True:
            try:
                item = self.mailbox.get_nowait()
            except (trio.WouldBlock, trio.EndOfChannel):
                return
            if type(item) is Call:
                item.fail(self.gone())
            elif type(item) is not Down:
                stats.dropped += 1

    def __repr__(self) -> str:
        return f"<ActorCell {self.name!r} #{self.incarnation}>"
