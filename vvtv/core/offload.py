"""Running slow synchronous work without blocking the event loop, and inline when simulated.

In production, ``run_sync`` hands the work to a worker thread (``trio.to_thread``), so the
event loop keeps airing while a report is computed or a folder is listed. Under a mock
clock that jumps whenever every task is blocked, a task waiting for a thread looks
blocked: the clock would leap past every deadline while the thread works. Simulations
therefore run the same work inline (``inline()``); the context variable is inherited by
every task the simulation starts.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import trio

T = TypeVar("T")

_INLINE: contextvars.ContextVar[bool] = contextvars.ContextVar("vvtv_offload_inline", default=False)


async def run_sync(fn: Callable[..., T], *args: object) -> T:
    """``fn(*args)`` in a worker thread, or inline inside ``inline()``."""
    if _INLINE.get():
        await trio.lowlevel.checkpoint()
        return fn(*args)
    return await trio.to_thread.run_sync(fn, *args)


@contextmanager
def inline() -> Iterator[None]:
    """Run offloaded work inline in this context (and the tasks it starts): for simulations."""
    token = _INLINE.set(True)
    try:
        yield
    finally:
        _INLINE.reset(token)
