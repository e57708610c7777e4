"""What an actor author writes: an ``Actor`` subclass, the ``ActorContext`` it is given, ``Down``.

An actor handles one message at a time from a bounded mailbox. Everything it owns lives in one
incarnation: a crash throws the instance away and its supervisor builds a fresh one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

if TYPE_CHECKING:
    from supervisors.cell import ActorCell
    from supervisors.ref import ActorRef
    from supervisors.runtime import Runtime


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

    def __init__(self, cell: ActorCell, runtime: Runtime, self_ref: ActorRef) -> None:
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
        self.runtime._monitor(name, self._cell)

    def stop(self) -> None:
        """Stop this actor normally after the current message (``transient`` won't restart)."""
        self._cell.request_stop(normal=True)
