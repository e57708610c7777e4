"""What an actor author writes: an ``Actor`` subclass, and the ``ActorContext`` it is given.

An actor handles one message at a time from a bounded mailbox. Everything it owns lives in one
incarnation: a crash throws the instance away and its supervisor builds a fresh one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from supervisors.host import Host
from supervisors.node import Incarnation
from supervisors.ref import ActorRef


class Actor:
    """Base class of every actor. Subclasses declare ``mailbox_size`` and ``accepts``.

    ``mailbox_size`` bounds the mailbox (there is no unbounded mailbox); ``accepts`` lists the
    message types the actor handles, and a message of any other type is refused at the sender
    with ``MessageRefused``. Both may be overridden per instance (the runtime reads them from the
    instance), which is handy for test probes.
    """

    mailbox_size: ClassVar[int]
    accepts: ClassVar[tuple[type, ...]]

    async def started(self, ctx: ActorContext) -> None:
        """Runs before the first message; may start background tasks with ``ctx.start_soon``."""

    async def handle(self, msg: Any) -> object:
        """Handle one message; the return value is the reply to ``call``; raising crashes."""
        raise NotImplementedError(f"{type(self).__name__}.handle is not implemented")

    async def stopping(self) -> None:
        """Runs on a graceful stop, after the message loop and background tasks have ended."""


class ActorContext:
    """An incarnation's handle on the runtime: its name, its ref, its task group, monitors."""

    __slots__ = ("_cell", "incarnation", "name", "runtime", "self_ref")

    def __init__(self, cell: Incarnation, runtime: Host, self_ref: ActorRef) -> None:
        self._cell = cell
        self.name: str = cell.name
        self.incarnation: int = cell.incarnation
        self.runtime = runtime
        self.self_ref = self_ref

    def start_soon(self, fn: Callable[..., Awaitable[object]], *args: object) -> None:
        """Start a background task that lives and dies with this incarnation.

        An exception in it crashes the actor, exactly like an exception in ``handle``.
        """
        self._cell.start_soon(fn, *args)

    def ref(self, name: str) -> ActorRef:
        """A ref to any actor of the tree, by name (same as ``runtime.ref``)."""
        return self.runtime.ref(name)

    def monitor(self, name: str) -> None:
        """Get ``Down`` whenever an incarnation of ``name`` ends, for this incarnation's life."""
        self.runtime.node(name).watch(self._cell)

    def stop(self) -> None:
        """Stop this actor normally after the current message (``transient`` won't restart)."""
        self._cell.request_stop(normal=True)
