"""``Supervisor``: starts children in order, restarts them by strategy, gives up past intensity.

``ChildSpec`` says how to start one child (an ``Actor`` or another ``Supervisor``).

One task per supervisor incarnation takes decisions, reading child exits, due restarts and stop
requests from one channel, so two simultaneous crashes never interleave half-done restarts.
Each child runs in its own task (``_run_child``) that reports its end and never raises into the
supervisor: a failure is data the supervisor decides about, not an exception that unwinds it.
The registry, the failure clock and the system tasks belong to the runtime, reached through
its ``Host`` protocol.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Callable, Sequence
from typing import Any, Literal

import attrs
import trio

from supervisors.actor import Actor
from supervisors.cell import ActorCell, describe, is_cancellation
from supervisors.errors import SupervisorEscalated
from supervisors.host import Host
from supervisors.node import BACKOFF, FAILED, RUNNING, STARTING, STOPPED, STOPPING, Node
from supervisors.policy import Backoff, Restart, RestartIntensity, Strategy

log = logging.getLogger("supervisors")


def _positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value!r}")


def _factory(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not callable(value):
        raise TypeError(f"ChildSpec.{attribute.name} must be callable, got {value!r}")


def _name(_: object, attribute: attrs.Attribute[str], value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"ChildSpec.{attribute.name} must be a non-empty str, got {value!r}")


@attrs.frozen
class ChildSpec:
    """How a supervisor starts one child; ``factory`` builds a fresh instance on every start.

    ``significant`` (transient and temporary children only, as in OTP): when the child ends
    and will not be restarted, a supervisor with ``auto_shutdown`` stops its other children
    and ends normally. Its parent then decides by the supervisor's own restart type: a
    permanent supervisor comes back, built afresh by its factory.
    """

    name: str = attrs.field(validator=_name)
    factory: Callable[[], Actor | Supervisor] = attrs.field(validator=_factory)
    restart: Restart = attrs.field(
        default=Restart.PERMANENT, validator=attrs.validators.instance_of(Restart)
    )
    shutdown_timeout: float = attrs.field(default=5.0, validator=_positive)
    significant: bool = False

    def __attrs_post_init__(self) -> None:
        if self.significant and self.restart is Restart.PERMANENT:
            raise ValueError(
                f"ChildSpec {self.name!r}: a permanent child cannot be significant (it is "
                "always restarted, so its end never ends the supervisor)"
            )


class _Run:
    """One start of one child: what was started, its cancel scope, how and when it ended."""

    __slots__ = (
        "done",
        "ended_at",
        "error",
        "node",
        "reason",
        "scope",
        "settled",
        "spec",
        "started_at",
        "stop_requested",
        "target",
        "up",
    )

    def __init__(self, spec: ChildSpec, node: Node, now: float) -> None:
        self.spec = spec
        self.node = node
        self.target: ActorCell | Supervisor | None = None
        self.scope = trio.CancelScope()
        self.up = False
        self.settled = trio.Event()  # up, or ended before getting up
        self.done = trio.Event()
        self.error: BaseException | None = None
        self.reason = ""
        self.started_at = now
        self.ended_at = now
        self.stop_requested = False

    def mark_up(self) -> None:
        self.up = True
        self.settled.set()

    def request_stop(self) -> None:
        self.stop_requested = True
        if self.target is not None:
            self.target.request_stop()


# What the deciding loop reads: a stop request, a child's end, a restart that came due.
_Event = (
    tuple[Literal["stop"]] | tuple[Literal["exit"], _Run] | tuple[Literal["due"], list[str], int]
)


class Supervisor:
    """A node that owns an ordered list of children and restarts them when they fail.

    ``strategy`` says which siblings restart with a failed child; more than ``max_restarts``
    restarts inside ``within_seconds`` make it stop its children in reverse start order and
    raise ``SupervisorEscalated`` to its own parent. ``backoff`` delays each restart.
    ``auto_shutdown``: once up, the end of a significant child (``ChildSpec.significant``)
    that is not restarted stops the other children and ends this supervisor normally
    (OTP's ``any_significant``): how a supervisor asks to be built again by its factory.
    """

    def __init__(
        self,
        name: str,
        children: Sequence[ChildSpec],
        strategy: Strategy = Strategy.ONE_FOR_ONE,
        max_restarts: int = 3,
        within_seconds: float = 5.0,
        backoff: Backoff = Backoff(),  # frozen, so sharing the default is safe
        *,
        auto_shutdown: bool = False,
        rng: random.Random | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"Supervisor name must be a non-empty str, got {name!r}")
        children = tuple(children)
        for i, spec in enumerate(children):
            if not isinstance(spec, ChildSpec):
                raise TypeError(f"supervisor {name!r}: children[{i}] is {spec!r}, not a ChildSpec")
        names = [spec.name for spec in children]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"supervisor {name!r}: duplicate child names {duplicates}")
        if not isinstance(strategy, Strategy):
            raise TypeError(f"supervisor {name!r}: strategy must be a Strategy, got {strategy!r}")
        if not isinstance(backoff, Backoff):
            raise TypeError(f"supervisor {name!r}: backoff must be a Backoff, got {backoff!r}")
        self.name = name
        self.children = children
        self.strategy = strategy
        self.max_restarts = max_restarts
        self.within_seconds = within_seconds
        self.backoff = backoff
        self.auto_shutdown = auto_shutdown
        self._intensity = RestartIntensity(max_restarts, within_seconds)
        self._rng = rng or random.Random()
        self._order = {spec.name: i for i, spec in enumerate(children)}
        self._specs = {spec.name: spec for spec in children}
        # State of one incarnation; a restarted supervisor is a fresh instance from its factory.
        self._node: Node | None = None
        self._host: Host | None = None
        self._nursery: trio.Nursery | None = None
        self._events_send: trio.MemorySendChannel[_Event] | None = None
        self._runs: dict[str, _Run | None] = {}
        self._pending: dict[str, int] = {}  # child name -> token of its scheduled restart
        self._attempts: dict[str, int] = {}  # consecutive restarts, for backoff
        self._token = 0
        self._stop_requested = False
        self._shut_down_by: str | None = None  # the significant child whose end ended us
        self._escalation: SupervisorEscalated | None = None
        self.exit_reason: str | None = None

    # -- life of this supervisor -----------------------------------------------------------------

    def attach(self, node: Node, host: Host) -> None:
        """Bind this incarnation to its registry slot and its runtime, before ``run``.

        Called by whoever starts it: the runtime for the root, the parent supervisor otherwise.
        """
        if self._node is not None:
            raise TypeError(
                f"supervisor {self.name!r} was already started once: a ChildSpec factory must "
                "build a fresh Supervisor on every call, and a root serves one Runtime"
            )
        self._node = node
        self._host = host

    @property
    def host(self) -> Host:
        if self._host is None:
            raise RuntimeError(f"supervisor {self.name!r} runs inside a Runtime")
        return self._host

    def request_stop(self) -> None:
        """Stop every child in reverse start order, then end (graceful)."""
        if self._stop_requested:
            return
        self._stop_requested = True
        if self._events_send is not None:
            self._post(("stop",))

    def _post(self, event: _Event) -> None:
        # After this incarnation ended there is nothing left to decide: drop the event.
        if self._events_send is None:
            return
        with contextlib.suppress(trio.ClosedResourceError, trio.BrokenResourceError):
            self._events_send.send_nowait(event)

    async def run(self, on_up: Callable[[], None]) -> None:
        """Start the children in order, call ``on_up``, supervise until stopped or escalated."""
        assert self._node is not None, "a Supervisor runs inside a Runtime"
        # Each child has at most one live run (one exit event) and one pending restart timer.
        send, receive = trio.open_memory_channel[_Event](4 * len(self.children) + 8)
        self._events_send = send
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                await self._start_initial()
                if self._escalation is None:
                    if not self._stop_requested:
                        self._node.set_state(RUNNING)
                    # Even when a stop came first: whoever waits for us (nursery.start) gets
                    # its answer instead of an error, and sees the stop through run() returning.
                    on_up()
                    if self._stop_requested:
                        await self._stop_all()  # the stop came before the loop could see it
                    else:
                        await self._loop(receive)
                nursery.cancel_scope.cancel()  # pending restart timers
        except BaseException as exc:
            self.exit_reason = (
                "killed" if is_cancellation(exc) else "error: " + ": ".join(describe(exc))
            )
            raise
        finally:
            send.close()
            self._nursery = None
        if self._escalation is not None:
            self.exit_reason = "error: " + ": ".join(describe(self._escalation))
            raise self._escalation
        self.exit_reason = "shutdown"

    async def _start_initial(self) -> None:
        for spec in self.children:
            while not self._stop_requested:
                run = await self._start(spec)
                if run.up:
                    break
                self._runs[spec.name] = None  # its exit event is now stale
                if not self._should_restart(run):
                    break
                if not self._intensity.allow(trio.current_time()):
                    await self._escalate(run)
                    return
                delay = self._next_delay(run)
                if delay > 0:
                    run.node.set_state(BACKOFF)
                    await trio.sleep(delay)
                run.node.restarts += 1

    async def _loop(self, receive: trio.MemoryReceiveChannel[_Event]) -> None:
        while True:
            match await receive.receive():
                case ("stop",):
                    await self._stop_all()
                    return
                case ("exit", run):
                    await self._on_exit(run)
                case ("due", names, token):
                    await self._restart(names, token)
            if self._escalation is not None or self._shut_down_by is not None:
                return

    # -- starting and stopping one child ---------------------------------------------------

    async def _start(self, spec: ChildSpec) -> _Run:
        """Start ``spec`` and wait until it is up or has already ended."""
        assert self._nursery is not None, "children start inside run()"
        node = self.host.claim(spec.name, parent=self.name)
        run = _Run(spec, node, trio.current_time())
        self._runs[spec.name] = run
        node.incarnation += 1
        node.started_at = run.started_at
        node.set_state(STARTING)
        self._nursery.start_soon(self._run_child, run)
        await run.settled.wait()
        return run

    async def _run_child(self, run: _Run) -> None:
        node = run.node
        host = self.host
        try:
            with run.scope:
                instance = run.spec.factory()
                if isinstance(instance, Supervisor):
                    node.kind = "supervisor"
                    instance.attach(node, host)
                    node.supervisor = instance
                    run.target = instance
                elif isinstance(instance, Actor):
                    node.kind = "actor"
                    cell = ActorCell(node, instance, host, host.ref(node.name))
                    node.cell = cell
                    node.accepts = cell.accepts
                    run.target = cell
                else:
                    raise TypeError(
                        f"child {node.name!r}: factory returned {instance!r}, "
                        "not an Actor or a Supervisor"
                    )
                if run.stop_requested:
                    run.target.request_stop()
                await run.target.run(run.mark_up)
        except BaseException as exc:
            run.error = exc
            if not isinstance(exc, Exception):
                raise  # cancellation from outside, KeyboardInterrupt: not ours to absorb
        finally:
            self._finish(run)

    def _finish(self, run: _Run) -> None:
        """Record how a run ended, tell monitors, and report to the deciding loop."""
        node = run.node
        now = trio.current_time()
        run.ended_at = now
        target = run.target
        if run.error is not None and not is_cancellation(run.error):
            kind, message = describe(run.error)
            run.reason = f"error: {kind}: {message}"
        elif target is not None and target.exit_reason is not None:
            run.reason = target.exit_reason
        else:
            run.reason = "killed" if run.scope.cancelled_caught else "normal"
        if run.reason.startswith("error"):
            assert run.error is not None
            kind, message = describe(run.error)
            node.failures += 1
            # The snapshot keeps the last failure; the log keeps every one, with its traceback.
            log.error(
                "%s failed (incarnation %s): %s: %s",
                node.name,
                node.incarnation,
                kind,
                message,
                exc_info=run.error,
            )
            node.last_failure = {"type": kind, "message": message, "at": self.host.wall_time()}
            node.set_state(FAILED)
        else:
            node.set_state(STOPPED)
        if node.cell is target:
            node.cell = None
        node.started_at = None
        node.notify_down(run.reason)
        run.settled.set()
        run.done.set()
        self._post(("exit", run))

    async def _stop_run(self, run: _Run) -> None:
        """Graceful stop within the child's shutdown_timeout, then cancellation."""
        if not run.done.is_set():
            run.node.set_state(STOPPING)
            run.request_stop()
            with trio.move_on_after(run.spec.shutdown_timeout):
                await run.done.wait()
            if not run.done.is_set():
                run.scope.cancel()
                await run.done.wait()
        if self._runs.get(run.spec.name) is run:
            self._runs[run.spec.name] = None

    async def _stop_all(self) -> None:
        """Cancel pending restarts, then stop running children in reverse start order."""
        for name in self._pending:
            self.host.node(name).set_state(STOPPED)
        self._pending.clear()
        for spec in reversed(self.children):
            run = self._runs.get(spec.name)
            if run is not None:
                await self._stop_run(run)

    # -- deciding about an exit ----------------------------------------------------------------

    def _should_restart(self, run: _Run) -> bool:
        restart = run.spec.restart
        if restart is Restart.TEMPORARY:
            return False
        if restart is Restart.TRANSIENT:
            return run.reason.startswith("error")
        return True

    def _next_delay(self, run: _Run) -> float:
        name = run.spec.name
        if run.ended_at - run.started_at >= self.backoff.reset_after:
            self._attempts[name] = 0
        attempt = self._attempts.get(name, 0)
        self._attempts[name] = attempt + 1
        return self.backoff.delay(attempt, self._rng)

    async def _on_exit(self, run: _Run) -> None:
        name = run.spec.name
        if self._runs.get(name) is not run:
            return  # we stopped it ourselves, or a newer run replaced it
        self._runs[name] = None
        if self._stop_requested:
            return
        if not self._should_restart(run):
            if self.auto_shutdown and run.spec.significant:
                log.info("%s ended (%s): %s shuts down", name, run.reason, self.name)
                self._shut_down_by = name
                self._stop_requested = True
                await self._stop_all()
            return
        if not self._intensity.allow(trio.current_time()):
            await self._escalate(run)
            return
        delay = self._next_delay(run)
        group = self._group(name)
        # Siblings go down in reverse start order before anyone comes back up.
        for sibling in reversed(group):
            sibling_run = self._runs.get(sibling)
            if sibling_run is not None:
                await self._stop_run(sibling_run)
        # A temporary sibling is stopped with the group but never started again.
        restartable = [
            n for n in group if n == name or self._specs[n].restart is not Restart.TEMPORARY
        ]
        self._token += 1
        token = self._token
        for n in restartable:
            self._pending[n] = token
            self.host.node(n).set_state(BACKOFF)
        if delay <= 0:
            await self._restart(restartable, token)
        else:
            assert self._nursery is not None, "exits are decided inside run()"
            self._nursery.start_soon(self._due_after, delay, restartable, token)

    def _group(self, failed: str) -> list[str]:
        """The children restarting with ``failed``, in start order (the failed one included)."""
        if self.strategy is Strategy.ONE_FOR_ONE:
            return [failed]
        first = 0 if self.strategy is Strategy.ONE_FOR_ALL else self._order[failed]
        return [
            spec.name
            for spec in self.children[first:]
            if spec.name == failed
            or self._runs.get(spec.name) is not None
            or spec.name in self._pending
        ]

    async def _due_after(self, delay: float, names: list[str], token: int) -> None:
        await trio.sleep(delay)
        self._post(("due", names, token))

    async def _restart(self, names: list[str], token: int) -> None:
        for name in names:  # already in start order
            if self._pending.get(name) != token or self._stop_requested:
                continue
            del self._pending[name]
            self.host.node(name).restarts += 1
            await self._start(self._specs[name])

    async def _escalate(self, run: _Run) -> None:
        self._escalation = SupervisorEscalated(
            self.name, self.max_restarts, self.within_seconds, f"{run.spec.name}: {run.reason}"
        )
        await self._stop_all()

    def __repr__(self) -> str:
        return f"<Supervisor {self.name!r} {self.strategy.value}>"
