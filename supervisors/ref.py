"""``ActorRef``: how everyone talks to an actor, by name, across its restarts.

A ref holds the registry slot (``Node``), not an incarnation, and looks the current incarnation
up on every send. The fast paths (room in the mailbox) never touch the scheduler.
"""

from __future__ import annotations

import math

import trio

from supervisors.calls import Call
from supervisors.cell import ActorCell
from supervisors.errors import ActorUnavailable, CallTimeout, MessageRefused
from supervisors.node import Node


class ActorRef:
    """A stable handle on the actor called ``name``."""

    __slots__ = ("_node", "name")

    def __init__(self, node: Node) -> None:
        self._node = node
        self.name = node.name

    def _target(self, msg: object) -> ActorCell:
        node = self._node
        cell = node.cell
        if cell is None or not cell.accepting:
            accepts = node.accepts
            if accepts is not None and not isinstance(msg, accepts):
                raise MessageRefused(
                    f"actor {self.name!r} does not accept {type(msg).__qualname__} "
                    f"(accepts: {', '.join(t.__name__ for t in accepts)})"
                )
            if node.kind == "supervisor":
                raise ActorUnavailable(f"{self.name!r} is a supervisor, not an actor")
            raise ActorUnavailable(f"actor {self.name!r} is not running (state: {node.state})")
        if not isinstance(msg, cell.accepts):
            raise cell.refuse(msg)
        return cell

    def cast_nowait(self, msg: object) -> None:
        """Enqueue ``msg`` now; ``trio.WouldBlock`` when the mailbox is full."""
        self._target(msg).put_nowait(msg)

    async def cast(self, msg: object, timeout: float | None = None) -> None:
        """Enqueue ``msg``, waiting for mailbox space at most ``timeout`` seconds.

        Returns without yielding when there is room, like ``cast_nowait``.
        """
        cell = self._target(msg)
        try:
            cell.put_nowait(msg)
            return
        except trio.WouldBlock:
            pass
        with trio.move_on_after(math.inf if timeout is None else timeout) as scope:
            await cell.put(msg)
            return
        assert scope.cancelled_caught
        raise CallTimeout(f"cast to actor {self.name!r}: mailbox still full after {timeout:g}s")

    async def call(self, msg: object, timeout: float = 5.0) -> object:
        """Send ``msg`` and wait for the reply; the deadline covers enqueue and reply.

        Raises ``CallTimeout`` on expiry (a reply arriving later is dropped and counted),
        ``ActorDied`` if the callee dies before replying, ``ActorUnavailable`` if it is not running.
        """
        cell = self._target(msg)
        stats = self._node.stats
        request = Call(msg)
        with trio.move_on_after(timeout) as scope:
            try:
                try:
                    cell.put_nowait(request)
                except trio.WouldBlock:
                    await cell.put(request)
                result = await request.wait()
            except BaseException as exc:
                if not isinstance(exc, trio.Cancelled):
                    stats.calls_died += 1
                raise
            stats.calls_ok += 1
            return result
        assert scope.cancelled_caught
        stats.calls_timeout += 1
        raise CallTimeout(f"call to actor {self.name!r} got no reply within {timeout:g}s")

    def __repr__(self) -> str:
        return f"ActorRef({self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ActorRef) and other._node is self._node

    def __hash__(self) -> int:
        return hash(self.name)
