"""``ActorRef``: how everyone talks to an actor, by name, across its restarts.

A ref holds the registry slot (``Node``), not an incarnation, and looks the current incarnation
up on every send. The fast paths (room in the mailbox) never touch the scheduler, and a call's
deadline is kept by the runtime's ``CallTimer`` rather than a cancel scope per call.
"""

from __future__ import annotations

import math

import trio

from supervisors.calls import Call, CallTimer
from supervisors.errors import ActorError, ActorUnavailable, CallTimeout, MessageRefused
from supervisors.node import Incarnation, Node


class ActorRef:
    """A stable handle on the actor called ``name``."""

    __slots__ = ("_node", "_timer", "name")

    def __init__(self, node: Node, timer: CallTimer) -> None:
        self._node = node
        self._timer = timer
        self.name = node.name

    def _unavailable(self, msg: object) -> ActorError:
        """Why a message cannot be sent right now (the actor is not accepting)."""
        node = self._node
        accepts = node.accepts
        if accepts is not None and not isinstance(msg, accepts):
            return MessageRefused(
                f"actor {self.name!r} does not accept {type(msg).__qualname__} "
                f"(accepts: {', '.join(t.__name__ for t in accepts)})"
            )
        if node.kind == "supervisor":
            return ActorUnavailable(f"{self.name!r} is a supervisor, not an actor")
        return ActorUnavailable(f"actor {self.name!r} is not running (state: {node.state})")

    def _target(self, msg: object) -> Incarnation:
        cell = self._node.cell
        if cell is None or not cell.accepting:
            raise self._unavailable(msg)
        if not isinstance(msg, cell.accepts):
            raise cell.refuse(msg)
        return cell

    def cast_nowait(self, msg: object) -> None:
        """Enqueue ``msg`` now; ``trio.WouldBlock`` when the mailbox is full.

        ``ActorUnavailable`` when the actor is not running, ``MessageRefused`` for a wrong type.
        """
        cell = self._node.cell
        if cell is None or not cell.accepting:
            raise self._unavailable(msg)
        if not isinstance(msg, cell.accepts):
            raise cell.refuse(msg)
        cell.mailbox.put_nowait(msg)

    async def cast(self, msg: object, timeout: float | None = None) -> None:
        """Enqueue ``msg``, waiting for mailbox space at most ``timeout`` seconds.

        Returns without yielding when there is room, like ``cast_nowait``; ``CallTimeout`` when
        the mailbox stays full.
        """
        cell = self._node.cell
        if cell is None or not cell.accepting:
            raise self._unavailable(msg)
        if not isinstance(msg, cell.accepts):
            raise cell.refuse(msg)
        try:
            cell.mailbox.put_nowait(msg)
            return
        except trio.WouldBlock:
            pass
        with trio.move_on_after(math.inf if timeout is None else timeout):
            await cell.put(msg)
            return
        raise CallTimeout(f"cast to actor {self.name!r}: mailbox still full after {timeout:g}s")

    async def call(self, msg: object, timeout: float | None = 5.0) -> object:
        """Send ``msg`` and wait for the reply; the deadline covers enqueue and reply.

        ``timeout=None`` waits as long as it takes (the callee dying still ends the wait).

        Raises ``CallTimeout`` on expiry (a reply arriving later is dropped and counted),
        ``ActorDied`` if the callee dies before replying, ``ActorUnavailable`` if it is not
        running, ``MessageRefused`` for a wrong type.
        """
        cell = self._target(msg)
        stats = self._node.stats
        request = Call(msg)
        try:
            try:
                cell.mailbox.put_nowait(request)
                remaining = timeout
            except trio.WouldBlock:
                # Slow path: wait for space under a cancel scope, then for the reply with what
                # is left of the deadline.
                deadline = math.inf if timeout is None else trio.current_time() + timeout
                with trio.CancelScope(deadline=deadline) as scope:
                    await cell.put(request)
                if scope.cancelled_caught:
                    raise CallTimeout("mailbox full") from None
                remaining = None if timeout is None else deadline - trio.current_time()
            if remaining is not None:
                self._timer.add(request, remaining)
            result = await request.wait()
        except CallTimeout:
            stats.calls_timeout += 1
            raise CallTimeout(
                f"call to actor {self.name!r} got no reply within {timeout}s"
            ) from None
        except ActorError:
            stats.calls_died += 1
            raise
        stats.calls_ok += 1
        return result

    def __repr__(self) -> str:
        return f"ActorRef({self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ActorRef) and other._node is self._node

    def __hash__(self) -> int:
        return hash(self.name)
