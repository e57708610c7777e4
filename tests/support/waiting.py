"""Waiting for a condition instead of sleeping "long enough".

A fixed sleep used as synchronisation is either too short on a loaded machine (a flaky
test) or too long everywhere (a slow suite). These poll a condition with a deadline and,
when the deadline passes, fail saying what was awaited and what was last seen.

- ``await wait_until(what, probe, within=...)``: in a Trio test, on Trio's clock. Under
  ``MockClock(autojump_threshold=0)`` the steps are simulated time. This polls in small
  steps rather than using ``trio.fail_after``: under autojump a bare deadline is the next
  thing to jump to whenever every task waits, including on a worker thread, so it could pass
  in no real time at all; a small step bounds each jump.
- ``wait_for(what, probe, timeout=...)``: from plain (synchronous) code, on the real clock,
  for what another process or thread does (a daemon's log line, a row in its database).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import trio

T = TypeVar("T")


async def wait_until(
    what: str,
    probe: Callable[[], T | Awaitable[T]],
    *,
    within: float = 10.0,
    step: float = 0.02,
    show: Callable[[], object] | None = None,
) -> T:
    """Poll ``probe`` every ``step`` seconds until it returns something truthy; return that.

    Each step is a pass of the loop: over simulated minutes or hours, take a coarser
    ``step`` (the chaos tests poll every 0.25 simulated seconds).

    ``probe`` may be async (an HTTP request to another process, say). Fails after ``within``
    seconds of Trio's clock, naming ``what`` and the last value seen (or what ``show()``
    says then, if given).
    """
    started = trio.current_time()
    while True:
        value = probe()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        elapsed = trio.current_time() - started
        if elapsed > within:
            seen = show() if show is not None else value
            raise AssertionError(f"not within {within:g} s: {what} (last seen: {seen!r})")
        await trio.sleep(step)


def wait_for(
    what: str,
    probe: Callable[[], T],
    timeout: float,
    every: float = 0.05,
    show: Callable[[], object] | None = None,
) -> T:
    """Poll ``probe`` on the real clock until it returns something truthy; return that.

    Fails after ``timeout`` seconds, naming ``what`` and the last value seen (or ``show()``).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            seen = show() if show is not None else value
            raise AssertionError(
                f"timed out after {timeout:g} s waiting for {what} (last seen: {seen!r})"
            )
        time.sleep(every)
