"""Crash injection into the real channel tree: one named actor fails on purpose.

``inject(tree, name, plan)`` rebuilds a supervision tree (``actors.tree.build_tree``'s,
unchanged otherwise) so that every incarnation of the actor ``name`` is its real self
plus a fault: while ``plan.remaining`` lasts, each incarnation raises ``InjectedCrash``
``plan.after_s`` seconds after it started (0: in ``started`` itself). The actor's own
code is untouched; the fault is added by subclassing its class at run time.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import trio

from supervisors import ChildSpec, Supervisor
from supervisors.actor import Actor, ActorContext
from supervisors.testing import InjectedCrash


@attrs.define
class CrashPlan:
    remaining: int  # how many incarnations still crash; a large number = forever
    after_s: float = 5.0
    crashed: int = 0
    started: int = 0


def inject(tree: Supervisor, name: str, plan: CrashPlan) -> Supervisor:
    children = [attrs.evolve(spec, factory=_wrap(spec, name, plan)) for spec in tree.children]
    return Supervisor(
        tree.name,
        children,
        strategy=tree.strategy,
        max_restarts=tree.max_restarts,
        within_seconds=tree.within_seconds,
        backoff=tree.backoff,
    )


def _wrap(spec: ChildSpec, name: str, plan: CrashPlan) -> Callable[[], Actor | Supervisor]:
    factory = spec.factory

    def make() -> Actor | Supervisor:
        child = factory()
        if isinstance(child, Supervisor):
            return inject(child, name, plan)
        if spec.name == name:
            _make_faulty(child, plan)
        return child

    return make


def _make_faulty(actor: Actor, plan: CrashPlan) -> None:
    real = type(actor)

    async def started(self: Actor, ctx: ActorContext) -> None:
        plan.started += 1
        if plan.remaining <= 0:
            await real.started(self, ctx)
            return
        plan.remaining -= 1
        if plan.after_s <= 0:
            plan.crashed += 1
            raise InjectedCrash(f"{ctx.name} fails at start (injected)")
        await real.started(self, ctx)
        ctx.start_soon(_crash_later, ctx.name, plan)

    actor.__class__ = type(f"Faulty{real.__name__}", (real,), {"started": started})


async def _crash_later(name: str, plan: CrashPlan) -> None:
    await trio.sleep(plan.after_s)
    plan.crashed += 1
    raise InjectedCrash(f"{name} fails while running (injected)")
