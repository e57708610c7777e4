"""``Host``: the runtime as the parts it hosts see it.

``Runtime`` builds supervisors and actor incarnations and hands each of them itself; they talk
back to it only through this protocol, never through ``Runtime``'s private members, and none
of them imports ``supervisors.runtime`` (which imports them all). ``Runtime`` implements it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from supervisors.node import Node
from supervisors.ref import ActorRef


class Host(Protocol):
    # The public surface: what an actor reaches through ``ctx.runtime``.

    def ref(self, name: str) -> ActorRef:
        """A ref to the actor ``name`` at any depth of the tree."""
        ...

    async def wait_for(self, name: str, timeout: float | None = None) -> ActorRef:
        """Wait until ``name`` is running, then return its ref."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """The whole tree as plain data."""
        ...

    def shutdown(self) -> None:
        """Stop the whole tree gracefully."""
        ...

    # What supervisors and incarnations need from their host (not for applications).

    def node(self, name: str) -> Node:
        """The registry slot of ``name`` (created on first use)."""
        ...

    def claim(self, name: str, parent: str) -> Node:
        """The slot of ``name`` for a child of ``parent``; ``DuplicateName`` if another
        supervisor already owns that name."""
        ...

    def wall_time(self) -> float:
        """The time stamped on failures in snapshots."""
        ...

    def spawn_system(self, fn: Callable[..., Awaitable[object]], *args: object) -> None:
        """Run ``fn(*args)`` in the runtime's own task group (dropped once the tree ended)."""
        ...
