"""``Runtime``: runs a supervision tree, names its nodes, snapshots it, and shuts it down.

The runtime owns the registry (name -> ``Node``), a system nursery for its own small tasks
(delayed ``Down`` deliveries, the shutdown budget) and a cancel scope around the whole tree
that the global shutdown budget cancels when a graceful stop takes too long. The supervisors
and actor incarnations it hosts reach it through ``supervisors.host.Host``, which it implements.
"""

from __future__ import annotations

import math
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import trio
from prometheus_client import CollectorRegistry

from supervisors.calls import CallTimer
from supervisors.errors import CallTimeout, DuplicateName, SupervisorEscalated
from supervisors.metrics import RuntimeCollector
from supervisors.node import RUNNING, STOPPED, Node, Supervising
from supervisors.ref import ActorRef
from supervisors.supervisor import Supervisor

_ROOT_PARENT = "<runtime>"


class Runtime:
    """Runs ``root`` and everything under it; see ``run``, ``shutdown``, ``ref``, ``snapshot``."""

    def __init__(
        self,
        root: Supervisor,
        *,
        shutdown_budget: float = 20.0,
        metrics_registry: CollectorRegistry | None = None,
        wall_clock: Callable[[], float] | None = None,
    ) -> None:
        if not isinstance(root, Supervisor):
            raise TypeError(f"Runtime root must be a Supervisor, got {root!r}")
        if not shutdown_budget > 0:
            raise ValueError(f"shutdown_budget must be > 0, got {shutdown_budget!r}")
        self.root = root
        self.shutdown_budget = shutdown_budget
        # Timestamps in snapshots (last_failure.at); Trio's clock unless told otherwise, e.g.
        # ``lambda: clock.now().timestamp()`` for wall time that still follows a MockClock.
        self._wall = wall_clock or trio.current_time
        self._nodes: dict[str, Node] = {}
        self._refs: dict[str, ActorRef] = {}
        self._system: trio.Nursery | None = None
        self._tree_scope = trio.CancelScope()
        self._timer = CallTimer()
        self._started = False
        self._shutdown = False
        self._finished = trio.Event()
        self.metrics_registry = (
            metrics_registry if metrics_registry is not None else CollectorRegistry()
        )
        self.metrics_registry.register(RuntimeCollector(self._nodes))

    # -- running ---------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Start the tree in order; ``task_status.started()`` once every initial child is up.

        Returns after ``shutdown()`` has stopped the tree; raises ``SupervisorEscalated`` if the
        root supervisor gives up.
        """
        if self._started:
            raise RuntimeError("Runtime.run may be called once")
        self._started = True
        root = self.root
        node = self.claim(root.name, parent=_ROOT_PARENT)
        node.kind = "supervisor"
        node.supervisor = root
        node.incarnation = 1
        node.started_at = trio.current_time()
        root.attach(node, self)
        escalation: SupervisorEscalated | None = None
        try:
            escalation = await self._run_tree(root, node, task_status)
        finally:
            self._system = None
            self._finished.set()
        if escalation is not None:
            raise escalation

    async def _run_tree(
        self, root: Supervisor, node: Node, task_status: trio.TaskStatus[None]
    ) -> SupervisorEscalated | None:
        escalation: SupervisorEscalated | None = None
        async with trio.open_nursery() as system:
            self._system = system
            system.start_soon(self._timer.run)
            if self._shutdown:
                system.start_soon(self._enforce_budget)
            with self._tree_scope:
                try:
                    await root.run(task_status.started)
                except SupervisorEscalated as exc:
                    escalation = exc
            node.started_at = None
            if escalation is not None:
                node.failures += 1
                node.last_failure = {
                    "type": type(escalation).__name__,
                    "message": str(escalation),
                    "at": self.wall_time(),
                }
            node.set_state(STOPPED if escalation is None else "failed")
            system.cancel_scope.cancel()
        return escalation

    def shutdown(self) -> None:
        """Graceful stop: reverse start order, per-child timeouts, the whole within the budget.

        Call it from inside Trio (a task, a signal handler task); it returns at once.
        """
        if self._shutdown:
            return
        self._shutdown = True
        self.root.request_stop()
        self.spawn_system(self._enforce_budget)

    async def _enforce_budget(self) -> None:
        await trio.sleep(self.shutdown_budget)
        self._tree_scope.cancel()

    async def serve_signals(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """SIGTERM/SIGINT -> ``shutdown()``; a second signal cancels the tree at once.

        Start it with ``nursery.start`` to know the handlers are installed. Returns once
        ``run`` has returned, so it never holds a nursery open after the tree has stopped.
        """
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            task_status.started()
            async with trio.open_nursery() as nursery:

                async def until_finished() -> None:
                    await self._finished.wait()
                    nursery.cancel_scope.cancel()

                nursery.start_soon(until_finished)
                async for _ in signals:
                    if self._shutdown:
                        self._tree_scope.cancel()
                    else:
                        self.shutdown()

    # -- what the tree's parts use (``supervisors.host.Host``) --------------------------------

    def spawn_system(self, fn: Callable[..., Awaitable[object]], *args: object) -> None:
        """Run ``fn(*args)`` in the runtime's own task group; dropped once the tree ended."""
        if self._system is not None:
            self._system.start_soon(fn, *args)

    def wall_time(self) -> float:
        """The time stamped on failures (``wall_clock``, Trio's clock by default)."""
        return self._wall()

    def node(self, name: str) -> Node:
        """The registry slot of ``name`` (state, incarnation, restarts, counters); created on
        first use, so a ref or a monitor may name an actor before it starts."""
        node = self._nodes.get(name)
        if node is None:
            if not isinstance(name, str) or not name:
                raise ValueError(f"actor name must be a non-empty str, got {name!r}")
            node = self._nodes[name] = Node(name)
        return node

    def claim(self, name: str, parent: str) -> Node:
        """The slot of ``name`` for a child of ``parent``; names are unique across the tree."""
        node = self.node(name)
        if node.parent is not None and node.parent != parent:
            where = "the root" if node.parent == _ROOT_PARENT else f"supervisor {node.parent!r}"
            raise DuplicateName(
                f"name {name!r} is already used under {where}; names are unique across the tree"
            )
        node.parent = parent
        return node

    def ref(self, name: str) -> ActorRef:
        """A ref to the actor ``name`` at any depth; valid before it starts and across restarts."""
        ref = self._refs.get(name)
        if ref is None:
            ref = self._refs[name] = ActorRef(self.node(name), self._timer)
        return ref

    async def wait_for(self, name: str, timeout: float | None = None) -> ActorRef:
        """Wait until ``name`` is running, then return its ref; ``CallTimeout`` on expiry."""
        node = self.node(name)
        with trio.move_on_after(math.inf if timeout is None else timeout):
            while node.state != RUNNING:
                await node.changed()
            return self.ref(name)
        raise CallTimeout(f"{name!r} was not running within {timeout:g}s (state: {node.state})")

    # -- introspection ---------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The whole tree as plain data, ready for ``json.dumps``."""
        node = self._nodes.get(self.root.name)
        if node is None:
            return self._describe_unstarted(self.root.name, "supervisor", self.root)
        return self._describe(node, self.root)

    def _describe(self, node: Node, supervisor: Supervising | None) -> dict[str, Any]:
        now = trio.current_time() if self._started else 0.0
        entry: dict[str, Any] = {
            "name": node.name,
            "kind": node.kind,
            "strategy": None,
            "state": node.state,
            "incarnation": node.incarnation,
            "restarts": node.restarts,
            "failures": node.failures,
            "last_failure": dict(node.last_failure) if node.last_failure else None,
            "uptime_s": (now - node.started_at) if node.started_at is not None else 0.0,
        }
        if node.kind == "actor":
            cell = node.cell
            if cell is not None:
                entry["mailbox"] = cell.statistics()
            else:
                entry["mailbox"] = {"depth": 0, "capacity": 0, "peak": 0, "blocked_senders": 0}
            return entry
        supervisor = node.supervisor or supervisor
        if supervisor is not None:
            entry["strategy"] = supervisor.strategy.value
            entry["children"] = [
                self._describe(self._nodes[spec.name], None)
                if spec.name in self._nodes
                else self._describe_unstarted(spec.name, None, None)
                for spec in supervisor.children
            ]
        else:
            entry["children"] = []
        return entry

    def _describe_unstarted(
        self, name: str, kind: str | None, supervisor: Supervising | None
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": name,
            "kind": kind,
            "strategy": supervisor.strategy.value if supervisor else None,
            "state": "idle",
            "incarnation": 0,
            "restarts": 0,
            "failures": 0,
            "last_failure": None,
            "uptime_s": 0.0,
        }
        if supervisor is not None:
            entry["children"] = [
                self._describe_unstarted(spec.name, None, None) for spec in supervisor.children
            ]
        return entry
